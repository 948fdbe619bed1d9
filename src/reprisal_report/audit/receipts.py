"""``audit verify-receipts``: what a profile's stored relay receipts and kept evidence prove.

Offline checks, with the relay keys the org card history lists (role ``relay``):

- each stored receipt parses, names the bundle the outbox row sealed, carries a valid
  signature of the relay's key, and its inclusion proof leads from the bundle's
  SHA-256 to the signed root: the relay committed, in its append-only log, to exactly
  those bytes;
- tree heads agree: every signed head (receipts, and the last head ``sync push``
  checked and kept) of one relay key and one tree size has one root. Two roots for
  one size is a forked log, signed by the relay: proof of misbehaviour;
- each bundle a coordinator received is still kept, byte for byte, in the evidence
  store (its SHA-256 is the one recorded at import), and, when it was pulled from a
  relay, the receipt ``sync pull`` kept for it (same checks as a reporter's) shows
  that hash in the relay's log: the kept file is the one the relay logged.

Consistency between heads of different sizes needs a proof from the relay; ``sync
push`` and ``sync pull`` ask for one each time against the head they kept
(docs/relay.md), this command works offline and does not. A bundle imported from a
folder has no receipt; for it only the evidence hash is checked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from reprisal_report.audit.history import CardHistory
from reprisal_report.errors import RelayAnswerInvalid
from reprisal_report.model.canonical import CanonicalError, parse_canonical
from reprisal_report.model.states import Role
from reprisal_report.protocol.receipts import Receipt, SignedTreeHead, verify_receipt
from reprisal_report.protocol.receipts import verify_tree_head as _verify_head

MAX_STORED = 64 * 1024

VERIFIED = "verified"
UNKNOWN_RELAY = "relay key unknown"
NO_RECEIPT = "no receipt stored"
KEPT = "kept unchanged"
FAILED = "failed"


def read_stored(text: str) -> object:
    """A receipt or tree head as ``sync push`` stores it: ``json.dumps(sort_keys=True)``
    with the default separators. Every value is hex, base64, a key id or an integer,
    none holding a space, so dropping the spaces after ``,`` and ``:`` gives the
    canonical text, which the one strict reader parses (any other content fails there
    or in the exact shape checks of ``protocol.receipts``)."""
    return parse_canonical(text.replace(", ", ",").replace(": ", ":").encode("utf-8"), MAX_STORED)


@dataclass(frozen=True)
class Item:
    kind: str  # "receipt" | "tree head" | "evidence"
    name: str  # bundle id, or relay URL for a kept tree head
    status: str
    reason: str = ""
    relay_key_id: str | None = None
    tree_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "reason": self.reason or None,
            "relay_key_id": self.relay_key_id,
            "tree_size": self.tree_size,
        }


@dataclass
class ReceiptReport:
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Item]:
        return [i for i in self.items if i.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "items": [i.to_json() for i in self.items],
            "notes": self.notes,
        }


def relay_key(histories: list[CardHistory], kid: str) -> bytes | None:
    """The key of relay ``kid`` as any version of any pinned card enrolled it."""
    for history in histories:
        for card in history.cards:
            member = card.member(kid) or card.revocation(kid)
            if member is not None and member.role == Role.RELAY:
                return member.signing_key
    return None


class _Heads:
    """Signed roots seen per (relay key, tree size): one root each, or a fork."""

    def __init__(self) -> None:
        self.roots: dict[tuple[str, int], tuple[bytes, str]] = {}

    def add(self, sth: SignedTreeHead, source: str) -> str | None:
        key = (sth.relay_key_id, sth.tree_size)
        seen = self.roots.setdefault(key, (sth.root_hash, source))
        if not hmac.compare_digest(seen[0], sth.root_hash):
            return (
                f"relay {sth.relay_key_id} signed two different trees of size "
                f"{sth.tree_size} (see {seen[1]}): a forked log"
            )
        return None


def check_receipts(
    histories: list[CardHistory],
    outbox: list[tuple[str, str, str | None]],
    kept_heads: list[tuple[str, str]],
) -> ReceiptReport:
    """``outbox``: (bundle id, bundle SHA-256, stored receipt text or None) of every
    bundle sent; ``kept_heads``: (relay URL, stored head text)."""
    report = ReceiptReport()
    heads = _Heads()
    for bundle_id, sha256, text in outbox:
        if text is None:
            continue
        report.items.append(_receipt(histories, heads, bundle_id, sha256, text))
    for url, text in kept_heads:
        report.items.append(_head(histories, heads, url, text))
    return report


def _receipt(
    histories: list[CardHistory], heads: _Heads, bundle_id: str, sha256: str, text: str
) -> Item:
    try:
        receipt = Receipt.from_json(read_stored(text))
    except (CanonicalError, RelayAnswerInvalid):
        return Item("receipt", bundle_id, FAILED, "the stored receipt does not parse")
    kid, size = receipt.sth.relay_key_id, receipt.sth.tree_size
    public = relay_key(histories, kid)
    if public is None:
        return Item("receipt", bundle_id, UNKNOWN_RELAY, "", kid, size)
    try:
        verify_receipt(receipt, sha256, public)
    except RelayAnswerInvalid as exc:
        return Item("receipt", bundle_id, FAILED, exc.message, kid, size)
    fork = heads.add(receipt.sth, f"bundle {bundle_id}")
    if fork is not None:
        return Item("receipt", bundle_id, FAILED, fork, kid, size)
    return Item("receipt", bundle_id, VERIFIED, "", kid, size)


def _head(histories: list[CardHistory], heads: _Heads, url: str, text: str) -> Item:
    try:
        sth = SignedTreeHead.from_json(read_stored(text))
    except (CanonicalError, RelayAnswerInvalid):
        return Item("tree head", url, FAILED, "the kept tree head does not parse")
    public = relay_key(histories, sth.relay_key_id)
    if public is None:
        return Item("tree head", url, UNKNOWN_RELAY, "", sth.relay_key_id, sth.tree_size)
    try:
        _verify_head(sth, public)
    except RelayAnswerInvalid as exc:
        return Item("tree head", url, FAILED, exc.message, sth.relay_key_id, sth.tree_size)
    fork = heads.add(sth, f"the head kept for {url}")
    status, reason = (FAILED, fork) if fork is not None else (VERIFIED, "")
    return Item("tree head", url, status, reason, sth.relay_key_id, sth.tree_size)


def evidence_item(
    bundle_id: str, sha256: str, digest: str | None, receipt_status: str | None
) -> Item:
    """``digest``: the SHA-256 of the kept file now, None when it is gone;
    ``receipt_status``: that of the bundle's relay receipt item, None without one."""
    if digest is None:
        return Item("evidence", bundle_id, FAILED, "the kept bundle file is missing")
    if not hmac.compare_digest(digest, sha256):
        return Item("evidence", bundle_id, FAILED, "the kept bundle file changed since import")
    if receipt_status == VERIFIED:
        return Item("evidence", bundle_id, KEPT, "the relay receipt of this bundle covers it")
    if receipt_status is not None:
        return Item("evidence", bundle_id, KEPT, "its relay receipt is not verified (above)")
    return Item("evidence", bundle_id, KEPT, "no relay receipt is stored for this bundle")


def file_digest(chunks: Any) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
