"""The profile's own keys, kept only inside the vault.

Every profile has an Ed25519 signing key; a coordinator also has an age X25519
identity, so bundles can be sealed to it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import nacl.signing

from reprisal_report.errors import CorruptVault
from reprisal_report.identity.fingerprint import fingerprint, key_id
from reprisal_report.model.states import Role
from reprisal_report.vault.store import Vault

SIGNING_SECRET = "identity/ed25519-seed"  # noqa: S105 - a row name, not a secret
AGE_SECRET = "identity/age-x25519"  # noqa: S105 - a row name, not a secret


@dataclass(frozen=True)
class PublicIdentity:
    role: str
    label: str
    signing_public: bytes
    age_recipient: str | None

    @property
    def key_id(self) -> str:
        return key_id(self.signing_public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_public)

    @property
    def minisign_public_key(self) -> str:
        return minisign_public_key(self.signing_public)


def minisign_key_id(public_key: bytes) -> bytes:
    """Minisign's 8-byte key id; we use the first 8 bytes of our key id digest."""
    import hashlib

    return hashlib.sha256(public_key).digest()[:8]


def minisign_public_key(public_key: bytes) -> str:
    """The Ed25519 key in minisign's public-key encoding (``Ed`` || key id || key)."""
    blob = b"Ed" + minisign_key_id(public_key) + public_key
    return base64.b64encode(blob).decode("ascii")


def create_profile_keys(vault: Vault, role: str) -> None:
    """Generate this profile's keys inside the vault (caller holds the transaction)."""
    seed = nacl.signing.SigningKey.generate()
    vault.put_secret(SIGNING_SECRET, bytes(seed))
    if role == Role.COORDINATOR:
        import pyrage

        vault.put_secret(AGE_SECRET, str(pyrage.x25519.Identity.generate()).encode("ascii"))


def signing_key(vault: Vault) -> nacl.signing.SigningKey:
    seed = vault.get_secret(SIGNING_SECRET)
    if seed is None or len(seed) != 32:
        raise CorruptVault("this profile has no signing key")
    return nacl.signing.SigningKey(seed)


def age_identity_text(vault: Vault) -> str | None:
    raw = vault.get_secret(AGE_SECRET)
    return None if raw is None else raw.decode("ascii")


def public_identity(vault: Vault) -> PublicIdentity:
    role = vault.get_meta("role") or ""
    label = vault.get_meta("label") or ""
    verify = signing_key(vault).verify_key
    recipient: str | None = None
    secret = age_identity_text(vault)
    if secret is not None:
        import pyrage

        recipient = str(pyrage.x25519.Identity.from_str(secret).to_public())
    return PublicIdentity(role, label, bytes(verify), recipient)
