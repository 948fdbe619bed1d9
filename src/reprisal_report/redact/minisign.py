"""Detached signatures in minisign's format, so the stock ``minisign -V`` verifies an
export with the coordinator's public key (``id show``'s ``minisign_public_key``).

The format (minisign's ``SIGNATURE FORMAT``): an untrusted comment line; base64 of
``"ED"`` (prehashed Ed25519), the 8-byte key id and the Ed25519 signature of the
file's BLAKE2b-512 hash; a trusted comment line; base64 of the Ed25519 signature of
the first signature followed by the trusted comment. Only Ed25519 (pynacl) and
BLAKE2b (hashlib) are used: no scheme of our own.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

import nacl.exceptions
import nacl.signing

from reprisal_report.errors import InvalidInput
from reprisal_report.identity.keys import minisign_key_id
from reprisal_report.model import canonical

ALGORITHM: Final = b"ED"


def _comment(text: str, what: str) -> bytes:
    if "\n" in text or "\r" in text:
        raise InvalidInput(f"a minisign {what} cannot hold a line break")
    return text.encode("utf-8")


def sign(
    signing_key: nacl.signing.SigningKey,
    data: bytes,
    *,
    trusted_comment: str,
    untrusted_comment: str = "signature from reprisal-report",
) -> bytes:
    """The ``.minisig`` file for ``data``."""
    kid = minisign_key_id(bytes(signing_key.verify_key))
    if len(kid) != 8:
        raise ValueError("a minisign key id is 8 bytes")
    digest = hashlib.blake2b(data, digest_size=64).digest()
    signature = signing_key.sign(digest).signature
    trusted = _comment(trusted_comment, "trusted comment")
    global_signature = signing_key.sign(signature + trusted).signature
    return b"".join(
        (
            b"untrusted comment: " + _comment(untrusted_comment, "comment") + b"\n",
            base64.b64encode(ALGORITHM + kid + signature) + b"\n",
            b"trusted comment: " + trusted + b"\n",
            base64.b64encode(global_signature) + b"\n",
        )
    )


class BadSignature(ValueError):
    pass


def verify(public_key: bytes, data: bytes, signature_file: bytes) -> str:
    """Check a ``.minisig`` against ``data``; its trusted comment, or ``BadSignature``."""
    lines = signature_file.decode("utf-8", errors="strict").split("\n")
    if len(lines) < 4 or not lines[0].startswith("untrusted comment: "):
        raise BadSignature("not a minisign signature file")
    if not lines[2].startswith("trusted comment: "):
        raise BadSignature("not a minisign signature file")
    try:
        blob = canonical.b64decode(lines[1])
        global_signature = canonical.b64decode(lines[3])
    except canonical.CanonicalError:
        raise BadSignature("the signature lines are not base64") from None
    if len(blob) != 74 or blob[:2] != ALGORITHM or len(global_signature) != 64:
        raise BadSignature("not a prehashed Ed25519 minisign signature")
    verify_key = nacl.signing.VerifyKey(public_key)
    trusted = lines[2][len("trusted comment: ") :].encode("utf-8")
    digest = hashlib.blake2b(data, digest_size=64).digest()
    try:
        verify_key.verify(digest, blob[10:])
        verify_key.verify(blob[10:] + trusted, global_signature)
    except nacl.exceptions.BadSignatureError:
        raise BadSignature("the signature does not match the file and key") from None
    return trusted.decode("utf-8")
