"""The relay's append-only log of accepted bundles, in SQLite, mirrored as a Merkle tree.

One row per accepted bundle, numbered from 0 in the order of acceptance. Rows are
never deleted or renumbered; acknowledging a bundle only flags its row. The database
runs in WAL mode with ``synchronous=FULL``, so a committed row survives a crash or
power cut, and the relay answers an upload only after that commit.

What a row keeps is deliberately little: the bundle's hash and size, the time of its
receipt's tree head, and the uploader's key id only until a coordinator acknowledges
the bundle (it is needed for quotas, and would otherwise tell whoever seizes the relay
which reporter sent what).

The class is not thread-safe on its own: ``RelayService`` serialises every call.
"""

from __future__ import annotations

import sqlite3
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
"""


@dataclass(frozen=True)
class LogEntry:
    index: int
    sha256: str
    size: int
    # The timestamp of the tree head in this entry's receipt; with the index it
    # determines the receipt, so a re-upload gets back exactly the same one.
    sth_timestamp: int
    acknowledged: bool


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
        index = self.tree.size
        self._conn.execute(
            "INSERT INTO entries (idx, sha256, size, sth_timestamp, uploader)"
            " VALUES (?, ?, ?, ?, ?)",
            (index, sha256, size, sth_timestamp, uploader),
        )
        # Only after the commit: the in-memory tree never runs ahead of the disk.
        self.tree.append(bytes.fromhex(sha256))
        return LogEntry(index, sha256, size, sth_timestamp, False)

    def after(self, after: int, limit: int) -> list[LogEntry]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE idx > ? ORDER BY idx LIMIT ?",  # noqa: S608
            (after, limit),
        ).fetchall()
        return [_entry(r) for r in rows]

    def acknowledge(self, sha256: str) -> None:
        self._conn.execute(
            "UPDATE entries SET acked = 1, uploader = NULL WHERE sha256 = ?", (sha256,)
        )

    def usage(self, uploader: str) -> int:
        """Bytes this key has stored that no coordinator has acknowledged yet."""
        row = self._conn.execute(
            "SELECT COALESCE(SUM(size), 0) FROM entries WHERE uploader = ? AND acked = 0",
            (uploader,),
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._conn.close()
