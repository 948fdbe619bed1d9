"""Attachments, streamed into the vault in fixed-size chunks.

Memory stays constant whatever the file size, and plaintext never touches the disk
outside the encrypted database.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from reprisal_report.vault.cases import new_case_id, record_event, utc_now
from reprisal_report.vault.store import Vault

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class AttachmentRow:
    id: str
    case_id: str
    name: str
    size: int
    sha256: str
    original_sha256: str
    metadata: str


def store_attachment(
    vault: Vault,
    case_id: str,
    name: str,
    stream: BinaryIO,
    *,
    original_sha256: str | None,
    metadata: str,
    on_chunk: Callable[[int], None] | None = None,
) -> AttachmentRow:
    """Copy ``stream`` into the vault; the caller holds the transaction."""
    attachment_id = new_case_id()
    digest = hashlib.sha256()
    size = 0
    seq = 0
    vault.conn.execute(
        "INSERT INTO attachments(id, case_id, name, size, sha256, original_sha256, metadata,"
        " created_at) VALUES (?, ?, ?, 0, '', '', ?, ?)",
        (attachment_id, case_id, name, metadata, utc_now()),
    )
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        vault.conn.execute(
            "INSERT INTO attachment_chunks(attachment_id, seq, data) VALUES (?, ?, ?)",
            (attachment_id, seq, chunk),
        )
        seq += 1
        if on_chunk is not None:
            on_chunk(len(chunk))
    sha = digest.hexdigest()
    original = original_sha256 or sha
    vault.conn.execute(
        "UPDATE attachments SET size = ?, sha256 = ?, original_sha256 = ? WHERE id = ?",
        (size, sha, original, attachment_id),
    )
    record_event(vault, case_id, "attached", {"attachment": attachment_id, "sha256": sha})
    return AttachmentRow(attachment_id, case_id, name, size, sha, original, metadata)


def count_by_case(vault: Vault) -> dict[str, int]:
    rows = vault.conn.execute("SELECT case_id, count(*) FROM attachments GROUP BY case_id")
    return {str(case_id): int(n) for case_id, n in rows.fetchall()}


def list_attachments(vault: Vault, case_id: str) -> list[AttachmentRow]:
    rows = vault.conn.execute(
        "SELECT id, case_id, name, size, sha256, original_sha256, metadata FROM attachments "
        "WHERE case_id = ? ORDER BY rowid",
        (case_id,),
    ).fetchall()
    return [AttachmentRow(*r) for r in rows]


# The two chunk tables: a reporter's attachments and a coordinator's received ones.
_CHUNK_QUERIES = {
    "attachment_chunks": "SELECT data FROM attachment_chunks WHERE attachment_id = ? AND seq = ?",
    "inbox_chunks": "SELECT data FROM inbox_chunks WHERE attachment_id = ? AND seq = ?",
}


def iter_chunks(
    vault: Vault, attachment_id: str, table: str = "attachment_chunks"
) -> Iterator[bytes]:
    """Yield a stored file chunk by chunk (one chunk in memory at a time)."""
    query = _CHUNK_QUERIES[table]
    seq = 0
    while True:
        row = vault.conn.execute(query, (attachment_id, seq)).fetchone()
        if row is None:
            return
        yield bytes(row[0])
        seq += 1


def iter_attachment(vault: Vault, attachment_id: str) -> Iterator[bytes]:
    return iter_chunks(vault, attachment_id, "attachment_chunks")


class ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of chunks (one chunk in memory)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._current = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._offset >= len(self._current):
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._current, self._offset = nxt, 0
        n = min(len(view), len(self._current) - self._offset)
        view[:n] = self._current[self._offset : self._offset + n]
        self._offset += n
        return n


def open_attachment(vault: Vault, attachment_id: str) -> BinaryIO:
    return io.BufferedReader(ChunkReader(iter_attachment(vault, attachment_id)), CHUNK_SIZE)
