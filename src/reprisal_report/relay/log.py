"""The relay's append-only log of accepted bundles, in SQLite, mirrored as a Merkle tree.

One row per accepted bundle, numbered from 0 in the order of acceptance. Rows are
never deleted or renumbered; deleting a bundle's bytes only flags its row. The database
runs in WAL mode with ``synchronous=FULL``, so a committed row survives a crash or
power cut, and the relay answers an upload only after that commit.

Acknowledgements are per coordinator (table ``acks``): ``RelayService`` deletes the
bytes once every active coordinator acknowledged them, or when the retention period
ends, and then flags the row (column ``acked``, which therefore means "bytes deleted").

What a row keeps is deliberately little: the bundle's hash and size, the time of its
receipt's tree head, and the uploader's key id only until the bytes are deleted (it is
needed for quotas, and would otherwise tell whoever seizes the relay which reporter
sent what). An ack row names a coordinator, an org member the card lists anyway.

This is the relay's own plain SQLite file, not a profile vault: it holds no plaintext
and no secret (only hashes, sizes, times and key ids), so it lives with the relay
rather than behind ``vault/`` (see docs/relay.md).

The class is not thread-safe on its own: ``RelayService`` serialises every call.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reprisal_report.errors import RelaySetupError
from reprisal_report.protocol.merkle import MerkleTree

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY CHECK (idx >= 0),
    sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
    size INTEGER NOT NULL CHECK (size > 0),
    sth_timestamp INTEGER NOT NULL,
    uploader TEXT,
    acked INTEGER NOT NULL DEFAULT 0 CHECK (acked IN (0, 1))
);
CREATE INDEX IF NOT EXISTS entries_uploader ON entries (uploader) WHERE uploader IS NOT NULL;
CREATE TABLE IF NOT EXISTS acks (
    sha256 TEXT NOT NULL REFERENCES entries (sha256),
    coordinator TEXT NOT NULL,
    PRIMARY KEY (sha256, coordinator)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class LogEntry:
    index: int
    sha256: str
    size: int
    # The timestamp of the tree head in this entry's receipt; with the index it
    # determines the receipt, so a re-upload gets back exactly the same one.
    sth_timestamp: int
    # The bytes were deleted (every active coordinator acknowledged, or retention ended).
    deleted: bool


_COLUMNS = "idx, sha256, size, sth_timestamp, acked"


def _entry(row: tuple[int, str, int, int, int]) -> LogEntry:
    return LogEntry(row[0], row[1], row[2], row[3], bool(row[4]))


class BundleLog:
    def __init__(self, path: Path) -> None:
        try:
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise RelaySetupError(f"cannot open the relay log {path}: {exc}") from None
        self.tree = MerkleTree()
        for expected, (idx, sha256) in enumerate(
            self._conn.execute("SELECT idx, sha256 FROM entries ORDER BY idx")
        ):
            # A gap would mean rows were deleted: the tree could no longer match the
            # receipts already handed out, so refuse to serve rather than paper over it.
            if idx != expected:
                raise RelaySetupError(f"relay log {path} has a gap at index {expected}")
            self.tree.append(bytes.fromhex(sha256))

    @property
    def size(self) -> int:
        return self.tree.size

    def find(self, sha256: str) -> LogEntry | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE sha256 = ?",  # noqa: S608 - constant columns
            (sha256,),
        ).fetchone()
        return None if row is None else _entry(row)

    def append(self, sha256: str, size: int, uploader: str, sth_timestamp: int) -> LogEntry:
        return self.append_many([(sha256, size, uploader)], sth_timestamp)[0]

    def append_many(
        self, uploads: Sequence[tuple[str, int, str]], sth_timestamp: int
    ) -> list[LogEntry]:
        """Log ``(sha256, size, uploader)`` uploads in order, in one transaction."""
        first = self.tree.size
        rows = [
            (first + offset, sha256, size, sth_timestamp, uploader)
            for offset, (sha256, size, uploader) in enumerate(uploads)
        ]
        with self.transaction():
            self._conn.executemany(
                "INSERT INTO entries (idx, sha256, size, sth_timestamp, uploader)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        # Only after the commit: the in-memory tree never runs ahead of the disk.
        for _, sha256, _, _, _ in rows:
            self.tree.append(bytes.fromhex(sha256))
        return [LogEntry(idx, sha256, size, ts, False) for idx, sha256, size, ts, _ in rows]

    def find_many(self, hashes: Sequence[str]) -> dict[str, LogEntry]:
        """The entries of those ``hashes`` the log holds, by hash (at most 500 at once)."""
        if not hashes:
            return {}
        marks = ", ".join("?" * len(hashes))
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE sha256 IN ({marks})",  # noqa: S608 - marks
            tuple(hashes),
        ).fetchall()
        return {row[1]: _entry(row) for row in rows}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One commit (one fsync of the WAL) for several acknowledgements and flags.

        Not for ``append``: the tree must only grow after its row committed.
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def after(self, after: int, limit: int) -> list[LogEntry]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE idx > ? ORDER BY idx LIMIT ?",  # noqa: S608
            (after, limit),
        ).fetchall()
        return [_entry(r) for r in rows]

    def after_for(self, coordinator: str, after: int, limit: int) -> list[tuple[LogEntry, bool]]:
        """Like ``after``, with whether ``coordinator`` acknowledged each entry."""
        rows = self._conn.execute(
            "SELECT e.idx, e.sha256, e.size, e.sth_timestamp, e.acked, a.coordinator"
            " FROM entries e LEFT JOIN acks a ON a.sha256 = e.sha256 AND a.coordinator = ?"
            " WHERE e.idx > ? ORDER BY e.idx LIMIT ?",
            (coordinator, after, limit),
        ).fetchall()
        return [(_entry(r[:5]), r[5] is not None) for r in rows]

    def acknowledge(self, sha256: str, coordinator: str) -> None:
        """Record one coordinator's acknowledgement (idempotent)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO acks (sha256, coordinator) VALUES (?, ?)",
            (sha256, coordinator),
        )

    def acknowledge_many(self, hashes: Sequence[str], coordinator: str) -> None:
        """``acknowledge`` for each hash (call inside ``transaction``)."""
        self._conn.executemany(
            "INSERT OR IGNORE INTO acks (sha256, coordinator) VALUES (?, ?)",
            [(sha256, coordinator) for sha256 in hashes],
        )

    def held(self) -> list[tuple[LogEntry, frozenset[str]]]:
        """Entries whose bytes are still held, with the coordinators who acknowledged each."""
        rows = self._conn.execute(
            "SELECT e.idx, e.sha256, e.size, e.sth_timestamp, e.acked,"
            " group_concat(a.coordinator, ' ')"
            " FROM entries e LEFT JOIN acks a ON a.sha256 = e.sha256"
            " WHERE e.acked = 0 GROUP BY e.idx ORDER BY e.idx"
        ).fetchall()
        return [(_entry(r[:5]), frozenset((r[5] or "").split())) for r in rows]

    def mark_deleted(self, sha256: str) -> None:
        """Flag the row: the bytes are gone, and so is the uploader's key id."""
        self._conn.execute(
            "UPDATE entries SET acked = 1, uploader = NULL WHERE sha256 = ?", (sha256,)
        )

    def usage(self, uploader: str) -> int:
        """Bytes this key has stored that the relay still holds."""
        row = self._conn.execute(
            "SELECT COALESCE(SUM(size), 0) FROM entries WHERE uploader = ? AND acked = 0",
            (uploader,),
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._conn.close()
