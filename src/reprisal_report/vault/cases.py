"""Case rows inside the vault."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from reprisal_report import clock
from reprisal_report.errors import InvalidInput, NotFound
from reprisal_report.model.canonical import canonical_json
from reprisal_report.model.states import CaseState
from reprisal_report.vault import custody
from reprisal_report.vault.store import Vault

MIN_PREFIX = 6


def utc_now() -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def new_case_id() -> str:
    # 80 random bits, lower-case base32: easy to read aloud, no need to be secret.
    return base64.b32encode(os.urandom(10)).decode("ascii").lower()


@dataclass(frozen=True)
class CaseRow:
    id: str
    org_id: str | None
    state: CaseState
    record: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str
    sealed_revision: int | None = None
    last_bundle_id: str | None = None

    @property
    def needs_sealing(self) -> bool:
        """True when the case holds changes no bundle carries yet (a finished case never
        sealed, or edited or given an attachment after its last seal)."""
        if self.state in (CaseState.DRAFT, CaseState.PURGED):
            return False
        return self.sealed_revision != self.revision


def _row(row: tuple[Any, ...]) -> CaseRow:
    return CaseRow(
        id=row[0],
        org_id=row[1],
        state=CaseState(row[2]),
        record=json.loads(row[3]),
        revision=int(row[4]),
        created_at=row[5],
        updated_at=row[6],
        sealed_revision=row[7],
        last_bundle_id=row[8],
    )


_COLUMNS = (
    "id, org_id, state, record, revision, created_at, updated_at, sealed_revision, last_bundle_id"
)


_INSERT_EVENT = (
    "INSERT INTO custody_events(case_id, action, at, detail, actor) VALUES (?, ?, ?, ?, ?)"
)


def record_event(
    vault: Vault,
    case_id: str | None,
    action: str,
    detail: dict[str, Any],
    *,
    actor: str | None = None,
) -> None:
    """Record a custody event: the vault's own row (``custody_events``, with the whole
    ``detail``) and, in the same transaction, the signed, hash-chained entry of the
    custody log that an auditor receives (``vault.custody``: ids, hashes and counts
    only). Opens a transaction when the caller holds none. ``actor`` is the key id of
    the profile that acted, where the action names one; the log entry always names
    the key that signs it, this profile's."""
    at = utc_now()
    with vault.transaction():
        vault.conn.execute(
            _INSERT_EVENT, (case_id, action, at, canonical_json(detail).decode("utf-8"), actor)
        )
        custody.append(vault, case_id, action, detail, at)


def insert_case(
    vault: Vault, record: dict[str, Any], *, state: CaseState, org_id: str | None
) -> str:
    case_id = new_case_id()
    now = utc_now()
    vault.conn.execute(
        "INSERT INTO cases(id, org_id, state, record, revision, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 1, ?, ?)",
        (case_id, org_id, state, canonical_json(record).decode("utf-8"), now, now),
    )
    record_event(vault, case_id, "created", {"state": state.value})
    return case_id


def update_case(vault: Vault, case_id: str, record: dict[str, Any], *, state: CaseState) -> int:
    row = vault.conn.execute(
        "UPDATE cases SET record = ?, state = ?, revision = revision + 1, updated_at = ? "
        "WHERE id = ? RETURNING revision",
        (canonical_json(record).decode("utf-8"), state, utc_now(), case_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no case {case_id}")
    record_event(vault, case_id, "edited", {"revision": int(row[0]), "state": state.value})
    return int(row[0])


def bump_revision(vault: Vault, case_id: str) -> int:
    """A new revision for a change outside the record (an attachment): a sealed case
    becomes ready to seal again, so its last bundle no longer stands for it."""
    row = vault.conn.execute(
        "UPDATE cases SET revision = revision + 1, updated_at = ?,"
        " state = CASE state WHEN ? THEN ? ELSE state END"
        " WHERE id = ? RETURNING revision",
        (utc_now(), CaseState.SEALED.value, CaseState.READY.value, case_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no case {case_id}")
    return int(row[0])


def set_org(vault: Vault, case_id: str, org_id: str | None) -> None:
    vault.conn.execute("UPDATE cases SET org_id = ? WHERE id = ?", (org_id, case_id))
    record_event(vault, case_id, "addressed", {"org_id": org_id})


def mark_sealed(vault: Vault, case_id: str, org_id: str, bundle_id: str) -> None:
    """The case's current revision is sealed into ``bundle_id`` for ``org_id``."""
    vault.conn.execute(
        "UPDATE cases SET state = ?, org_id = ?, sealed_revision = revision,"
        " last_bundle_id = ? WHERE id = ?",
        (CaseState.SEALED.value, org_id, bundle_id, case_id),
    )


def purge_if_unchanged(vault: Vault, case_id: str, bundle_id: str, revision: int) -> bool:
    """Drop a delivered case's plaintext, but only if ``bundle_id`` holds all of it.

    That is: the case is sealed, at ``revision`` (the one sealed into the bundle), and
    the bundle is its latest. Otherwise nothing is touched and False is returned.
    """
    row = vault.conn.execute(
        "SELECT state, revision, sealed_revision, last_bundle_id FROM cases WHERE id = ?",
        (case_id,),
    ).fetchone()
    if row is None:
        return False
    state, current, sealed, last = row
    if (state, current, sealed, last) != (CaseState.SEALED, revision, revision, bundle_id):
        return False
    vault.conn.execute("DELETE FROM attachments WHERE case_id = ?", (case_id,))
    vault.conn.execute(
        "UPDATE cases SET record = '{}', state = ? WHERE id = ?", (CaseState.PURGED.value, case_id)
    )
    record_event(vault, case_id, "purged", {"bundle_id": bundle_id, "revision": revision})
    return True


@dataclass(frozen=True)
class _IdTable:
    exact: str
    prefix: str
    missing: str
    hint: str


# Where case ids live: a reporter's own cases, and the cases a coordinator received.
_ID_TABLES = {
    "cases": _IdTable(
        "SELECT id FROM cases WHERE id = ?",
        "SELECT id FROM cases WHERE substr(id, 1, ?) = ?",
        "no case {ref}",
        "'reprisal-report case list' shows the case ids",
    ),
    "inbox": _IdTable(
        "SELECT DISTINCT case_id FROM inbox_bundles WHERE case_id = ?",
        "SELECT DISTINCT case_id FROM inbox_bundles WHERE substr(case_id, 1, ?) = ?",
        "no received case {ref}",
        "'reprisal-report triage list' shows them",
    ),
}


def resolve_case_id(vault: Vault, ref: str, table: str = "cases") -> str:
    """Accept a full id or a unique prefix of at least six characters."""
    where = _ID_TABLES[table]
    ref = ref.strip().lower()
    if not ref.isalnum():
        raise InvalidInput(f"not a case id: {ref!r}")
    exact = vault.conn.execute(where.exact, (ref,)).fetchone()
    if exact is not None:
        return str(exact[0])
    if len(ref) >= MIN_PREFIX:
        rows = vault.conn.execute(where.prefix, (len(ref), ref)).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if len(rows) > 1:
            raise InvalidInput(f"case id prefix {ref} is ambiguous", hint="give more characters")
    raise NotFound(where.missing.format(ref=ref), hint=where.hint)


def get_case(vault: Vault, ref: str) -> CaseRow:
    case_id = resolve_case_id(vault, ref)
    row = vault.conn.execute(
        f"SELECT {_COLUMNS} FROM cases WHERE id = ?",  # noqa: S608
        (case_id,),
    ).fetchone()
    return _row(row)


def list_cases(vault: Vault) -> list[CaseRow]:
    rows = vault.conn.execute(
        f"SELECT {_COLUMNS} FROM cases ORDER BY created_at, id"  # noqa: S608
    ).fetchall()
    return [_row(r) for r in rows]
