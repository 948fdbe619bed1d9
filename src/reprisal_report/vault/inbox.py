"""The coordinator's inbox: verified bundles, their cases and attachments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reprisal_report.vault.cases import new_case_id
from reprisal_report.vault.store import Vault


@dataclass(frozen=True)
class InboxBundle:
    bundle_id: str
    bundle_sha256: str
    case_id: str
    org_id: str
    author_key_id: str
    previous_bundle_id: str | None
    manifest: bytes
    signature: bytes
    record: dict[str, Any]
    salts: dict[str, str]
    received_at: str


@dataclass(frozen=True)
class InboxAttachment:
    id: str
    bundle_id: str
    position: int
    name: str
    size: int
    sha256: str
    # Plaintext offset of the data record in the container; None for attachments
    # imported before the evidence store (their bytes are in inbox_chunks).
    data_offset: int | None = None


_COLUMNS = (
    "bundle_id, bundle_sha256, case_id, org_id, author_key_id, previous_bundle_id, manifest,"
    " signature, record, salts, received_at"
)


def _bundle(row: tuple[Any, ...]) -> InboxBundle:
    return InboxBundle(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        bytes(row[6]),
        bytes(row[7]),
        json.loads(row[8]),
        json.loads(row[9]),
        row[10],
    )


def find_bundle(vault: Vault, bundle_id: str) -> InboxBundle | None:
    row = vault.conn.execute(
        f"SELECT {_COLUMNS} FROM inbox_bundles WHERE bundle_id = ?",  # noqa: S608
        (bundle_id,),
    ).fetchone()
    return None if row is None else _bundle(row)


def find_by_sha256(vault: Vault, sha256: str) -> InboxBundle | None:
    row = vault.conn.execute(
        f"SELECT {_COLUMNS} FROM inbox_bundles WHERE bundle_sha256 = ?",  # noqa: S608
        (sha256,),
    ).fetchone()
    return None if row is None else _bundle(row)


def imported_hashes(vault: Vault, hashes: list[str]) -> set[str]:
    """Which of ``hashes`` (bundle SHA-256s) the inbox holds already; one query per 500."""
    found: set[str] = set()
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = vault.conn.execute(
            f"SELECT bundle_sha256 FROM inbox_bundles WHERE bundle_sha256 IN ({marks})",  # noqa: S608
            tuple(chunk),
        ).fetchall()
        found.update(str(row[0]) for row in rows)
    return found


def insert_bundle(vault: Vault, bundle: InboxBundle) -> None:
    vault.conn.execute(
        f"INSERT INTO inbox_bundles({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            bundle.bundle_id,
            bundle.bundle_sha256,
            bundle.case_id,
            bundle.org_id,
            bundle.author_key_id,
            bundle.previous_bundle_id,
            bundle.manifest,
            bundle.signature,
            json.dumps(bundle.record, ensure_ascii=False, sort_keys=True),
            json.dumps(bundle.salts, sort_keys=True),
            bundle.received_at,
        ),
    )
    # The case's triage row follows its latest bundle (imported here: the triage
    # module reads bundles through this one).
    from reprisal_report.vault import triage

    triage.on_bundle(vault, bundle.case_id, verified=(bundle.bundle_id, bundle.org_id))


def chain_order(bundles: list[InboxBundle]) -> list[InboxBundle]:
    """Order a case's bundles along their follow-up links, whatever order they arrived in.

    A bundle comes after the one it names as previous; bundles whose predecessor has not
    arrived (yet) keep their arrival order. Every bundle appears exactly once, whatever
    the links say: a cycle or a fork stored by an older version (the import refuses
    both now) is laid out in arrival order instead of being lost or looping.
    """
    by_previous: dict[str | None, list[InboxBundle]] = {}
    ids = {b.bundle_id for b in bundles}
    for b in bundles:
        key = b.previous_bundle_id if b.previous_bundle_id in ids else None
        by_previous.setdefault(key, []).append(b)
    ordered: list[InboxBundle] = []
    placed: set[str] = set()

    def walk(start: InboxBundle) -> None:
        frontier = [start]
        while frontier:
            current = frontier.pop(0)
            if current.bundle_id in placed:
                continue
            placed.add(current.bundle_id)
            ordered.append(current)
            frontier.extend(by_previous.get(current.bundle_id, []))

    for root in by_previous.get(None, []):
        walk(root)
    for b in bundles:  # members of a cycle have no root to be reached from
        if b.bundle_id not in placed:
            walk(b)
    return ordered


def chain_problem(
    stored: list[InboxBundle], bundle_id: str, previous_bundle_id: str | None
) -> str | None:
    """Why a new bundle would break its case's chain into a fork or a cycle, or None.

    A case is one line of bundles: one first bundle (no previous), and each later one
    continuing a different predecessor. Bundles may arrive in any order, so a stored
    bundle may already name the new one as its previous; that is not a problem.
    """
    for b in stored:
        if b.previous_bundle_id == previous_bundle_id:
            if previous_bundle_id is None:
                return f"case already has a first bundle ({b.bundle_id})"
            return f"bundle {b.bundle_id} already continues {previous_bundle_id} (a fork)"
    by_id = {b.bundle_id: b for b in stored}
    seen: set[str] = set()
    cursor = previous_bundle_id
    while cursor is not None and cursor in by_id and cursor not in seen:
        seen.add(cursor)
        cursor = by_id[cursor].previous_bundle_id
        if cursor == bundle_id:
            return "its chain of previous bundles would lead back to itself (a cycle)"
    return None


# --- sightings: this profile's record that a bundle's exact bytes existed at a time ----
# Stored as meta rows (one per SHA-256, the first time only); the import consults them
# before accepting a bundle whose author was revoked since (docs/threat-model.md).

_SIGHTING = "bundle-seen:"


def record_sighting(vault: Vault, sha256: str, at: str) -> None:
    """Note that this profile held the bundle with this SHA-256 at ``at`` (first time kept)."""
    if vault.get_meta(_SIGHTING + sha256) is None:
        vault.set_meta(_SIGHTING + sha256, at)


def first_sighting(vault: Vault, sha256: str) -> str | None:
    """When this profile first recorded the bundle with this SHA-256, if it ever did."""
    return vault.get_meta(_SIGHTING + sha256)


def bundles_for_case(vault: Vault, case_id: str) -> list[InboxBundle]:
    rows = vault.conn.execute(
        f"SELECT {_COLUMNS} FROM inbox_bundles WHERE case_id = ? ORDER BY rowid",  # noqa: S608
        (case_id,),
    ).fetchall()
    return chain_order([_bundle(r) for r in rows])


def latest_bundles(vault: Vault) -> list[InboxBundle]:
    """The newest bundle of every case along its follow-up chain."""
    rows = vault.conn.execute(
        "SELECT case_id FROM inbox_bundles GROUP BY case_id ORDER BY min(rowid)"
    ).fetchall()
    return [bundles_for_case(vault, str(r[0]))[-1] for r in rows]


def add_attachment(
    vault: Vault,
    bundle_id: str,
    position: int,
    header: tuple[str, int, str],
    data_offset: int,
) -> None:
    """Index one attachment of a stored bundle: name, size, SHA-256 and the plaintext
    offset of its data record in the bundle's container (the bytes stay in the bundle
    file of the evidence store; nothing goes into ``inbox_chunks`` any more)."""
    name, size, sha256 = header
    vault.conn.execute(
        "INSERT INTO inbox_attachments(id, bundle_id, position, name, size, sha256, data_offset)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (new_case_id(), bundle_id, position, name, size, sha256, data_offset),
    )


def attachments(vault: Vault, bundle_id: str) -> list[InboxAttachment]:
    rows = vault.conn.execute(
        "SELECT id, bundle_id, position, name, size, sha256, data_offset FROM inbox_attachments "
        "WHERE bundle_id = ? ORDER BY position",
        (bundle_id,),
    ).fetchall()
    return [InboxAttachment(*r) for r in rows]


def iter_chunks(vault: Vault, attachment_id: str) -> Iterator[bytes]:
    """An attachment imported before the evidence store, chunk by chunk (one in memory)."""
    seq = 0
    while True:
        row = vault.conn.execute(
            "SELECT data FROM inbox_chunks WHERE attachment_id = ? AND seq = ?",
            (attachment_id, seq),
        ).fetchone()
        if row is None:
            return
        yield bytes(row[0])
        seq += 1
