"""Generate ``tests/vectors/bundle_kat.json``: known-answer vectors for docs/bundle-format.md.

    PYTHONPATH=src python tests/vectors/make_bundle_kat.py          # rewrite the file
    PYTHONPATH=src python tests/vectors/make_bundle_kat.py --check  # exit 1 if stale

Every random input is pinned: the Ed25519 key comes from a fixed seed, and the salts
and the bundle id come from ``pinned_rng`` (SHAKE-256 of a seed and a call counter).
The age ciphertext cannot be pinned (rage adds a random grease stanza and a random
file key), so the vectors pin the **container plaintext** byte for byte, and carry
one sample ``.rrb`` that must decrypt, with the fixed test identity, to exactly that
container. The sample is kept across regenerations while it still decrypts to the
current container, so regenerating does not churn the file.

All keys here are test keys, published on purpose; the case is fictional.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.signing

from reprisal_report.bundle import age_layer
from reprisal_report.bundle.container import AttachmentSource
from reprisal_report.bundle.manifest import commit
from reprisal_report.bundle.padding import padme
from reprisal_report.bundle.seal import PreparedBundle, prepare_bundle
from reprisal_report.identity.fingerprint import key_id

KAT_PATH = Path(__file__).resolve().parent / "bundle_kat.json"

RNG_SEED = b"reprisal-report/bundle-kat/1 rng"
AUTHOR_SEED = hashlib.sha256(b"reprisal-report/bundle-kat/1 author").digest()
COORDINATOR_SEED = hashlib.sha256(b"reprisal-report/bundle-kat/1 coordinator").digest()
# A test identity, generated once with pyrage and published here on purpose.
AGE_IDENTITY = "AGE-SECRET-KEY-1D5NK7CFTT0UKXAPJZVK4T7REJW47VRAW79ZUYME5GPPSGPVVYW2Q5M3RUC"
AGE_RECIPIENT = "age17n006atxzlasf7q3zvksrfadarjajuxl5v7kc3d0yh986ptwks4sumsu2w"
ORG_ID = "kat-example-org"
CASE_ID = "kat2case2id2test"
PREVIOUS_BUNDLE_ID = None
NOW = datetime(2026, 11, 23, 22, 41, 7, tzinfo=UTC)

# A normalised case (the form model.case.validate_case returns). Fictional.
RECORD: dict[str, Any] = {
    "title": "Travel ban after briefing the Committee against Torture",
    "incident_date": "2026-03",
    "country": "BI",
    "location": "Bujumbura, Rohero",
    "cooperation": [
        {"mechanism": "treaty_body", "body": "CAT", "mode": "briefing", "date": "2026-02"}
    ],
    "acts": ["threat", "travel_ban"],
    "perpetrators": [{"type": "state_security", "name": "Colonel Example"}],
    "victims": [
        {
            "name": "Example Person",
            "aliases": ["EP", "Ex. P."],
            "kind": "human_rights_defender",
            "contact": "+257 79 000 000",
            "organisation": "Example NGO",
        }
    ],
    "narrative": "What happened, in the reporter's words.\nSecond line: ümlaut, 日本.\n",
    "consent": "share_un_confidential",
    "risk": "medium",
}
ATTACHMENTS: list[tuple[str, bytes]] = [
    ("empty.txt", b""),
    ("note.txt", b"hello, bundle\n"),
    ("pattern.bin", bytes(i % 251 for i in range(1000))),
]
PADME_LENGTHS = [
    0,
    1,
    2,
    7,
    8,
    9,
    15,
    16,
    17,
    100,
    129,
    1000,
    4096,
    4097,
    65536,
    65537,
    1_000_000,
    1 << 30,
    (1 << 30) + 1,
    5_000_000_000,
]


def pinned_rng(seed: bytes) -> Callable[[int], bytes]:
    """Deterministic bytes: call i returns SHAKE-256(seed || u64be(i)) truncated to n."""
    counter = 0

    def rng(n: int) -> bytes:
        nonlocal counter
        out = hashlib.shake_256(seed + counter.to_bytes(8, "big")).digest(n)
        counter += 1
        return out

    return rng


def _source(name: str, data: bytes) -> AttachmentSource:
    return AttachmentSource(
        name, len(data), hashlib.sha256(data).hexdigest(), lambda: io.BytesIO(data)
    )


def prepare() -> tuple[PreparedBundle, nacl.signing.SigningKey]:
    author = nacl.signing.SigningKey(AUTHOR_SEED)
    coordinator = nacl.signing.SigningKey(COORDINATOR_SEED)
    prepared = prepare_bundle(
        record=RECORD,
        attachments=[_source(name, data) for name, data in ATTACHMENTS],
        signing_key=author,
        author_key_id=key_id(bytes(author.verify_key)),
        recipient_key_ids=[key_id(bytes(coordinator.verify_key))],
        org_id=ORG_ID,
        case_id=CASE_ID,
        previous_bundle_id=PREVIOUS_BUNDLE_ID,
        now=NOW,
        rng=pinned_rng(RNG_SEED),
    )
    return prepared, author


def decrypt_sample(rrb: bytes) -> bytes:
    out = io.BytesIO()
    age_layer.decrypt(io.BytesIO(rrb), out, [AGE_IDENTITY])
    return out.getvalue()


def seal_sample(container: bytes) -> bytes:
    out = io.BytesIO()
    age_layer.encrypt(io.BytesIO(container), out, [AGE_RECIPIENT])
    return out.getvalue()


def commitment_vectors() -> list[dict[str, Any]]:
    rng = pinned_rng(b"reprisal-report/bundle-kat/1 commitments")
    cases: list[tuple[str, Any]] = [
        ("title", "Travel ban"),
        ("victims[0].aliases[1]", "Ex. P."),
        ("narrative", 'ümlaut "quoted" \\ back\nslash\u2028'),
        ("incident_date", ""),
        ("acts[10]", None),
        ("risk", 7),
    ]
    out = []
    for path, value in cases:
        salt = rng(32)
        out.append(
            {
                "path": path,
                "value": value,
                "salt": base64.b64encode(salt).decode("ascii"),
                "commitment": commit(path, value, salt),
            }
        )
    return out


def build_kat(existing_rrb: str | None = None) -> dict[str, Any]:
    prepared, author = prepare()
    with prepared.container() as stream:
        container = stream.read()
    manifest = prepared.manifest
    rrb: bytes | None = None
    if existing_rrb is not None:
        candidate = base64.b64decode(existing_rrb)
        try:
            if decrypt_sample(candidate) == container:
                rrb = candidate
        except Exception:  # a stale or broken sample is simply replaced
            rrb = None
    if rrb is None:
        rrb = seal_sample(container)
    return {
        "description": (
            "Known-answer vectors for the reprisal-report sealed bundle format "
            "(docs/bundle-format.md). Test keys only; the case is fictional."
        ),
        "generator": "tests/vectors/make_bundle_kat.py",
        "padme": [[n, padme(n)] for n in PADME_LENGTHS],
        "commitments": commitment_vectors(),
        "bundle": {
            "inputs": {
                "rng": "call i returns SHAKE-256(rng_seed || u64be(i)), first n bytes; "
                "salts in field order, then the bundle id",
                "rng_seed": RNG_SEED.hex(),
                "author_signing_seed": AUTHOR_SEED.hex(),
                "author_public_key": bytes(author.verify_key).hex(),
                "author_key_id": manifest.author,
                "recipient_key_id": manifest.recipients[0],
                "age_identity": AGE_IDENTITY,
                "age_recipient": AGE_RECIPIENT,
                "org_id": ORG_ID,
                "case_id": CASE_ID,
                "previous_bundle_id": PREVIOUS_BUNDLE_ID,
                "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "record": RECORD,
                "attachments": [{"name": n, "data_hex": d.hex()} for n, d in ATTACHMENTS],
            },
            "outputs": {
                "bundle_id": manifest.bundle_id,
                "file_name": manifest.file_name,
                "manifest": prepared.manifest_bytes.decode("utf-8"),
                "manifest_sha256": hashlib.sha256(prepared.manifest_bytes).hexdigest(),
                "signature": prepared.signature.hex(),
                "record": prepared.record_bytes.decode("utf-8"),
                "salts": prepared.salts_bytes.decode("utf-8"),
                "container_length": len(container),
                "container_sha256": hashlib.sha256(container).hexdigest(),
                "container_hex": container.hex(),
            },
            "sample_rrb_base64": base64.b64encode(rrb).decode("ascii"),
        },
    }


def dump(kat: dict[str, Any]) -> str:
    return json.dumps(kat, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def existing_sample() -> str | None:
    if not KAT_PATH.exists():
        return None
    sample = json.loads(KAT_PATH.read_text(encoding="utf-8"))["bundle"]["sample_rrb_base64"]
    return sample if isinstance(sample, str) else None


def main(argv: list[str]) -> int:
    text = dump(build_kat(existing_sample()))
    if "--check" in argv:
        current = KAT_PATH.read_text(encoding="utf-8") if KAT_PATH.exists() else ""
        return 0 if current == text else 1
    KAT_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
