"""The coordinator's evidence store: every imported bundle kept byte for byte as it came.

``evidence/<sha256>.rrb`` beside the vault holds the received file unchanged: age
ciphertext to the org's recipient keys, readable only with this coordinator's age
identity, which lives only in the vault (so after ``panic`` nothing here opens). The
vault row of the bundle (``inbox_bundles.evidence_file``) names the file; bundles
imported before the store existed have none.

While a bundle is being verified its bytes go to a temporary file in the same folder
(``.incoming.rrb.tmp-<random>``, created through :mod:`vault.files`). Only a bundle
that verified completely is fsynced and renamed to its final name, before the vault
transaction that references it commits: a crash can leave a file without a row (an
orphan, removed by :func:`remove_orphans` at the next import), never a row without
its file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import stat
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reprisal_report.vault.files import (
    TEMP_MARK,
    HashingFileWriter,
    ReadAheadFile,
    create_new,
    fsync_dir,
    sync_file,
    temp_name,
)
from reprisal_report.vault.store import Vault

FOLDER_NAME = "evidence"
SUFFIX = ".rrb"
_FINAL = re.compile(r"[0-9a-f]{64}\.rrb")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
READ_CHUNK = 1024 * 1024

# Vaults whose orphans were removed by this process already (one sweep per open vault).
_swept: weakref.WeakSet[Vault] = weakref.WeakSet()


def folder_of(home: Path) -> Path:
    return home / FOLDER_NAME


def folder(vault: Vault) -> Path:
    return folder_of(vault.directory())


def file_name(sha256: str) -> str:
    return f"{sha256}{SUFFIX}"


def _ensure_folder(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(f"{path} is not a folder") from None
        return
    fsync_dir(path.parent)


@dataclass(frozen=True)
class Retained:
    """A bundle's retained file as the vault records it."""

    sha256: str
    name: str
    size: int
    path: Path


class _InlineCopy:
    """A batch member's bytes: written and hashed on the importing thread (fetched
    bundles are small and already in memory; threads would cost more than they save)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._digest.update(data)

    def close(self) -> str:
        self._handle.flush()
        return self._digest.hexdigest()

    def abort(self) -> None:
        return None


class EvidenceWriter:
    """The temporary copy of one bundle while it is verified; ``keep`` or ``discard``.

    ``write`` is given exactly the bytes the import decrypts (a tee of the ciphertext
    as age reads it), so the kept file is what was verified; ``finish`` returns their
    SHA-256, which names the final file.

    Alone (``inbox import``, a bundle of any size) the bytes are written and hashed on
    threads of their own (``HashingFileWriter``), beside the decryption, and ``keep``
    fsyncs the copy, renames it and fsyncs the folder. As a member of an
    :class:`EvidenceBatch` (``sync pull``) they are written on the importing thread and
    ``keep`` only renames: the batch makes its kept files durable together.
    """

    def __init__(self, vault: Vault, batch: EvidenceBatch | None = None) -> None:
        if batch is None:
            where = folder(vault)
            _ensure_folder(where)
        else:
            where = batch.folder  # made once by the batch
        self._folder = where
        self._batch = batch
        self.temp = temp_name(where / f"incoming{SUFFIX}")
        self.size = 0
        self._final: Path | None = None
        self._kept = False
        handle = os.fdopen(create_new(self.temp), "wb")
        self._handle: BinaryIO | None = handle
        self._copy = HashingFileWriter(handle) if batch is None else _InlineCopy(handle)

    @property
    def final(self) -> Path:
        if self._final is None:
            raise ValueError("evidence file not finished")
        return self._final

    def write(self, data: bytes) -> None:
        if self._handle is None or self._final is not None:
            raise ValueError("evidence file already closed")
        self._copy.write(data)
        self.size += len(data)

    def finish(self) -> str:
        """Every byte written: their SHA-256 (hex), which names the final file."""
        digest = self._copy.close()
        self._final = self._folder / file_name(digest)
        return digest

    def keep(self) -> None:
        """Give the verified copy its final name (the vault row follows). Alone, the
        copy is fsynced before and the folder after; in a batch, ``EvidenceBatch.sync``
        does both for every kept file."""
        if self._handle is None or self._kept:
            raise ValueError("evidence file already closed")
        if self._batch is None:
            self.sync()
        os.replace(self.temp, self.final)
        self._kept = True
        if self._batch is None:
            fsync_dir(self._folder)
        else:
            self._batch.kept.append(self)

    def sync(self) -> None:
        """fsync and close the copy."""
        handle, self._handle = self._handle, None
        if handle is None:
            raise ValueError("evidence file already closed")
        with handle:
            sync_file(handle)

    def discard(self) -> None:
        """Remove the copy, temporary or renamed: nothing of a refused bundle remains."""
        self._copy.abort()
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        for path in (self._final if self._kept else None, self.temp):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        if self._batch is None:
            with contextlib.suppress(OSError):
                fsync_dir(self._folder)
        elif self in self._batch.kept:
            self._batch.kept.remove(self)


class EvidenceBatch:
    """The evidence files of several imports made durable together (``sync pull``).

    A pull imports many bundles inside one vault transaction (each import a savepoint),
    so the only moment their files must be durable is that transaction's commit:
    :meth:`sync`, called as the last step inside it, fsyncs every kept file and then
    the folder once. The rules stay those of a single import: a bundle that fails
    verification leaves nothing (its writer is discarded), whatever the others do; a
    row never commits without its file (a crash before the commit leaves orphans,
    removed at the next import, never the reverse); if the transaction does not
    commit, :meth:`abandon` removes the files of the whole batch.
    """

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self.folder = folder(vault)
        self.kept: list[EvidenceWriter] = []
        self._ready = False

    def writer(self) -> EvidenceWriter:
        if not self._ready:
            _ensure_folder(self.folder)
            self._ready = True
        return EvidenceWriter(self._vault, self)

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


def record(vault: Vault, bundle_id: str, name: str, size: int) -> None:
    """Note on the bundle's row which evidence file holds it."""
    vault.conn.execute(
        "UPDATE inbox_bundles SET evidence_file = ?, evidence_size = ? WHERE bundle_id = ?",
        (name, size, bundle_id),
    )


def retained(vault: Vault, bundle_id: str) -> Retained | None:
    """The retained file of a bundle, or None (imported before the evidence store)."""
    row = vault.conn.execute(
        "SELECT bundle_sha256, evidence_file, evidence_size FROM inbox_bundles WHERE bundle_id = ?",
        (bundle_id,),
    ).fetchone()
    if row is None or row[1] is None:
        return None
    return Retained(str(row[0]), str(row[1]), int(row[2]), folder(vault) / str(row[1]))


@contextlib.contextmanager
def open_retained(item: Retained) -> Iterator[BinaryIO]:
    """The retained file for reading, never through a symbolic link."""
    fd = os.open(item.path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileNotFoundError(f"{item.path} is not a regular file")
        handle = io.BufferedReader(ReadAheadFile(fd), READ_CHUNK)
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def _referenced(vault: Vault) -> set[str]:
    rows = vault.conn.execute(
        "SELECT evidence_file FROM inbox_bundles WHERE evidence_file IS NOT NULL"
    ).fetchall()
    return {str(r[0]) for r in rows}


def remove_orphans(vault: Vault) -> list[str]:
    """Remove evidence files no vault row references, and temporary copies.

    A crash between an evidence file's rename and the commit of its row leaves such a
    file; so does a crash while a bundle was being verified. Called by the import
    (under the profile's write lock, before it starts a transaction), once per open
    vault. Anything in the folder that is not one of ours is left alone.
    """
    if vault in _swept:
        return []
    _swept.add(vault)
    where = folder(vault)
    try:
        entries = sorted(where.iterdir())
    except FileNotFoundError:
        return []
    referenced = _referenced(vault)
    removed: list[str] = []
    for entry in entries:
        name = entry.name
        ours_temp = name.startswith(".") and TEMP_MARK in name
        orphan = _FINAL.fullmatch(name) is not None and name not in referenced
        if not (ours_temp or orphan):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(name)
    if removed:
        fsync_dir(where)
    return removed
