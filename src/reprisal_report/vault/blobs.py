"""A reporter's attachments as age files beside the vault: ``<profile>/blobs/<random>``.

Bulk bytes stay out of SQLCipher (whose per-page AES-CBC + HMAC costs several seconds
per GiB) yet are never plaintext on disk: each blob is a binary age v1 file (pyrage,
X25519) encrypted to this profile's **storage identity**, an age identity kept only in
the vault's ``secrets`` table and created on first use. Whoever cannot open the vault
cannot read a blob; destroying the vault key (``panic``) makes every blob unreadable
before a single one is unlinked.

The plaintext inside the age file is the attachment followed by zero bytes up to its
PADMÉ bucket (``pad_to``, bundle/padding.py, given by the caller): a blob's size tells
only its bucket. The true size and SHA-256 are in the attachment's vault row, which
also names the blob; the name is 128 random bits, so it says nothing about the file.

Writing: a temporary name in ``blobs/`` (vault.files: O_EXCL|O_NOFOLLOW, 0600),
fsynced, renamed, the folder fsynced, and only then may the row commit. A crash leaves
at worst a blob no row names (an orphan); :func:`remove_orphans` deletes those, and only
a command holding the profile's write lock may call it (an ``attach`` in progress
has blobs its uncommitted rows will name).

Reading streams: :func:`open_blob` decrypts in a forked child process that hands the
plaintext over in a small ring of shared memory (``_SLOTS`` pieces of ``READ_SIZE``),
so ``seal`` reads a blob of any size in constant memory and decryption runs beside the
bundle's encryption on a second core. The reader returns end-of-file only after the
child authenticated the whole age file and checked its padding to be zeros.

This module is the blob store's one user of pyrage's streaming API besides
bundle/age_layer.py (which the vault layer cannot import); it guards the same traps:
exceptions of our own streams are kept and re-raised, and the writer's errors are
re-raised even when pyrage swallowed them on its final flush.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import mmap
import os
import secrets
import signal
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import pyrage

from reprisal_report.crashpoints import crash_point
from reprisal_report.errors import CorruptVault
from reprisal_report.vault.files import (
    BackgroundWriter,
    ReadAheadFile,
    fsync_dir,
    open_new,
    temp_name,
)
from reprisal_report.vault.store import Vault

BLOBS_DIR = "blobs"
STORAGE_SECRET = "storage/age-x25519"  # noqa: S105 - a row name, not a secret
READ_SIZE = 1024 * 1024
_NAME_BYTES = 16


@dataclass(frozen=True)
class StoredBlob:
    name: str
    size: int  # the attachment's bytes (the padding excluded)
    sha256: str


def blob_dir(vault: Vault) -> Path:
    """``blobs/`` beside this vault's database file."""
    return vault.directory() / BLOBS_DIR


def _identity(vault: Vault, *, create: bool) -> Any:
    raw = vault.get_secret(STORAGE_SECRET)
    if raw is None:
        if not create:
            raise CorruptVault("this profile has no storage key for its attachment files")
        identity = pyrage.x25519.Identity.generate()
        vault.put_secret(STORAGE_SECRET, str(identity).encode("ascii"))
        return identity
    try:
        return pyrage.x25519.Identity.from_str(raw.decode("ascii"))
    except Exception:  # pyrage raises IdentityError, ValueError ...; never echo the key
        raise CorruptVault("the storage key for attachment files is damaged") from None


def is_blob_name(name: str) -> bool:
    return len(name) == 2 * _NAME_BYTES and all(c in "0123456789abcdef" for c in name)


class _PaddedSource(io.RawIOBase):
    """The attachment, hashed and counted as it passes, then zeros up to ``pad_to``."""

    def __init__(
        self,
        stream: BinaryIO,
        pad_to: Callable[[int], int],
        on_chunk: Callable[[int], None] | None,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._pad_to = pad_to
        self._on_chunk = on_chunk
        self.digest = BackgroundWriter(None)  # hashing off the encrypting thread
        self.size = 0
        self._padding: int | None = None  # zeros still to give, once the stream ended
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._readinto(memoryview(buffer).cast("B"))
        except BaseException as exc:
            self.error = self.error or exc
            raise

    def _readinto(self, view: memoryview) -> int:
        if self._padding is None:
            chunk = self._stream.read(len(view))
            if chunk is None:
                raise OSError("attachment source returned no data (non-blocking stream?)")
            if chunk:
                n = len(chunk)
                view[:n] = chunk
                self.digest.write(chunk)
                self.size += n
                if self._on_chunk is not None:
                    self._on_chunk(n)
                return n
            padded = self._pad_to(self.size)
            if padded < self.size:
                raise ValueError("the padding rule shrank an attachment")
            self._padding = padded - self.size
        n = min(len(view), self._padding)
        view[:n] = bytes(n)
        self._padding -= n
        return n


class _GuardedFile:
    """Writes to the blob file; keeps the first error (pyrage may swallow it)."""

    def __init__(self, handle: BackgroundWriter) -> None:
        self._handle = handle
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        try:
            written = self._handle.write(data)
            if written is not None and written != len(data):
                raise OSError("short write while writing an attachment file")
        except BaseException as exc:
            self.error = exc
            raise
        return len(data)

    def flush(self) -> None:
        try:
            self._handle.flush()
        except BaseException as exc:
            self.error = self.error or exc
            raise


def write_blob(
    vault: Vault,
    stream: BinaryIO,
    *,
    pad_to: Callable[[int], int],
    on_chunk: Callable[[int], None] | None = None,
) -> StoredBlob:
    """Encrypt ``stream`` (padded) into a new blob; the caller holds the transaction in
    which the row naming the blob is written (and the storage key, on first use)."""
    identity = _identity(vault, create=True)
    folder = blob_dir(vault)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = secrets.token_hex(_NAME_BYTES)
    final = folder / name
    tmp = temp_name(final)
    source = _PaddedSource(stream, pad_to, on_chunk)
    writer: BackgroundWriter | None = None
    try:
        with open_new(tmp) as handle:
            # The ciphertext is written on a second thread too (see BackgroundWriter).
            writer = BackgroundWriter(handle, digest=False)
            sink = _GuardedFile(writer)
            try:
                pyrage.encrypt_io(
                    io.BufferedReader(source, READ_SIZE), sink, [identity.to_public()]
                )
            except Exception as exc:
                for error in (source.error, sink.error):
                    if error is not None:
                        raise error from None
                raise OSError("attachment file encryption failed") from exc
            for error in (source.error, sink.error):
                if error is not None:
                    raise error
            writer.close()  # every byte in the file before open_new's fsync
            sha256 = source.digest.close()
        os.replace(tmp, final)
    except BaseException:
        for background in (writer, source.digest):
            if background is not None:
                background.abort()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(folder)
    crash_point("attach.after-blob")
    return StoredBlob(name, source.size, sha256)


# --- reading ---------------------------------------------------------------------------

# The decrypting child hands plaintext over in a ring of _SLOTS slots of READ_SIZE in
# memory shared with the parent (anonymous, never a file). Control messages go over two
# pipes: "filled" (child to parent: the length of the next slot's bytes, or an end
# mark) and "free" (parent to child: one byte per slot read, a credit). Only a child
# that authenticated the whole age file and found nothing but zeros after the
# attachment sends _END_GOOD. Plaintext through a pipe cost more than the decryption
# itself on the reference machine (the kernel allocates pipe pages per write); the ring
# reuses the same few pages.
_SLOTS: Final = 4
_MESSAGE: Final = struct.Struct(">q")
_END_GOOD: Final = -1
_END_DAMAGED: Final = -2
_DIGEST_BYTES: Final = 32


def _damaged(what: str) -> CorruptVault:
    return CorruptVault(
        f"the stored file of {what} is damaged",
        hint="restore the profile folder (vault.db, keyfile.json and blobs/) from one backup",
    )


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from a pipe, or fewer if it ended."""
    out = b""
    while len(out) < size:
        piece = os.read(fd, size - len(out))
        if not piece:
            break
        out += piece
    return out


class _RingSink(io.RawIOBase):
    """The child's plaintext writer, behind a buffer of ``READ_SIZE``: the first
    ``size`` bytes go into the ring, and are hashed; whatever follows must be zeros.
    The digest goes with the end mark, so the bundle's container, on the other core,
    need not hash the bytes again. (Hashing on a thread of the child was measured
    slower: both cores are busy already.)"""

    def __init__(self, ring: memoryview, filled: int, free: int, size: int) -> None:
        super().__init__()
        self._ring = ring
        self._filled = filled
        self._free = free
        self._remaining = size
        self._sent = 0
        self._zeros = bytes(READ_SIZE)
        self._digest = hashlib.sha256()
        self.padding_ok = True

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self._remaining:
            take = view[: self._remaining]
            self._remaining -= len(take)
            view = view[len(take) :]
            while take:
                self._send(take[:READ_SIZE])
                take = take[READ_SIZE:]
        while view and self.padding_ok:
            piece, view = view[: len(self._zeros)], view[len(self._zeros) :]
            self.padding_ok = piece == self._zeros[: len(piece)]
        return len(data)

    def _send(self, piece: memoryview) -> None:
        if self._sent >= _SLOTS and os.read(self._free, 1) != b"\0":
            raise OSError("the reader went away")
        slot = (self._sent % _SLOTS) * READ_SIZE
        self._ring[slot : slot + len(piece)] = piece
        self._digest.update(piece)
        _write_all(self._filled, _MESSAGE.pack(len(piece)))
        self._sent += 1

    def finish(self) -> None:
        good = self.padding_ok and not self._remaining
        mark = _MESSAGE.pack(_END_GOOD if good else _END_DAMAGED)
        _write_all(self._filled, mark + self._digest.digest())


def _decrypt_into_ring(
    handle: BinaryIO, identity: Any, size: int, ring: memoryview, filled: int, free: int
) -> int:
    """The child's whole work; its exit code. Never raises, never prints."""
    try:
        sink = _RingSink(ring, filled, free, size)
        buffered = io.BufferedWriter(sink, READ_SIZE)  # pyrage writes 8 KiB at a time
        pyrage.decrypt_io(handle, buffered, [identity])
        buffered.flush()
        sink.finish()
        return 0
    except BaseException:  # a failed or forged age file, or the reader went away
        return 1


class _BlobReader(io.RawIOBase):
    """The first ``size`` plaintext bytes of a blob; EOF once the rest is verified.

    A forked child decrypts (pyrage holds the interpreter lock while it works, so a
    thread would not run beside the bundle's encryption; a process does) into a ring
    shared with this process, then says whether the whole age file authenticated and
    only zeros followed the attachment. The child sees the parent's memory as it was
    at the fork (the storage identity is not copied anywhere); it touches neither the
    vault nor any output, and leaves by ``os._exit``. If the reader is closed early
    the child is killed.
    """

    def __init__(self, handle: BinaryIO, identity: Any, size: int, what: str) -> None:
        super().__init__()
        self._what = what
        self._remaining = size
        self._checked = False
        self._shared = mmap.mmap(-1, _SLOTS * READ_SIZE)  # MAP_SHARED | MAP_ANONYMOUS
        self._ring = memoryview(self._shared)
        fds: list[int] = []
        try:
            filled_r, filled_w = os.pipe()
            fds += [filled_r, filled_w]
            free_r, free_w = os.pipe()
            fds += [free_r, free_w]
            pid = os.fork()
        except BaseException:
            for fd in fds:
                os.close(fd)
            handle.close()
            self._ring.release()
            self._shared.close()
            raise
        if pid == 0:  # the child
            code = 1
            try:
                # No collection here: it could finalize a parent's object (an unclosed
                # file flushing a stale buffer into a descriptor both processes share).
                gc.disable()
                os.close(filled_r)
                os.close(free_w)
                code = _decrypt_into_ring(handle, identity, size, self._ring, filled_w, free_r)
            finally:
                os._exit(code)
        self._pid: int | None = pid
        os.close(filled_w)
        os.close(free_r)
        handle.close()
        self._filled: int | None = filled_r
        self._free: int | None = free_w
        self.sha256: str | None = None  # of every byte read, once the end verified
        self._received = 0  # slots received
        self._at = 0  # where the unread bytes of the current slot start in the ring
        self._left = 0  # unread bytes in the current slot

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._remaining == 0:
            self._verify_rest()
            return 0
        if self._left == 0:
            self._next_slot()
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._left, self._remaining)
        view[:n] = self._ring[self._at : self._at + n]
        self._at += n
        self._left -= n
        self._remaining -= n
        if self._left == 0 and self._free is not None:
            # The slot may be filled again. A child that sent its last slot may have
            # ended already; whether it ended well is judged at the end.
            with contextlib.suppress(BrokenPipeError):
                os.write(self._free, b"\0")
        return n

    def _message(self) -> int | None:
        if self._filled is None:
            return None
        raw = _read_exactly(self._filled, _MESSAGE.size)
        return _MESSAGE.unpack(raw)[0] if len(raw) == _MESSAGE.size else None

    def _next_slot(self) -> None:
        length = self._message()
        if length is None or not 0 < length <= READ_SIZE or length > self._remaining:
            self._fail()  # an end mark, a dead child or a wrong length before the size
        self._at = (self._received % _SLOTS) * READ_SIZE
        self._left = length or 0
        self._received += 1

    def _verify_rest(self) -> None:
        if self._checked:
            return
        mark = self._message()
        digest = b""
        if mark == _END_GOOD and self._filled is not None:
            digest = _read_exactly(self._filled, _DIGEST_BYTES)
            if os.read(self._filled, 1):  # nothing may follow
                digest = b""
        if self._reap() != 0 or mark != _END_GOOD or len(digest) != _DIGEST_BYTES:
            self._fail()
        self._checked = True
        self.sha256 = digest.hex()

    def _fail(self) -> None:
        self._stop()
        raise _damaged(self._what) from None

    def _reap(self) -> int:
        pid, self._pid = self._pid, None
        if pid is None:
            return 1
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def _stop(self) -> None:
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reap()

    def close(self) -> None:
        if not self.closed:
            for fd in (self._filled, self._free):
                if fd is not None:
                    os.close(fd)
            self._filled = self._free = None
            self._stop()
            self._ring.release()
            self._shared.close()
        super().close()


def open_blob(vault: Vault, name: str, size: int, what: str) -> BinaryIO:
    """A stream of the attachment stored in blob ``name`` (``size`` bytes); ``what``
    names it in errors. Close it when done (it owns a decrypting thread)."""
    identity = _identity(vault, create=False)
    if not is_blob_name(name):
        raise _damaged(what)
    path = blob_dir(vault) / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CorruptVault(
            f"the stored file of {what} is missing",
            hint="restore the profile folder (vault.db, keyfile.json and blobs/) from one backup",
        ) from None
    except OSError:
        raise _damaged(what) from None
    handle = io.BufferedReader(ReadAheadFile(fd, release=True), READ_SIZE)
    return _BlobStream(_BlobReader(handle, identity, size, what), READ_SIZE)


class _BlobStream(io.BufferedReader):
    """A blob's attachment bytes, buffered; vouches for their SHA-256 once read to the
    end (``AttachmentSource`` in bundle/container.py)."""

    def verified_sha256(self) -> str | None:
        raw = self.raw
        return raw.sha256 if isinstance(raw, _BlobReader) else None


# --- housekeeping ----------------------------------------------------------------------


def referenced(vault: Vault) -> set[str]:
    rows = vault.conn.execute("SELECT blob FROM attachments WHERE blob IS NOT NULL")
    return {str(r[0]) for r in rows.fetchall()}


def remove_blobs(vault: Vault, names: Iterable[str]) -> None:
    """Unlink the given blobs (after the rows naming them were deleted and committed)."""
    folder = blob_dir(vault)
    removed = False
    for name in names:
        if is_blob_name(name):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
                removed = True
    if removed:
        fsync_dir(folder)


def remove_orphans(vault: Vault) -> list[str]:
    """Delete what no committed row names: blobs and temporary files a killed command
    left in ``blobs/``. Only under the profile's write lock. Returns the names removed."""
    folder = blob_dir(vault)
    if not folder.is_dir() or folder.is_symlink():
        return []
    keep = referenced(vault)
    gone: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name in keep or entry.is_dir():
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            gone.append(entry.name)
    if gone:
        fsync_dir(folder)
    return gone
