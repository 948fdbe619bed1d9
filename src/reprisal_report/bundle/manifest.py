"""The signed manifest: what a bundle claims, bound to its author by Ed25519.

The manifest names the bundle, its org, case, author and recipients, lists each
attachment's size and SHA-256, and carries one **salted commitment per case field**:

    commitment = hex(SHA-256(COMMITMENT_DOMAIN || salt || path || 0x00 || canonical(value)))

with a fresh 32-byte random salt per field. This is the construction of SD-JWT's
salted disclosures (RFC 9901, "Selective Disclosure for JWTs"): the signature covers
only the digests, so an export can later reveal some fields with their salts, and an
auditor checks them against the author's signature without learning anything about the
withheld ones — the 256-bit salt stops anyone from confirming a guessed value (a
name, a date) against its digest.

The author signs ``SIGNATURE_DOMAIN || canonical(manifest)``. The domain string keeps
a manifest signature from ever verifying as an org card, a custody event or anything
else the same key signs; the manifest names the recipients, so a bundle cannot be
re-encrypted to someone else without that showing (see ``check_addressed``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import nacl.exceptions
import nacl.signing

from reprisal_report import clock
from reprisal_report.bundle.container import (
    MAX_ATTACHMENTS,
    MAX_MANIFEST_BYTES,
    MAX_SALTS_BYTES,
    AttachmentHeader,
)
from reprisal_report.bundle.strictjson import b64decode, b64encode, load_canonical
from reprisal_report.errors import (
    BundleKeyInvalid,
    BundleMalformed,
    BundleTampered,
    SealInputInvalid,
)
from reprisal_report.model.canonical import canonical_json

FORMAT: Final = "reprisal-report/bundle/1"
SIGNATURE_DOMAIN: Final = b"reprisal-report/manifest/1\x00"
COMMITMENT_DOMAIN: Final = b"reprisal-report/commitment/1\x00"
SALT_BYTES: Final = 32
BUNDLE_ID_BYTES: Final = 16
MAX_RECIPIENTS: Final = 64
MAX_ORG_ID_CHARS: Final = 500
BUNDLE_FILE_SUFFIX: Final = ".rrb"

MANIFEST_KEYS: Final = frozenset(
    {
        "format",
        "bundle_id",
        "org_id",
        "case_id",
        "previous_bundle_id",
        "author",
        "recipients",
        "created",
        "attachments",
        "commitments",
    }
)

# Key ids and case ids: 10 bytes as lower-case base32 (identity/fingerprint.py,
# vault/cases.py). Bundle ids: 16 random bytes as lower-case base32, unpadded.
_KEY_ID: Final = re.compile(r"[a-z2-7]{16}")
_BUNDLE_ID: Final = re.compile(r"[a-z2-7]{26}")
_HEX_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
_CREATED: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}Z")
CREATED_FORMAT: Final = "%Y-%m-%dT%HZ"
# The field-path grammar of model.case.iter_fields.
_PATH: Final = re.compile(r"[a-z_]+(?:\.[a-z_]+|\[(?:0|[1-9][0-9]*)\])*")

Random = Callable[[int], bytes]


@dataclass(frozen=True)
class Manifest:
    bundle_id: str
    org_id: str
    case_id: str
    previous_bundle_id: str | None
    author: str
    recipients: tuple[str, ...]
    created: str
    attachments: tuple[AttachmentHeader, ...]
    commitments: dict[str, str] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "bundle_id": self.bundle_id,
            "org_id": self.org_id,
            "case_id": self.case_id,
            "previous_bundle_id": self.previous_bundle_id,
            "author": self.author,
            "recipients": list(self.recipients),
            "created": self.created,
            "attachments": [a.to_dict() for a in self.attachments],
            "commitments": dict(self.commitments),
        }

    def to_bytes(self) -> bytes:
        """The exact bytes that are signed and stored: canonical JSON."""
        return canonical_json(self.to_dict())

    @property
    def file_name(self) -> str:
        return bundle_file_name(self.bundle_id)


def bundle_file_name(bundle_id: str) -> str:
    """``<bundle id>.rrb``: random, so the name says nothing about the case or author."""
    if not is_bundle_id(bundle_id):
        raise ValueError("not a bundle id")
    return bundle_id + BUNDLE_FILE_SUFFIX


def new_bundle_id(rng: Random = secrets.token_bytes) -> str:
    """128 random bits, lower-case base32 without padding (26 characters)."""
    raw = rng(BUNDLE_ID_BYTES)
    if len(raw) != BUNDLE_ID_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def is_bundle_id(text: object) -> bool:
    if not isinstance(text, str) or not _BUNDLE_ID.fullmatch(text):
        return False
    # 26 base32 characters carry 130 bits: the last two must be zero, or one id
    # would have four spellings.
    raw = base64.b32decode(text.upper() + "======")
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower() == text


def is_key_id(text: object) -> bool:
    return isinstance(text, str) and _KEY_ID.fullmatch(text) is not None


def coarse_time(moment: datetime) -> str:
    """UTC date and hour only, e.g. ``2026-11-23T22Z``.

    A precise timestamp inside every bundle would let whoever later sees a manifest
    (a coordinator's seized laptop, an auditor, an export) line a bundle up with other
    observations — an upload in a relay log, a border crossing, a curfew — and learn the
    reporter's routine. The hour is enough to order reports and to date them for the
    UN; the seconds are only a fingerprint.
    """
    if moment.tzinfo is None:
        raise ValueError("coarse_time needs an aware datetime")
    return moment.astimezone(UTC).strftime(CREATED_FORMAT)


def commit(path: str, value: object, salt: bytes) -> str:
    """The salted commitment to one case field (module docstring), as lower-case hex.

    ``path`` cannot contain NUL (its grammar forbids it) and the salt has a fixed
    length, so the concatenation is unambiguous.
    """
    if not _PATH.fullmatch(path):
        raise ValueError("commit: not a field path")
    if len(salt) != SALT_BYTES:
        raise ValueError("commit: the salt must be 32 bytes")
    message = COMMITMENT_DOMAIN + salt + path.encode("ascii") + b"\x00" + canonical_json(value)
    return hashlib.sha256(message).hexdigest()


def record_fields(record: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The case record's leaf fields, via ``model.case.iter_fields``."""
    # Imported here: model.case pulls in YAML and the vocabularies, which the
    # pure format code (and an auditor checking one disclosure) does not need.
    from reprisal_report.model.case import iter_fields

    try:
        return list(iter_fields(record))
    except (ValueError, TypeError, AttributeError):
        raise BundleMalformed("bundle case record has fields outside the case schema") from None


def build_manifest(
    *,
    record: Mapping[str, Any],
    org_id: str,
    case_id: str,
    author_key_id: str,
    recipient_key_ids: Sequence[str],
    attachments: Sequence[AttachmentHeader],
    previous_bundle_id: str | None = None,
    now: datetime | None = None,
    rng: Random = secrets.token_bytes,
    fields: Sequence[tuple[str, Any]] | None = None,
) -> tuple[Manifest, dict[str, bytes]]:
    """A new manifest and the field salts its commitments were made with.

    ``fields`` defaults to ``iter_fields(record)``; ``rng`` and ``now`` exist so the
    known-answer vectors can pin them, and nothing else should pass them.
    """
    leaves = record_fields(record) if fields is None else list(fields)
    _check_record_shape(record)
    salts: dict[str, bytes] = {}
    commitments: dict[str, str] = {}
    for path, value in leaves:
        if path in salts:
            raise SealInputInvalid(f"case field {path} appears twice")
        salt = rng(SALT_BYTES)
        if len(salt) != SALT_BYTES:
            raise ValueError("rng returned the wrong number of bytes")
        salts[path] = salt
        commitments[path] = commit(path, value, salt)
    manifest = Manifest(
        bundle_id=new_bundle_id(rng),
        org_id=org_id,
        case_id=case_id,
        previous_bundle_id=previous_bundle_id,
        author=author_key_id,
        recipients=tuple(sorted(recipient_key_ids)),
        created=coarse_time(now if now is not None else clock.now()),
        attachments=tuple(attachments),
        commitments=commitments,
    )
    # The writer checks what it wrote with the reader's rules, so a bad org id or key
    # id fails at seal time, not at a coordinator's desk weeks later.
    try:
        _validate(manifest.to_dict())
    except BundleMalformed as exc:
        raise SealInputInvalid(exc.message.replace("bundle manifest", "manifest")) from None
    return manifest, salts


def sign_manifest(signing_key: nacl.signing.SigningKey, manifest_bytes: bytes) -> bytes:
    """Ed25519 over ``SIGNATURE_DOMAIN || manifest_bytes``; 64 bytes."""
    return bytes(signing_key.sign(SIGNATURE_DOMAIN + manifest_bytes).signature)


def verify_manifest(verify_key_bytes: bytes, manifest_bytes: bytes, signature: bytes) -> None:
    """Raise :class:`BundleTampered` unless ``signature`` is the author's over the bytes."""
    if len(verify_key_bytes) != 32:
        raise BundleKeyInvalid("the author key is not an ed25519 public key")
    if len(signature) != 64:
        raise BundleMalformed("bundle signature must be 64 bytes")
    try:
        nacl.signing.VerifyKey(verify_key_bytes).verify(
            SIGNATURE_DOMAIN + manifest_bytes, signature
        )
    except (nacl.exceptions.CryptoError, ValueError):
        raise BundleTampered(
            "bundle signature does not verify with its author's key",
            hint="the bundle was altered or re-addressed, or another device made it",
        ) from None


def salts_to_bytes(salts: Mapping[str, bytes]) -> bytes:
    """The SALTS record: canonical JSON ``{path: base64(salt)}``."""
    return canonical_json({path: b64encode(salt) for path, salt in salts.items()})


def parse_salts(data: bytes) -> dict[str, bytes]:
    doc = load_canonical(data, "salts", MAX_SALTS_BYTES)
    if not isinstance(doc, dict):
        raise BundleMalformed("bundle salts are not a json object")
    salts: dict[str, bytes] = {}
    for path, text in doc.items():
        if not _PATH.fullmatch(path):
            raise BundleMalformed("bundle salts name something that is not a field path")
        salts[path] = b64decode(text, "salt", SALT_BYTES)
    return salts


def verify_commitments(
    manifest: Manifest,
    record: Mapping[str, Any],
    salts: Mapping[str, bytes],
    *,
    fields: Sequence[tuple[str, Any]] | None = None,
) -> None:
    """Every field of ``record`` matches its commitment, and every commitment a field.

    The signature covers the commitments, not the record bytes, so this is what binds
    the record to the author. It binds all of it: field paths spell out the nesting,
    and a record may hold no empty list or object (those would have no leaf to commit
    to), so one set of committed fields fits exactly one record.
    """
    leaves = record_fields(record) if fields is None else list(fields)
    _check_record_shape(record, error=BundleMalformed)
    paths = [path for path, _ in leaves]
    committed = manifest.commitments
    if len(set(paths)) != len(paths) or set(paths) != set(committed):
        raise BundleTampered("bundle case record fields differ from its signed commitments")
    if set(salts) != set(committed):
        raise BundleTampered("bundle salts do not match its signed commitments")
    for path, value in leaves:
        try:
            actual = commit(path, value, salts[path])
        except (TypeError, ValueError):
            raise BundleMalformed(f"bundle case field {path} cannot be committed to") from None
        if not hmac.compare_digest(actual, committed[path]):
            raise BundleTampered(f"bundle case field {path} does not match its commitment")


def verify_disclosed(manifest: Manifest, path: str, value: object, salt: bytes) -> bool:
    """Whether a disclosed ``(path, value, salt)`` matches the manifest's commitment.

    For auditors checking a partial export: only the disclosed field is needed. Check
    the manifest's signature first; this only proves consistency with the manifest.
    """
    expected = manifest.commitments.get(path)
    if expected is None or len(salt) != SALT_BYTES:
        return False
    try:
        actual = commit(path, value, salt)
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(actual, expected)


def parse_manifest(data: bytes) -> Manifest:
    """Parse strictly: canonical bytes, exactly the known keys, each of its type."""
    doc = load_canonical(data, "manifest", MAX_MANIFEST_BYTES)
    return _validate(doc)


def _validate(doc: object) -> Manifest:
    what = "bundle manifest"
    if not isinstance(doc, dict):
        raise BundleMalformed(f"{what} is not a json object")
    missing = sorted(MANIFEST_KEYS - set(doc))
    if missing:
        raise BundleMalformed(f"{what} has no {missing[0]!r} field")
    if set(doc) != MANIFEST_KEYS:
        # The unknown name is not echoed: it is attacker-chosen text.
        raise BundleMalformed(f"{what} has an unknown field")
    if doc["format"] != FORMAT:
        raise BundleMalformed(
            f"{what} format is not {FORMAT}", hint="a newer reprisal-report may open it"
        )
    if not is_bundle_id(doc["bundle_id"]):
        raise BundleMalformed(f"{what} bundle_id is not a bundle id")
    previous = doc["previous_bundle_id"]
    if previous is not None and not is_bundle_id(previous):
        raise BundleMalformed(f"{what} previous_bundle_id is not a bundle id")
    if previous == doc["bundle_id"]:
        raise BundleMalformed(f"{what} names itself as its previous bundle")
    org_id = doc["org_id"]
    if (
        not isinstance(org_id, str)
        or not 0 < len(org_id) <= MAX_ORG_ID_CHARS
        or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in org_id)
    ):
        raise BundleMalformed(f"{what} org_id is not an org id")
    if not is_key_id(doc["case_id"]):
        raise BundleMalformed(f"{what} case_id is not a case id")
    if not is_key_id(doc["author"]):
        raise BundleMalformed(f"{what} author is not a key id")
    recipients = doc["recipients"]
    if (
        not isinstance(recipients, list)
        or not 0 < len(recipients) <= MAX_RECIPIENTS
        or not all(is_key_id(r) for r in recipients)
    ):
        raise BundleMalformed(f"{what} recipients must list 1 to {MAX_RECIPIENTS} key ids")
    # Sorted and distinct: one recipient set, one encoding.
    if any(a >= b for a, b in itertools.pairwise(recipients)):
        raise BundleMalformed(f"{what} recipients must be sorted and distinct")
    created = doc["created"]
    if not isinstance(created, str) or not _CREATED.fullmatch(created):
        raise BundleMalformed(f"{what} created is not a time like 2026-01-31T12Z")
    try:
        datetime.strptime(created, CREATED_FORMAT)
    except ValueError:
        raise BundleMalformed(f"{what} created is not a real date and hour") from None
    entries = doc["attachments"]
    if not isinstance(entries, list) or len(entries) > MAX_ATTACHMENTS:
        raise BundleMalformed(f"{what} attachments must be a list")
    attachments = tuple(AttachmentHeader.from_dict(e, "manifest attachment") for e in entries)
    commitments = doc["commitments"]
    if not isinstance(commitments, dict):
        raise BundleMalformed(f"{what} commitments must be an object")
    for path, digest in commitments.items():
        if not _PATH.fullmatch(path):
            raise BundleMalformed(f"{what} commits to something that is not a field path")
        if not isinstance(digest, str) or not _HEX_DIGEST.fullmatch(digest):
            raise BundleMalformed(f"{what} commitment is not 64 lower-case hex digits")
    return Manifest(
        bundle_id=doc["bundle_id"],
        org_id=org_id,
        case_id=doc["case_id"],
        previous_bundle_id=previous,
        author=doc["author"],
        recipients=tuple(recipients),
        created=created,
        attachments=attachments,
        commitments=dict(commitments),
    )


def _check_record_shape(
    record: object, error: type[BundleMalformed] | type[SealInputInvalid] = SealInputInvalid
) -> None:
    """A record is an object, and no list or object in it is empty (see above)."""
    if not isinstance(record, dict):
        raise error("bundle case record is not a json object")
    stack: list[object] = [record]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            if not node:
                raise error("bundle case record holds an empty list or object")
            stack.extend(node.values() if isinstance(node, dict) else node)
