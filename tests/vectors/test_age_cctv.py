"""The 124 C2SP/CCTV age vectors through ``bundle.age_layer`` (and so through pyrage).

Source and licence: ``tests/vectors/age/SOURCE.md`` (vendored, unchanged). Each
vector's ``expect`` maps to the BundleError subclass our wrapper must raise; ``payload``
is the SHA-256 of all plaintext released, checked on success **and** on payload failure
(age releases authenticated chunks before it finds the fault, which is why callers stage output).

Upstream allows aliasing failure kinds an API cannot tell apart; ours are:

- ``header failure`` and ``armor failure``  -> BundleMalformed
- ``HMAC failure`` and ``payload failure``  -> BundleTampered (payload may be BundleTruncated)
- ``no match``                              -> BundleNotForUs

Bundles are never armored, so the public ``decrypt`` refuses every armored vector
(checked below); the armor vectors are run through the same pyrage call and error
mapping with the armor refusal skipped, to keep pyrage's armor parser honest too.
Vectors without an X25519 identity (passphrase only) are run with an unrelated fresh
identity: bundle code never uses passphrases. Every vector where we differ from
``expect`` is in KNOWN_DIFFERENCES with the reason, and must behave exactly as listed
(docs/bundle-format.md repeats the list).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pyrage
import pytest

from reprisal_report.bundle import age_layer
from reprisal_report.errors import (
    BundleError,
    BundleMalformed,
    BundleNotForUs,
    BundleTampered,
    BundleTruncated,
)

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = Path(__file__).resolve().parent / "age"
KNOWN_KEYS = {
    "expect",
    "payload",
    "file key",
    "identity",
    "passphrase",
    "armored",
    "compressed",
    "comment",
}
EXPECTED_ERROR: dict[str, type[BundleError]] = {
    "no match": BundleNotForUs,
    "HMAC failure": BundleTampered,
    "header failure": BundleMalformed,
    "payload failure": BundleTampered,
    "armor failure": BundleMalformed,
}


class Difference(NamedTuple):
    actual: str  # the outcome we produce: "success" or a key of EXPECTED_ERROR
    reason: str


_RAGE_LENIENT = (
    "rage accepts a stanza without its final short body line; the header MAC still "
    "authenticates the bytes as received, so nothing can be forged through it"
)
_NO_PASSPHRASE = (
    "passphrase (scrypt) recipients are not part of the bundle format: decrypt takes "
    "X25519 identities only, so a passphrase-only file is 'no match' for us"
)

KNOWN_DIFFERENCES: dict[str, Difference] = {
    "armor_whitespace_outside": Difference(
        "header failure",
        "rage refuses whitespace before the armor (documented rage behaviour); "
        "bundles are never armored, and decrypt refuses armor anyway",
    ),
    "stanza_missing_body": Difference("success", _RAGE_LENIENT),
    "stanza_missing_final_line": Difference("success", _RAGE_LENIENT),
    "armor_scrypt": Difference("no match", _NO_PASSPHRASE),
    "scrypt": Difference("no match", _NO_PASSPHRASE),
    "scrypt_extra_argument": Difference("no match", _NO_PASSPHRASE),
    "scrypt_long_file_key": Difference("no match", _NO_PASSPHRASE),
    "scrypt_not_canonical_salt": Difference("no match", _NO_PASSPHRASE),
    "scrypt_salt_long": Difference("no match", _NO_PASSPHRASE),
    "scrypt_salt_missing": Difference("no match", _NO_PASSPHRASE),
    "scrypt_salt_short": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_23": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_hex": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_leading_garbage": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_leading_plus": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_leading_zero_decimal": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_leading_zero_octal": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_missing": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_negative": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_overflow": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_trailing_garbage": Difference("no match", _NO_PASSPHRASE),
    "scrypt_work_factor_zero": Difference("no match", _NO_PASSPHRASE),
}


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    payload: str | None
    identities: tuple[str, ...]
    armored: bool
    body: bytes


def load(path: Path) -> Vector | None:
    """Parse one vector file; None if it has a header key we do not know (upstream rule)."""
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        raise ValueError(f"{path.name}: no blank line after the header")
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        key, colon, value = line.partition(": ")
        if not colon:
            raise ValueError(f"{path.name}: bad header line")
        fields.setdefault(key, []).append(value)
    if not set(fields) <= KNOWN_KEYS:
        return None
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    elif "compressed" in fields:
        raise ValueError(f"{path.name}: unknown compression")
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload=fields.get("payload", [None])[0],
        identities=tuple(fields.get("identity", [])),
        armored=fields.get("armored") == ["yes"],
        body=body,
    )


VECTOR_FILES = sorted(p for p in VECTOR_DIR.glob("*") if p.is_file() and p.suffix != ".md")


def outcome_of(exc: BaseException | None) -> str:
    if exc is None:
        return "success"
    if isinstance(exc, BundleNotForUs):
        return "no match"
    if isinstance(exc, BundleTampered):
        # The header MAC is the only Tampered error raised before any payload.
        if exc.message == "bundle header failed authentication":
            return "HMAC failure"
        return "payload failure"
    if isinstance(exc, BundleMalformed):
        return "header failure"
    raise AssertionError(f"not a bundle outcome: {exc!r}")


def identities_for(vector: Vector) -> list[str]:
    if vector.identities:
        return list(vector.identities)
    # Passphrase-only vectors: we hold a key, just not one this file was made for.
    return [str(pyrage.x25519.Identity.generate())]


def run(vector: Vector) -> tuple[BundleError | None, bytes]:
    """Decrypt as bundle code does; armored vectors skip only the armor refusal."""
    out = io.BytesIO()
    identities = identities_for(vector)
    try:
        if vector.armored:
            reader = age_layer._GuardedReader(io.BytesIO(vector.body))
            age_layer._run_decrypt(reader, out, age_layer.parse_identities(identities))
        else:
            age_layer.decrypt(io.BytesIO(vector.body), out, identities)
    except BundleError as exc:
        return exc, out.getvalue()
    return None, out.getvalue()


def test_all_vectors_are_present() -> None:
    loaded = [load(p) for p in VECTOR_FILES]
    assert len(VECTOR_FILES) == 124
    assert all(v is not None for v in loaded), "a vector has an unknown header key"


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    vector = load(path)
    if vector is None:
        pytest.skip("unknown header key (upstream says: ignore the file)")
    exc, released = run(vector)
    actual = outcome_of(exc)
    known = KNOWN_DIFFERENCES.get(vector.name)
    if known is not None:
        assert actual == known.actual, f"{vector.name}: listed as {known.actual}, got {actual}"
        assert actual != vector.expect, f"{vector.name} no longer differs; drop it from the list"
        return
    if vector.expect == "success":
        assert exc is None, f"{vector.name}: {exc!r}"
    else:
        assert isinstance(exc, EXPECTED_ERROR[vector.expect]), f"{vector.name}: {exc!r}"
        if vector.expect == "HMAC failure":
            assert actual == "HMAC failure"
        if vector.expect == "payload failure":
            assert actual == "payload failure"
    if vector.expect in {"success", "payload failure"}:
        assert vector.payload is not None
        assert hashlib.sha256(released).hexdigest() == vector.payload
    else:
        # Nothing may be released when the header or the armor is bad.
        assert released == b""


def test_truncation_is_its_own_error() -> None:
    vector = load(VECTOR_DIR / "stream_no_final_full")
    assert vector is not None
    exc, _ = run(vector)
    assert isinstance(exc, BundleTruncated)
    assert exc.hint


@pytest.mark.parametrize(
    "path",
    [p for p in VECTOR_FILES if (v := load(p)) is not None and v.armored],
    ids=lambda p: p.name,
)
def test_public_decrypt_refuses_every_armored_vector(path: Path) -> None:
    vector = load(path)
    assert vector is not None
    out = io.BytesIO()
    with pytest.raises(BundleMalformed):
        age_layer.decrypt(io.BytesIO(vector.body), out, identities_for(vector))
    assert out.getvalue() == b""


def test_every_known_difference_names_a_vector() -> None:
    names = {p.name for p in VECTOR_FILES}
    assert set(KNOWN_DIFFERENCES) <= names


def test_known_differences_are_documented() -> None:
    spec = (ROOT / "docs" / "bundle-format.md").read_text(encoding="utf-8")
    missing = [name for name in KNOWN_DIFFERENCES if f"`{name}`" not in spec]
    assert missing == []
