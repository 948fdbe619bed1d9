"""A reporter's attachments: a row each in the vault, the bytes in an age file beside it.

New attachments are streamed into ``blobs/<random>`` (vault/blobs.py: age-encrypted to
the profile's storage key, padded to a PADMÉ bucket); the row names the blob and holds
the true size and SHA-256. Attachments of releases before the blob store live in the
``attachment_chunks`` table, 1 MiB per row; they are read where they are, never
rewritten (:func:`open_attachment` serves both). Memory stays constant either way.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from reprisal_report.vault.blobs import open_blob, write_blob
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
    # The blob holding the bytes; None for an attachment stored in attachment_chunks.
    blob: str | None = None


def store_attachment(
    vault: Vault,
    case_id: str,
    name: str,
    stream: BinaryIO,
    *,
    original_sha256: str | None,
    metadata: str,
    pad_to: Callable[[int], int],
    on_chunk: Callable[[int], None] | None = None,
) -> AttachmentRow:
    """Stream ``stream`` into a new blob, then add the row naming it; the caller holds
    the transaction (the blob is on disk, fsynced, before the row can commit)."""
    stored = write_blob(vault, stream, pad_to=pad_to, on_chunk=on_chunk)
    attachment_id = new_case_id()
    original = original_sha256 or stored.sha256
    vault.conn.execute(
        "INSERT INTO attachments(id, case_id, name, size, sha256, original_sha256, metadata,"
        " created_at, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            attachment_id,
            case_id,
            name,
            stored.size,
            stored.sha256,
            original,
            metadata,
            utc_now(),
            stored.name,
        ),
    )
    record_event(vault, case_id, "attached", {"attachment": attachment_id, "sha256": stored.sha256})
    return AttachmentRow(
        attachment_id, case_id, name, stored.size, stored.sha256, original, metadata, stored.name
    )


def case_blobs(vault: Vault, case_id: str) -> list[str]:
    """The blobs holding ``case_id``'s attachments (to unlink once its rows are gone)."""
    rows = vault.conn.execute(
        "SELECT blob FROM attachments WHERE case_id = ? AND blob IS NOT NULL", (case_id,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def count_by_case(vault: Vault) -> dict[str, int]:
    rows = vault.conn.execute("SELECT case_id, count(*) FROM attachments GROUP BY case_id")
    return {str(case_id): int(n) for case_id, n in rows.fetchall()}


def list_attachments(vault: Vault, case_id: str) -> list[AttachmentRow]:
    rows = vault.conn.execute(
        "SELECT id, case_id, name, size, sha256, original_sha256, metadata, blob FROM attachments "
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


def open_attachment(vault: Vault, row: AttachmentRow) -> BinaryIO:
    """The attachment's bytes, from its blob or (older releases) its chunks."""
    if row.blob is not None:
        return open_blob(vault, row.blob, row.size, f"an attachment of case {row.case_id}")
    return io.BufferedReader(ChunkReader(iter_attachment(vault, row.id)), CHUNK_SIZE)
