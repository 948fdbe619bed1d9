"""Signed tree heads and receipts: what the relay commits to, and how anyone checks it.

A signed tree head (STH) is the relay's Ed25519 signature over
``b"reprisal-report/relay-sth/1\\x00" || canonical_json({"tree_size", "root_hash",
"timestamp"})``. A receipt is an STH plus the inclusion proof of one bundle's hash in
that tree: it proves the relay accepted exactly these bytes at that log index. Because
the log only grows, every later STH must be consistent with the receipt's (RFC 9162
§2.1.4); a relay that later drops or swaps the bundle cannot produce such a proof.

This module is pure (no web framework): the client, the server and auditors share it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, replace
from typing import Any

import nacl.exceptions
import nacl.signing

from reprisal_report.errors import LogInconsistent, RelayAnswerInvalid
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.model import canonical
from reprisal_report.model.canonical import MAX_SAFE_INTEGER, CanonicalError, canonical_json
from reprisal_report.protocol import merkle

STH_DOMAIN = b"reprisal-report/relay-sth/1\x00"
# A proof has one hash per tree level; 64 levels outgrow any log this relay can hold.
MAX_PROOF_HASHES = 64

_HEX32 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[a-z2-7]{16}")


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: int

    def body(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    relay_key_id: str
    signature: bytes
    # True only once the signature was checked against a known relay key.
    verified: bool = False

    @property
    def tree_size(self) -> int:
        return self.head.tree_size

    @property
    def root_hash(self) -> bytes:
        return self.head.root_hash

    def to_json(self) -> dict[str, Any]:
        return {
            **self.head.body(),
            "relay_key_id": self.relay_key_id,
            "signature": canonical.b64encode(self.signature),
        }

    @classmethod
    def from_json(cls, doc: object) -> SignedTreeHead:
        body = _exact(doc, {"tree_size", "root_hash", "timestamp", "relay_key_id", "signature"})
        return cls(_head(body), _key_id(body["relay_key_id"]), _signature(body["signature"]))


@dataclass(frozen=True)
class Receipt:
    bundle_sha256: str
    index: int
    sth: SignedTreeHead
    inclusion_proof: tuple[bytes, ...]
    # True only once signature and inclusion proof were checked (``verify_receipt``);
    # a receipt from a relay whose key the profile does not know stays False.
    verified: bool = False

    def to_json(self) -> dict[str, Any]:
        """The wire form (also fit for storing: ``from_json`` reads it back)."""
        return {
            "bundle_sha256": self.bundle_sha256,
            "index": self.index,
            "sth": self.sth.head.body(),
            "inclusion_proof": [p.hex() for p in self.inclusion_proof],
            "relay_key_id": self.sth.relay_key_id,
            "signature": canonical.b64encode(self.sth.signature),
        }

    @classmethod
    def from_json(cls, doc: object) -> Receipt:
        body = _exact(
            doc,
            {"bundle_sha256", "index", "sth", "inclusion_proof", "relay_key_id", "signature"},
        )
        head = _head(_exact(body["sth"], {"tree_size", "root_hash", "timestamp"}))
        proof = body["inclusion_proof"]
        if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
            raise RelayAnswerInvalid("relay receipt: inclusion_proof is not a list of hashes")
        index = _count(body["index"], "index")
        if index >= head.tree_size:
            raise RelayAnswerInvalid("relay receipt: index lies outside its tree")
        return cls(
            bundle_sha256=_hex32(body["bundle_sha256"], "bundle_sha256").hex(),
            index=index,
            sth=SignedTreeHead(head, _key_id(body["relay_key_id"]), _signature(body["signature"])),
            inclusion_proof=tuple(_hex32(p, "inclusion_proof") for p in proof),
        )


def sign_tree_head(head: TreeHead, key: nacl.signing.SigningKey) -> SignedTreeHead:
    signature = key.sign(STH_DOMAIN + canonical_json(head.body())).signature
    return SignedTreeHead(head, key_id(bytes(key.verify_key)), bytes(signature), True)


def verify_tree_head(sth: SignedTreeHead, relay_public_key: bytes) -> SignedTreeHead:
    """Check the relay's signature; return the head marked verified."""
    if not hmac.compare_digest(sth.relay_key_id, key_id(relay_public_key)):
        raise RelayAnswerInvalid(
            f"tree head is signed by key {sth.relay_key_id}, not by this relay's key",
            hint="is the relay in the org card the one you are talking to?",
        )
    try:
        nacl.signing.VerifyKey(relay_public_key).verify(
            STH_DOMAIN + canonical_json(sth.head.body()), sth.signature
        )
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        raise RelayAnswerInvalid("relay tree head signature does not verify") from None
    return replace(sth, verified=True)


def check_inclusion(receipt: Receipt, bundle_sha256: str) -> None:
    """The receipt names this bundle and its proof leads to the receipt's root.

    Without a verified signature this proves nothing against a lying relay; it does
    catch a confused one, so the client checks it even for unknown relay keys.
    """
    if not hmac.compare_digest(receipt.bundle_sha256, bundle_sha256):
        raise RelayAnswerInvalid("relay receipt names another bundle")
    ok = merkle.verify_inclusion(
        bytes.fromhex(bundle_sha256),
        receipt.index,
        receipt.sth.tree_size,
        receipt.inclusion_proof,
        receipt.sth.root_hash,
    )
    if not ok:
        raise RelayAnswerInvalid("relay receipt: the inclusion proof does not verify")


def verify_receipt(receipt: Receipt, bundle_sha256: str, relay_public_key: bytes) -> Receipt:
    """Signature and inclusion proof; return the receipt marked verified, or raise."""
    if _HEX32.fullmatch(bundle_sha256) is None:
        raise ValueError("bundle_sha256 must be 64 lower-case hex digits")
    sth = verify_tree_head(receipt.sth, relay_public_key)
    check_inclusion(receipt, bundle_sha256)
    return replace(receipt, sth=sth, verified=True)


def check_consistency(
    old_sth: SignedTreeHead,
    new_sth: SignedTreeHead,
    proof: list[bytes] | tuple[bytes, ...],
    *,
    relay_public_key: bytes | None = None,
) -> None:
    """Raise ``LogInconsistent`` unless ``new_sth``'s tree extends ``old_sth``'s.

    With ``relay_public_key`` both heads' signatures are checked first; without it the
    caller must already have verified them (or accepts that a forger could feed it two
    made-up heads).
    """
    if relay_public_key is not None:
        verify_tree_head(old_sth, relay_public_key)
        verify_tree_head(new_sth, relay_public_key)
    if new_sth.tree_size < old_sth.tree_size:
        raise LogInconsistent(
            f"relay log shrank from {old_sth.tree_size} to {new_sth.tree_size} entries",
            hint="the relay dropped accepted bundles; keep both tree heads as evidence",
        )
    if not merkle.verify_consistency(
        old_sth.tree_size, new_sth.tree_size, old_sth.root_hash, new_sth.root_hash, list(proof)
    ):
        raise LogInconsistent(
            f"relay log of {new_sth.tree_size} entries does not extend the one of "
            f"{old_sth.tree_size} seen before",
            hint="the relay rewrote its history; keep both tree heads as evidence",
        )


def _exact(doc: object, keys: set[str]) -> dict[str, Any]:
    if not isinstance(doc, dict) or set(doc) != keys:
        raise RelayAnswerInvalid("relay answer does not have the expected fields")
    return doc


def _count(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SAFE_INTEGER:
        raise RelayAnswerInvalid(f"relay answer: {what} is not a non-negative integer")
    return value


def _hex32(value: object, what: str) -> bytes:
    if not isinstance(value, str) or _HEX32.fullmatch(value) is None:
        raise RelayAnswerInvalid(f"relay answer: {what} is not a SHA-256 in lower-case hex")
    return bytes.fromhex(value)


def _key_id(value: object) -> str:
    if not isinstance(value, str) or _KEY_ID.fullmatch(value) is None:
        raise RelayAnswerInvalid("relay answer: relay_key_id is not a key id")
    return value


def _signature(value: object) -> bytes:
    try:
        return canonical.b64decode(value, 64)
    except CanonicalError as exc:
        if exc.reason in ("not-text", "not-base64"):
            raise RelayAnswerInvalid("relay answer: signature is not base64") from None
        raise RelayAnswerInvalid(
            "relay answer: signature is not a canonical Ed25519 signature"
        ) from None


def _head(body: dict[str, Any]) -> TreeHead:
    return TreeHead(
        tree_size=_count(body["tree_size"], "tree_size"),
        root_hash=_hex32(body["root_hash"], "root_hash"),
        timestamp=_count(body["timestamp"], "timestamp"),
    )
