"""The public example cards in keys/: deterministic, valid, and free of private keys.

keys/make_example_keys.py derives every example key from a published seed and writes
public cards only. These tests regenerate the cards and compare bytes, verify them with
the project's real parsers, and scan every file under keys/ for private key material;
the scanner itself is tested against planted secrets, since a scan that cannot fail
proves nothing.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import nacl.signing
import pyrage
import pytest

from reprisal_report.errors import CardExpired, CardInvalid
from reprisal_report.identity import idcard, orgcard
from reprisal_report.identity.fingerprint import fingerprint, fingerprints_match, key_id

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / "keys"
GENERATOR = KEYS / "make_example_keys.py"
CARD_FILES = (
    "example-org.card.json",
    "example-coordinator.id.json",
    "example-reporter.id.json",
    "example-auditor.id.json",
)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def load_generator() -> ModuleType:
    """Import keys/make_example_keys.py (not a package) without writing bytecode into keys/."""
    spec = importlib.util.spec_from_file_location("make_example_keys", GENERATOR)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


gen = load_generator()


# --- (a) deterministic ---------------------------------------------------------------


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-B", str(GENERATOR), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CARD_FILES)
    for name in CARD_FILES:
        assert (tmp_path / name).read_bytes() == (KEYS / name).read_bytes(), name
    assert f"root fingerprint: {readme_fingerprint()}" in result.stdout


def test_build_is_deterministic_in_process() -> None:
    first, second = gen.build(), gen.build()
    assert first == second
    assert sorted(first) == sorted(CARD_FILES)


def test_keys_directory_holds_only_known_files() -> None:
    names = {p.name for p in KEYS.iterdir() if p.name != "__pycache__"}
    assert names == {*CARD_FILES, "README.md", "make_example_keys.py"}


# --- (b) the cards verify with the real parsers ----------------------------------------


def readme_fingerprint() -> str:
    found = re.findall(r"root fingerprint: ((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})", read("README.md"))
    assert found, "keys/README.md does not print the example root fingerprint"
    assert len(set(found)) == 1
    return str(found[0])


def read(name: str) -> str:
    return (KEYS / name).read_text(encoding="utf-8")


def test_org_card_verifies_after_matching_the_readme_fingerprint() -> None:
    data = (KEYS / "example-org.card.json").read_bytes()
    root = orgcard.parse_card(data).card.root_keys[0]
    typed = readme_fingerprint()
    # What `org join` does first: the fingerprint read aloud must name the card's root.
    assert fingerprints_match(typed, root)
    assert fingerprints_match(typed.lower().replace(" ", "-"), root)
    signed = orgcard.verify_card(data, now=NOW, pinned_roots=None)
    card = signed.card
    assert card.root_fingerprint == typed == fingerprint(root)
    assert card.root_keys == (bytes(gen.signing_key("org-root").verify_key),)
    assert card.org_id == key_id(root)
    assert card.name == "Example Org (example — never use)"
    assert (card.version, card.issued, card.expires) == (
        1,
        "2026-01-01T00:00:00Z",
        "2027-12-31T00:00:00Z",
    )
    assert card.relays == ("https://relay.example.org",)
    assert card.revoked == ()
    assert [m.role for m in card.members] == ["coordinator", "reporter", "auditor"]
    assert all("example — never use" in m.label for m in card.members)
    assert signed.raw == data
    # Also as a later `org update` would see it, against the pinned root.
    again = orgcard.verify_card(
        data, now=NOW, pinned_roots=(root,), pinned_org_id=card.org_id, pinned_version=0
    )
    assert again.card == card


def test_org_card_recipients_are_the_coordinator_age_key() -> None:
    card = orgcard.parse_card((KEYS / "example-org.card.json").read_bytes()).card
    coordinator = next(m for m in card.members if m.role == "coordinator")
    assert card.recipients == [(coordinator.key_id, gen.age_recipient("coordinator-age"))]
    # The derived identity really opens what is sealed to the published recipient.
    recipient = pyrage.x25519.Recipient.from_str(card.recipients[0][1])
    sealed = pyrage.encrypt(b"example plaintext", [recipient])
    assert pyrage.decrypt(sealed, [gen.age_identity("coordinator-age")]) == b"example plaintext"


@pytest.mark.parametrize("role", ["coordinator", "reporter", "auditor"])
def test_identity_cards_parse_and_match_the_org_card(role: str) -> None:
    ident = idcard.parse_card((KEYS / f"example-{role}.id.json").read_bytes())
    member = orgcard.parse_card((KEYS / "example-org.card.json").read_bytes()).card.member(
        ident.key_id
    )
    assert member is not None
    assert ident.role == member.role == role
    assert ident.label == member.label and "example — never use" in ident.label
    assert ident.signing_key == member.signing_key == bytes(gen.signing_key(role).verify_key)
    assert ident.age_recipient == member.age_recipient
    assert (ident.age_recipient is not None) == (role == "coordinator")
    assert ident.created == "2026-01-01T00:00:00Z"


def test_example_cards_reject_the_wrong_now_and_the_wrong_root() -> None:
    data = (KEYS / "example-org.card.json").read_bytes()
    with pytest.raises(CardExpired):
        orgcard.verify_card(data, now=datetime(2027, 12, 31, tzinfo=UTC), pinned_roots=None)
    other = bytes(gen.signing_key("reporter").verify_key)
    with pytest.raises(CardInvalid, match="pinned root"):
        orgcard.verify_card(data, now=NOW, pinned_roots=(other,))


# --- (c) no private key material under keys/ ---------------------------------------------

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
MARKERS: dict[str, re.Pattern[str]] = {
    # Every age identity file spells its keys this way.
    "age identity": re.compile(r"AGE-SECRET-KEY"),
    "age identity (any case)": re.compile(rf"age-secret-key-1[{BECH32}]{{20,}}", re.IGNORECASE),
    # PEM, OpenSSH and OpenPGP private key headers.
    "private key header": re.compile(r"PRIVATE KEY"),
    "minisign secret key header": re.compile(r"untrusted comment:[^\n]*secret key", re.IGNORECASE),
    # base64 of minisign's secret key blob prefix: "Ed" + "Sc"/"\0\0" (kdf) + "B2".
    "minisign secret key blob": re.compile(r"RWRTY0Iy|RWQAAEIy"),
}
B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{40,}")
HEX_TOKEN = re.compile(r"[0-9A-Fa-f]{64,}")
B32_TOKEN = re.compile(r"[A-Za-z2-7]{51,}")


def example_secrets() -> dict[str, bytes]:
    """Every example seed and every 64-byte Ed25519 secret key (seed || public key)."""
    secrets: dict[str, bytes] = {}
    for name in gen.SEED_NAMES:
        seed = gen.seed(name)
        secrets[f"seed {name!r}"] = seed
        public = bytes(nacl.signing.SigningKey(seed).verify_key)
        secrets[f"ed25519 secret key {name!r}"] = seed + public
    assert len(secrets) == 2 * len(gen.SEED_NAMES) == 10
    return secrets


SECRETS = example_secrets()


def _b64decode(chunk: str) -> bytes:
    if len(chunk) % 4 == 1:  # cannot end a base64 text; the last character is noise
        chunk = chunk[:-1]
    return base64.b64decode(chunk + "=" * (-len(chunk) % 4))


def _b32decode(chunk: str) -> bytes:
    while len(chunk) % 8 in (1, 3, 6):  # lengths that cannot end a base32 text
        chunk = chunk[:-1]
    return base64.b32decode(chunk + "=" * (-len(chunk) % 8))


def _decodings(text: str) -> Iterator[bytes]:
    """Bytes under every hex, base64 (standard or URL-safe) and base32 run, padded or
    not, at every alignment: a secret at any offset of a longer encoding is found too."""
    for token in HEX_TOKEN.findall(text):
        for shift in range(2):
            chunk = token[shift:]
            yield binascii.unhexlify(chunk[: len(chunk) // 2 * 2])
    for token in B64_TOKEN.findall(text):
        token = token.replace("-", "+").replace("_", "/")
        for shift in range(4):
            yield _b64decode(token[shift:])
    for token in B32_TOKEN.findall(text):
        for shift in range(8):
            yield _b32decode(token[shift:].upper())


def scan_for_private_keys(directory: Path) -> list[str]:
    """Findings, as ``"<relative path>: <what>"``, for every file under ``directory``."""
    findings: list[str] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        where = path.relative_to(directory).as_posix()
        data = path.read_bytes()
        text = data.decode("latin-1")  # one character per byte: nothing is lost
        for what, pattern in MARKERS.items():
            if pattern.search(text):
                findings.append(f"{where}: {what}")
        decoded = list(_decodings(text))
        for what, secret in SECRETS.items():
            if secret in data:
                findings.append(f"{where}: raw {what}")
            if any(secret in blob for blob in decoded):
                findings.append(f"{where}: encoded {what}")
    return findings


def test_no_file_under_keys_holds_private_key_material() -> None:
    assert scan_for_private_keys(KEYS) == []


def test_generated_output_holds_no_private_key_material(tmp_path: Path) -> None:
    gen.write(tmp_path)
    assert scan_for_private_keys(tmp_path) == []


@dataclass(frozen=True)
class Plant:
    file: str
    make: Callable[[], bytes]
    # Replace the file (True) or append to it (False).
    replace: bool = False


def _coordinator_age_identity() -> str:
    return str(gen.age_identity("coordinator-age"))


def _seed(name: str) -> bytes:
    return bytes(gen.seed(name))


def _secret_key(name: str) -> bytes:
    return SECRETS[f"ed25519 secret key {name!r}"]


PLANTS = {
    "age identity": Plant(
        "example-coordinator.id.json", lambda: _coordinator_age_identity().encode()
    ),
    "age identity, lower case": Plant(
        "notes.txt", lambda: _coordinator_age_identity().lower().encode(), replace=True
    ),
    "pem header": Plant(
        "root.pem", lambda: b"-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n", replace=True
    ),
    "openssh header": Plant("README.md", lambda: b"-----BEGIN OPENSSH PRIVATE KEY-----\n"),
    "minisign header": Plant(
        "minisign.key",
        lambda: b"untrusted comment: minisign encrypted secret key\nRWRTY0IyAAAA\n",
        replace=True,
    ),
    "raw seed": Plant("example-org.card.json", lambda: _seed("org-root")),
    "hex seed in a json field": Plant(
        "example-reporter.id.json",
        lambda: (
            (KEYS / "example-reporter.id.json")
            .read_bytes()
            .replace(b"Example reporter", _seed("reporter").hex().encode())
        ),
        replace=True,
    ),
    "upper-case hex seed": Plant("README.md", lambda: _seed("auditor").hex().upper().encode()),
    "base64 of a 64-byte secret key": Plant(
        "extra.json", lambda: base64.b64encode(_secret_key("coordinator")), replace=True
    ),
    "url-safe unpadded base64 seed": Plant(
        "make_example_keys.py",
        lambda: b"\n# " + base64.urlsafe_b64encode(_seed("org-root")).rstrip(b"=") + b"\n",
    ),
    "base64 seed at an odd offset": Plant(
        "README.md", lambda: b"\n" + base64.b64encode(b"\x00" + _seed("coordinator-age")) + b"\n"
    ),
    "lower-case base32 seed after other text": Plant(
        "README.md", lambda: b"xyz" + base64.b32encode(_seed("reporter")).lower()
    ),
    "padded base64 seed in a json string": Plant(
        "example-auditor.id.json",
        lambda: b'{"note":"' + base64.b64encode(_seed("auditor")) + b'"}',
        replace=True,
    ),
    "hex of a 64-byte secret key at an odd offset": Plant(
        "README.md", lambda: b"\nf" + _secret_key("org-root").hex().encode() + b"\n"
    ),
    "base32 of a 64-byte secret key": Plant(
        "old/auditor.txt", lambda: base64.b32encode(_secret_key("auditor")), replace=True
    ),
}


@pytest.mark.parametrize("plant", PLANTS.values(), ids=PLANTS.keys())
def test_scanner_catches_a_planted_secret(plant: Plant, tmp_path: Path) -> None:
    copy = tmp_path / "keys"
    shutil.copytree(KEYS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert scan_for_private_keys(copy) == []  # so the finding below is the plant's
    target = copy / plant.file
    target.parent.mkdir(parents=True, exist_ok=True)
    before = b"" if plant.replace or not target.exists() else target.read_bytes()
    target.write_bytes(before + plant.make())
    findings = scan_for_private_keys(copy)
    assert findings, f"the scanner missed a planted {plant.file}"
    assert all(f.startswith(f"{plant.file}: ") for f in findings)
