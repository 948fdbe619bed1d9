"""Evidence files of several imports made durable together (``sync pull``).

``vault.evidence.EvidenceWriter`` fsyncs each retained bundle, renames it and fsyncs
the evidence folder before the vault rows naming it are written. A pull imports many
bundles inside one vault transaction (each import a savepoint), so the only moment the
files must be durable is that transaction's commit. :class:`EvidenceBatch` hands out
writers that, on ``keep``, only flush and rename; :meth:`EvidenceBatch.sync`, called
as the last step inside the transaction, fsyncs every kept file and then the folder
once. The rules of the evidence store stay as they are:

- a bundle that fails verification leaves nothing (its writer is discarded: temp
  file or renamed file removed), whatever the others in the batch do;
- a row never commits without its file: the commit comes after ``sync``; a crash
  before it leaves files without rows (orphans, removed by
  ``evidence.remove_orphans`` at the next import), never the reverse;
- if the transaction does not commit, :meth:`EvidenceBatch.abandon` removes the files
  of the whole batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from reprisal_report.vault import evidence
from reprisal_report.vault.files import create_new, fsync_dir, sync_file, temp_name
from reprisal_report.vault.store import Vault


def _ensure_folder(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not stat.S_ISDIR(path.lstat().st_mode):
            raise NotADirectoryError(f"{path} is not a folder") from None
        return
    fsync_dir(path.parent)


class BatchedEvidenceWriter:
    """Like ``evidence.EvidenceWriter``, but ``keep`` leaves the fsyncs to the batch.

    Fetched bundles are small and already in memory: the bytes are written and hashed
    on the importing thread."""

    def __init__(self, batch: EvidenceBatch) -> None:
        self._batch = batch
        self.temp = temp_name(batch.folder / f"incoming{evidence.SUFFIX}")
        self.size = 0
        self._final: Path | None = None
        self._kept = False
        self._digest = hashlib.sha256()
        self._handle: BinaryIO | None = os.fdopen(create_new(self.temp), "wb")

    @property
    def final(self) -> Path:
        if self._final is None:
            raise ValueError("evidence file not finished")
        return self._final

    def write(self, data: bytes) -> None:
        if self._handle is None or self._kept or self._final is not None:
            raise ValueError("evidence file already closed")
        self._handle.write(data)
        self._digest.update(data)
        self.size += len(data)

    def finish(self) -> str:
        """Every byte written: their SHA-256 (hex), which names the final file."""
        digest = self._digest.hexdigest()
        self._final = self._batch.folder / evidence.file_name(digest)
        return digest

    def keep(self) -> None:
        """Give the verified copy its final name; ``EvidenceBatch.sync`` makes it durable."""
        if self._handle is None or self._kept:
            raise ValueError("evidence file already closed")
        self._handle.flush()
        os.replace(self.temp, self.final)
        self._kept = True
        self._batch.kept.append(self)

    def sync(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            raise ValueError("evidence file already closed")
        with handle:
            sync_file(handle)

    def discard(self) -> None:
        """Remove the copy, temporary or renamed: nothing of a refused bundle remains."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        for path in (self._final if self._kept else None, self.temp):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        if self in self._batch.kept:
            self._batch.kept.remove(self)


class EvidenceBatch:
    """The evidence files of one vault transaction's imports."""

    def __init__(self, vault: Vault) -> None:
        self.folder = evidence.folder(vault)
        self.kept: list[BatchedEvidenceWriter] = []
        self._ready = False

    def writer(self) -> BatchedEvidenceWriter:
        if not self._ready:
            _ensure_folder(self.folder)
            self._ready = True
        return BatchedEvidenceWriter(self)

    def sync(self) -> None:
        """fsync every kept file, then the folder once (inside the transaction, last)."""
        for item in self.kept:
            item.sync()
        if self.kept:
            fsync_dir(self.folder)

    def abandon(self) -> None:
        """The transaction did not commit: remove every file of the batch."""
        for item in list(self.kept):
            item.discard()
        if self._ready:
            with contextlib.suppress(OSError):
                fsync_dir(self.folder)

    @contextlib.contextmanager
    def guard(self) -> Iterator[EvidenceBatch]:
        """``abandon`` the batch if the block (the vault transaction) raises."""
        try:
            yield self
        except BaseException:
            self.abandon()
            raise


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
