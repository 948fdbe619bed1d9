"""Orgs this profile created or joined, as stored in the vault."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import nacl.signing

from reprisal_report.errors import CorruptVault, UnknownOrg
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.orgcard import SignedCard, parse_card
from reprisal_report.vault.cases import utc_now
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
    now = utc_now()
    vault.conn.execute(
        "INSERT INTO orgs(org_id, name, root_public, card, version, expires, own, pinned_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(org_id) DO UPDATE SET"
        " name = excluded.name, root_public = excluded.root_public, card = excluded.card,"
        " version = excluded.version, expires = excluded.expires,"
        " updated_at = excluded.updated_at",
        (
            card.org_id,
            card.name,
            _roots_blob(card.root_keys),
            signed.raw,
            card.version,
            card.expires,
            int(own),
            now,
            now,
        ),
    )


@functools.lru_cache(maxsize=64)
def _parse_stored(raw: bytes) -> SignedCard:
    """Stored cards were verified when pinned and never change: parse each once."""
    return parse_card(raw)


def _load(row: tuple[Any, ...]) -> PinnedOrg:
    org_id, roots_blob, raw, own = row
    try:
        roots = tuple(enc.unb64(r, "root", 32) for r in json.loads(bytes(roots_blob)))
        signed = _parse_stored(bytes(raw))
    except Exception as exc:  # a damaged row is a damaged vault, whatever the cause
        raise CorruptVault(f"stored card of org {org_id} is damaged") from exc
    return PinnedOrg(str(org_id), roots, signed, bool(own))


def get(vault: Vault, org_id: str) -> PinnedOrg:
    row = vault.conn.execute(
        "SELECT org_id, root_public, card, own FROM orgs WHERE org_id = ?", (org_id,)
    ).fetchone()
    if row is None:
        raise UnknownOrg(
            f"this profile has not joined org {org_id}",
            hint="'reprisal-report org show' lists the orgs this profile knows",
        )
    return _load(row)


def all_orgs(vault: Vault) -> list[PinnedOrg]:
    rows = vault.conn.execute(
        "SELECT org_id, root_public, card, own FROM orgs ORDER BY pinned_at, org_id"
    ).fetchall()
    return [_load(r) for r in rows]


def root_signing_key(vault: Vault, org_id: str) -> nacl.signing.SigningKey:
    seed = vault.get_secret(root_secret_name(org_id))
    if seed is None:
        raise UnknownOrg(
            f"this profile does not hold the root key of org {org_id}",
            hint="only the coordinator who created the org can change its card",
        )
    return nacl.signing.SigningKey(seed)
