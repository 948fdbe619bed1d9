"""Identity cards: a profile's public keys, self-signed, handed to a coordinator.

    {"identity": {"format", "role", "label", "signing_key", "age_recipient", "created"},
     "signature": base64(Ed25519(domain || canonical(identity)))}

The self-signature proves possession of the signing key; it says nothing about who
holds it. That is the coordinator's job, out of band, before ``org enroll``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nacl.signing

from reprisal_report.errors import CardInvalid
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.fingerprint import fingerprint, key_id
from reprisal_report.model.states import CARD_ROLES, Role

FORMAT = "reprisal-report/identity-card/1"
DOMAIN = b"reprisal-report/identity-card/1\x00"
WHAT = "identity card"


@dataclass(frozen=True)
class IdentityCard:
    role: str
    label: str
    signing_key: bytes
    age_recipient: str | None
    created: str

    @property
    def key_id(self) -> str:
        return key_id(self.signing_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_key)

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "role": self.role,
            "label": self.label,
            "signing_key": enc.b64(self.signing_key),
            "age_recipient": self.age_recipient,
            "created": self.created,
        }


def make_card(card: IdentityCard, key: nacl.signing.SigningKey) -> bytes:
    if bytes(key.verify_key) != card.signing_key:
        raise ValueError("the card must be signed by its own key")
    body = card.body()
    return enc.dump({"identity": body, "signature": enc.b64(enc.sign(key, DOMAIN, body))})


def check_age_recipient(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.startswith("age1") or len(value) > 100:
        raise CardInvalid(f"{what}: not an age X25519 recipient")
    import pyrage

    try:
        parsed = str(pyrage.x25519.Recipient.from_str(value))
    except Exception:  # pyrage raises several types for a bad encoding
        raise CardInvalid(f"{what}: not an age X25519 recipient") from None
    # pyrage tolerates non-zero Bech32 padding bits that the stock age tool rejects;
    # only the one canonical spelling of a key is accepted.
    if parsed != value:
        raise CardInvalid(f"{what}: age recipient is not canonically encoded")
    return value


def parse_card(data: bytes) -> IdentityCard:
    doc = enc.exact_keys(enc.load_canonical(data, WHAT), {"identity", "signature"}, WHAT)
    body = enc.exact_keys(
        doc["identity"],
        {"format", "role", "label", "signing_key", "age_recipient", "created"},
        WHAT,
    )
    if body["format"] != FORMAT:
        raise CardInvalid(f"{WHAT}: unknown format", hint="is this an org card?")
    role = enc.text(body, "role", WHAT)
    if role not in CARD_ROLES:
        raise CardInvalid(f"{WHAT}: unknown role {role!r}")
    signing_key = enc.unb64(body["signing_key"], f"{WHAT}: signing_key", 32)
    recipient = body["age_recipient"]
    if recipient is not None:
        recipient = check_age_recipient(recipient, WHAT)
    if role == Role.COORDINATOR and recipient is None:
        raise CardInvalid(f"{WHAT}: a coordinator card needs an age recipient")
    enc.timestamp(body, "created", WHAT)
    signature = enc.unb64(doc["signature"], f"{WHAT}: signature", 64)
    if not enc.verify(signing_key, DOMAIN, body, signature):
        raise CardInvalid(f"{WHAT}: self-signature does not verify")
    return IdentityCard(
        role, enc.text(body, "label", WHAT), signing_key, recipient, body["created"]
    )
