"""The ``orgs`` table: org cards this profile created or joined (``identity.pinning``
verifies and parses them; this module only stores and returns the rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reprisal_report.errors import CorruptVault
from reprisal_report.vault import custody
from reprisal_report.vault.cases import utc_now
from reprisal_report.vault.store import Vault


@dataclass(frozen=True)
class OrgRow:
    org_id: str
    roots_blob: bytes
    card: bytes
    own: bool


@dataclass(frozen=True)
class NewPin:
    org_id: str
    name: str
    roots_blob: bytes
    card: bytes
    version: int
    expires: str
    own: bool


def upsert(vault: Vault, pin: NewPin) -> None:
    """Insert the org, or replace its card (its first pinning time and ``own`` stay);
    the card joins the org's card history."""
    now = utc_now()
    vault.conn.execute(
        "INSERT INTO orgs(org_id, name, root_public, card, version, expires, own, pinned_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(org_id) DO UPDATE SET"
        " name = excluded.name, root_public = excluded.root_public, card = excluded.card,"
        " version = excluded.version, expires = excluded.expires,"
        " updated_at = excluded.updated_at",
        (
            pin.org_id,
            pin.name,
            pin.roots_blob,
            pin.card,
            pin.version,
            pin.expires,
            int(pin.own),
            now,
            now,
        ),
    )
    # Every signed version is kept, so an auditor can tell who held which role when.
    custody.record_card(vault, pin.org_id, pin.version, pin.card)


def _row(row: tuple[Any, ...]) -> OrgRow:
    org_id, roots_blob, card, own = row
    try:
        return OrgRow(str(org_id), bytes(roots_blob), bytes(card), bool(own))
    except TypeError as exc:  # a value of the wrong type: the row is damaged
        raise CorruptVault(f"stored card of org {org_id} is damaged") from exc


def find(vault: Vault, org_id: str) -> OrgRow | None:
    row = vault.conn.execute(
        "SELECT org_id, root_public, card, own FROM orgs WHERE org_id = ?", (org_id,)
    ).fetchone()
    return None if row is None else _row(row)


def all_rows(vault: Vault) -> list[OrgRow]:
    """Every pinned org, in the order they were first pinned."""
    rows = vault.conn.execute(
        "SELECT org_id, root_public, card, own FROM orgs ORDER BY pinned_at, org_id"
    ).fetchall()
    return [_row(r) for r in rows]


def org_ids(vault: Vault) -> list[str]:
    """The ids of every pinned org, in the order they were first pinned."""
    rows = vault.conn.execute("SELECT org_id FROM orgs ORDER BY pinned_at").fetchall()
    return [str(r[0]) for r in rows]
