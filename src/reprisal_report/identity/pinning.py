"""Orgs this profile created or joined, as stored in the vault."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import nacl.signing

from reprisal_report.errors import CorruptVault, UnknownOrg
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.orgcard import SignedCard, parse_card
from reprisal_report.vault import pins
from reprisal_report.vault.store import Vault


def root_secret_name(org_id: str) -> str:
    return f"org/{org_id}/root-seed"


@dataclass(frozen=True)
class PinnedOrg:
    org_id: str
    roots: tuple[bytes, ...]
    signed: SignedCard
    own: bool


def _roots_blob(roots: tuple[bytes, ...]) -> bytes:
    return json.dumps([enc.b64(r) for r in roots]).encode("ascii")


def store(vault: Vault, signed: SignedCard, *, own: bool) -> None:
    """Insert or replace the pinned card; the caller has verified it."""
    card = signed.card
    pins.upsert(
        vault,
        pins.NewPin(
            org_id=card.org_id,
            name=card.name,
            roots_blob=_roots_blob(card.root_keys),
            card=signed.raw,
            version=card.version,
            expires=card.expires,
            own=own,
        ),
    )


@functools.lru_cache(maxsize=64)
def _parse_stored(raw: bytes) -> SignedCard:
    """Stored cards were verified when pinned and never change: parse each once."""
    return parse_card(raw)


def _load(row: pins.OrgRow) -> PinnedOrg:
    try:
        roots = tuple(enc.unb64(r, "root", 32) for r in json.loads(row.roots_blob))
        signed = _parse_stored(row.card)
    except Exception as exc:  # a damaged row is a damaged vault, whatever the cause
        raise CorruptVault(f"stored card of org {row.org_id} is damaged") from exc
    return PinnedOrg(row.org_id, roots, signed, row.own)


def get(vault: Vault, org_id: str) -> PinnedOrg:
    row = pins.find(vault, org_id)
    if row is None:
        raise UnknownOrg(
            f"this profile has not joined org {org_id}",
            hint="'reprisal-report org show' lists the orgs this profile knows",
        )
    return _load(row)


def all_orgs(vault: Vault) -> list[PinnedOrg]:
    return [_load(r) for r in pins.all_rows(vault)]


def org_ids(vault: Vault) -> list[str]:
    """The ids of the orgs this profile pinned, oldest first (no card is parsed)."""
    return pins.org_ids(vault)


def root_signing_key(vault: Vault, org_id: str) -> nacl.signing.SigningKey:
    seed = vault.get_secret(root_secret_name(org_id))
    if seed is None:
        raise UnknownOrg(
            f"this profile does not hold the root key of org {org_id}",
            hint="only the coordinator who created the org can change its card",
        )
    return nacl.signing.SigningKey(seed)
