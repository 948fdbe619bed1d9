"""Org cards: the signed, versioned, expiring list of who belongs to an organisation.

File = canonical JSON of ``{"card": {...}, "signatures": [{"key_id", "signature"}]}``.
Each signature is Ed25519 over ``DOMAIN || canonical(card)``. The rules a verifier
applies (docs/org-card.md) follow TUF's root metadata: signed by the pinned root,
version strictly increasing, not expired, canonical bytes; a root rotation is signed by
the old and the new root keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import nacl.signing

from reprisal_report.errors import CardExpired, CardInvalid, RollbackRejected
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.fingerprint import fingerprint, key_id
from reprisal_report.identity.idcard import check_age_recipient
from reprisal_report.model.states import CARD_ROLES, Role

FORMAT = "reprisal-report/org-card/1"
DOMAIN = b"reprisal-report/org-card/1\x00"
WHAT = "org card"
MAX_ENTRIES = 10_000
# No reader accepts a card valid for longer than this from its issue time: a card
# signed for decades would outlive any revocation it fails to carry (docs/org-card.md).
MAX_VALIDITY = timedelta(days=731)


@dataclass(frozen=True)
class Member:
    key_id: str
    role: str
    label: str
    signing_key: bytes
    age_recipient: str | None
    enrolled: str

    def body(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "role": self.role,
            "label": self.label,
            "signing_key": enc.b64(self.signing_key),
            "age_recipient": self.age_recipient,
            "enrolled": self.enrolled,
        }


@dataclass(frozen=True)
class Revoked:
    key_id: str
    role: str
    label: str
    signing_key: bytes
    revoked_at: str

    def body(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "role": self.role,
            "label": self.label,
            "signing_key": enc.b64(self.signing_key),
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class OrgCard:
    org_id: str
    name: str
    version: int
    issued: str
    expires: str
    root_keys: tuple[bytes, ...]
    members: tuple[Member, ...] = ()
    revoked: tuple[Revoked, ...] = ()
    relays: tuple[str, ...] = field(default=())

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root_keys[0])

    @property
    def recipients(self) -> list[tuple[str, str]]:
        """(key id, age recipient) of every active coordinator: who bundles are sealed to."""
        return [
            (m.key_id, m.age_recipient)
            for m in self.members
            if m.role == Role.COORDINATOR and m.age_recipient is not None
        ]

    def member(self, kid: str) -> Member | None:
        return next((m for m in self.members if m.key_id == kid), None)

    def revocation(self, kid: str) -> Revoked | None:
        return next((r for r in self.revoked if r.key_id == kid), None)

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "org_id": self.org_id,
            "name": self.name,
            "version": self.version,
            "issued": self.issued,
            "expires": self.expires,
            "root_keys": [enc.b64(k) for k in self.root_keys],
            "recipients": [{"key_id": k, "age_recipient": a} for k, a in self.recipients],
            "members": [m.body() for m in self.members],
            "revoked": [r.body() for r in self.revoked],
            "relays": list(self.relays),
        }

    def next_version(self, issued: datetime, expires: datetime, **changes: Any) -> OrgCard:
        return replace(
            self,
            version=self.version + 1,
            issued=enc.format_time(issued),
            expires=enc.format_time(expires),
            **changes,
        )


def sign_card(card: OrgCard, root_keys: list[nacl.signing.SigningKey]) -> bytes:
    """Serialise ``card`` signed by every key given (old and new root on rotation)."""
    body = card.body()
    signatures = [
        {"key_id": key_id(bytes(k.verify_key)), "signature": enc.b64(enc.sign(k, DOMAIN, body))}
        for k in root_keys
    ]
    return enc.dump({"card": body, "signatures": signatures})


@dataclass(frozen=True)
class SignedCard:
    card: OrgCard
    # key id -> signature bytes, as found in the file (verified by ``verify_card``).
    signatures: dict[str, bytes]
    raw: bytes


def _entries(value: object, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise CardInvalid(f"{WHAT}: {what} must be a list")
    return value


def _key(doc: dict[str, Any], what: str) -> tuple[str, bytes]:
    signing_key = enc.unb64(doc["signing_key"], f"{WHAT}: {what} signing_key", 32)
    kid = enc.text(doc, "key_id", WHAT)
    if kid != key_id(signing_key):
        raise CardInvalid(f"{WHAT}: {what} key_id does not match its key")
    return kid, signing_key


def _member(doc: object) -> Member:
    body = enc.exact_keys(
        doc, {"key_id", "role", "label", "signing_key", "age_recipient", "enrolled"}, WHAT
    )
    kid, signing_key = _key(body, "member")
    role = enc.text(body, "role", WHAT)
    if role not in CARD_ROLES:
        raise CardInvalid(f"{WHAT}: member {kid} has unknown role {role!r}")
    recipient = body["age_recipient"]
    if recipient is not None:
        recipient = check_age_recipient(recipient, WHAT)
    enc.timestamp(body, "enrolled", WHAT)
    label = enc.text(body, "label", WHAT)
    return Member(kid, role, label, signing_key, recipient, body["enrolled"])


def _revoked(doc: object) -> Revoked:
    body = enc.exact_keys(doc, {"key_id", "role", "label", "signing_key", "revoked_at"}, WHAT)
    kid, signing_key = _key(body, "revoked")
    role = enc.text(body, "role", WHAT)
    if role not in CARD_ROLES:
        raise CardInvalid(f"{WHAT}: revoked key {kid} has unknown role {role!r}")
    enc.timestamp(body, "revoked_at", WHAT)
    return Revoked(kid, role, enc.text(body, "label", WHAT), signing_key, body["revoked_at"])


def parse_card(data: bytes) -> SignedCard:
    """Parse strictly; signatures are NOT checked here (see ``verify_card``)."""
    doc = enc.exact_keys(enc.load_canonical(data, WHAT), {"card", "signatures"}, WHAT)
    body = enc.exact_keys(
        doc["card"],
        {
            "format",
            "org_id",
            "name",
            "version",
            "issued",
            "expires",
            "root_keys",
            "recipients",
            "members",
            "revoked",
            "relays",
        },
        WHAT,
    )
    if body["format"] != FORMAT:
        raise CardInvalid(f"{WHAT}: unknown format", hint="is this an identity card?")
    root_keys = tuple(
        enc.unb64(k, f"{WHAT}: root key", 32) for k in _entries(body["root_keys"], "root_keys")
    )
    if not root_keys or len(set(root_keys)) != len(root_keys):
        raise CardInvalid(f"{WHAT}: root_keys must list distinct keys")
    members = tuple(_member(m) for m in _entries(body["members"], "members"))
    revoked = tuple(_revoked(r) for r in _entries(body["revoked"], "revoked"))
    relays = tuple(_entries(body["relays"], "relays"))
    for url in relays:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise CardInvalid(f"{WHAT}: relay URLs must be http(s) URLs")
        enc.check_printable(url, f"{WHAT}: relay URL")
    ids = [m.key_id for m in members] + [r.key_id for r in revoked]
    if len(set(ids)) != len(ids):
        raise CardInvalid(f"{WHAT}: a key is listed twice")
    issued = enc.timestamp(body, "issued", WHAT)
    expires = enc.timestamp(body, "expires", WHAT)
    if expires <= issued:
        raise CardInvalid(f"{WHAT}: expires before it was issued")
    if expires - issued > MAX_VALIDITY:
        raise CardInvalid(f"{WHAT}: valid for more than two years from its issue")
    card = OrgCard(
        org_id=enc.text(body, "org_id", WHAT),
        name=enc.text(body, "name", WHAT),
        version=enc.integer(body, "version", WHAT),
        issued=body["issued"],
        expires=body["expires"],
        root_keys=root_keys,
        members=members,
        revoked=revoked,
        relays=relays,
    )
    # The recipient list is derived data: it must say exactly what the members say.
    if body["recipients"] != card.body()["recipients"]:
        raise CardInvalid(f"{WHAT}: recipients do not match the enrolled coordinators")
    signatures: dict[str, bytes] = {}
    for entry in _entries(doc["signatures"], "signatures"):
        sig = enc.exact_keys(entry, {"key_id", "signature"}, WHAT)
        kid = enc.text(sig, "key_id", WHAT)
        if kid in signatures:
            raise CardInvalid(f"{WHAT}: two signatures by one key")
        signatures[kid] = enc.unb64(sig["signature"], f"{WHAT}: signature", 64)
    return SignedCard(card, signatures, data)


def _signed_by(signed: SignedCard, public_key: bytes) -> bool:
    sig = signed.signatures.get(key_id(public_key))
    return sig is not None and enc.verify(public_key, DOMAIN, signed.card.body(), sig)


def verify_card(
    data: bytes,
    *,
    now: datetime,
    pinned_roots: tuple[bytes, ...] | None,
    pinned_org_id: str | None = None,
    pinned_version: int | None = None,
) -> SignedCard:
    """Apply every rule; return the card only if all of them hold.

    ``pinned_roots`` is None only at ``org join``, where the caller has already
    matched the typed fingerprint against the card's root key.
    """
    signed = parse_card(data)
    card = signed.card
    for root in card.root_keys:
        if not _signed_by(signed, root):
            raise CardInvalid(f"{WHAT}: not signed by its root key {key_id(root)}")
    if pinned_roots is not None and not any(_signed_by(signed, r) for r in pinned_roots):
        raise CardInvalid(
            f"{WHAT}: not signed by the pinned root key",
            hint="a new root key must be introduced by a card the old root also signed",
        )
    if pinned_org_id is not None and card.org_id != pinned_org_id:
        raise CardInvalid(f"{WHAT}: belongs to org {card.org_id}, not {pinned_org_id}")
    if pinned_version is not None and card.version <= pinned_version:
        raise RollbackRejected(
            f"{WHAT} version {card.version} is not newer than the pinned version {pinned_version}",
            hint="an older or replayed card is never accepted",
        )
    if enc.parse_time(card.expires) <= now:
        raise CardExpired(
            f"{WHAT} version {card.version} expired at {card.expires}",
            hint="ask the coordinator for a fresh card ('org renew' then 'org card')",
        )
    return signed
