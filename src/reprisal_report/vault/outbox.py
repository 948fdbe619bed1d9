"""The reporter's outbox: sealed bundles waiting for, or past, delivery.

The bundle files themselves live in ``<profile>/outbox/<bundle id>.rrb``: they are age
ciphertext to the org's coordinators, which this device cannot decrypt either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reprisal_report.model.states import OutboxState
from reprisal_report.vault.cases import utc_now
from reprisal_report.vault.store import Vault


@dataclass(frozen=True)
class OutboxEntry:
    bundle_id: str
    case_id: str
    org_id: str
    case_revision: int
    previous_bundle_id: str | None
    size: int
    sha256: str
    state: OutboxState
    receipt: str | None
    created_at: str


_COLUMNS = (
    "bundle_id, case_id, org_id, case_revision, previous_bundle_id, size, sha256, state,"
    " receipt, created_at"
)


def add(vault: Vault, entry: OutboxEntry) -> None:
    vault.conn.execute(
        f"INSERT INTO outbox({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            entry.bundle_id,
            entry.case_id,
            entry.org_id,
            entry.case_revision,
            entry.previous_bundle_id,
            entry.size,
            entry.sha256,
            entry.state.value,
            entry.receipt,
            entry.created_at,
        ),
    )


def entries(vault: Vault, state: OutboxState | None = None) -> list[OutboxEntry]:
    query = f"SELECT {_COLUMNS} FROM outbox"  # noqa: S608
    params: tuple[str, ...] = ()
    if state is not None:
        query += " WHERE state = ?"
        params = (state.value,)
    rows = vault.conn.execute(query + " ORDER BY created_at, bundle_id", params).fetchall()
    return [_entry(r) for r in rows]


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(
        row[0],
        row[1],
        row[2],
        int(row[3]),
        row[4],
        int(row[5]),
        row[6],
        OutboxState(row[7]),
        row[8],
        row[9],
    )


def mark_delivered(vault: Vault, bundle_id: str, receipt: str | None) -> None:
    vault.conn.execute(
        "UPDATE outbox SET state = ?, receipt = ?, delivered_at = ? "
        "WHERE bundle_id = ? AND state = ?",
        (
            OutboxState.DELIVERED.value,
            receipt,
            utc_now(),
            bundle_id,
            OutboxState.PENDING.value,
        ),
    )
