"""The one module for file primitives: private new files, atomic writes, fsync,
shredding and bounded reads.

Every file the tool creates is created here, with ``O_CREAT|O_EXCL|O_NOFOLLOW`` and
mode 0600: an existing file or a planted symbolic link at that name makes the
creation fail instead of being written through. Temporary names carry a random part
(never the process id), so another local user cannot predict and pre-create them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import queue
import secrets
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

PRIVATE_MODE = 0o600
# Marks the temporary copy of an atomic write: ``.<name>.tmp-<random>``.
TEMP_MARK = ".tmp-"
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_SHRED_CHUNK = 1024 * 1024
# A large new file's written pages are handed to the kernel's writeback every
# ``RELEASE_STEP`` bytes and dropped from the page cache once they are on disk (see
# ``release_written``).
RELEASE_STEP = 16 * 1024 * 1024
# A file read front to back asks the kernel for the next ``READ_AHEAD`` bytes once
# half of the previous request was read (see ``ReadAheadFile``).
READ_AHEAD = 16 * 1024 * 1024


class FileTooLarge(Exception):
    """A bounded read found more than the limit; callers turn it into their own error."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(f"{path} is larger than {limit} bytes")
        self.path = path
        self.limit = limit


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(target: Path) -> Path:
    """A fresh, unpredictable name beside ``target`` for its temporary copy."""
    return target.with_name(f".{target.name}{TEMP_MARK}{secrets.token_hex(8)}")


def temp_copies(target: Path) -> list[Path]:
    """Temporary copies of ``target`` a crash may have left behind."""
    return sorted(target.parent.glob(f".{target.name}{TEMP_MARK}*"))


def create_new(path: Path) -> int:
    """Create ``path`` (mode 0600) and return a writable descriptor; never reuse a name.

    Fails with ``FileExistsError`` if anything, a symbolic link included, is there.
    """
    return os.open(path, _NEW_FILE_FLAGS, PRIVATE_MODE)


@contextlib.contextmanager
def open_new(path: Path) -> Iterator[BinaryIO]:
    """``create_new`` as a binary file object; flushed and fsynced when the block ends."""
    handle = os.fdopen(create_new(path), "wb")
    with handle:
        yield handle
        sync_file(handle)


def sync_file(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Write ``data`` to ``path`` so a crash leaves either the old or the new file."""
    atomic_write_together([(path, data, mode)])


def atomic_write_together(files: Sequence[tuple[Path, bytes, int]]) -> None:
    """Write files that belong together (an export and its ``.minisig``): each to a
    temporary copy first, then, only once all are written, renamed into place, the
    first one last. A failure before that leaves none of them; a rename that fails
    takes back the files already renamed, so the first file (the export) never
    stands beside a later one (its signature) that is not its own, nor appears
    without it. (A file written before under a later file's name may then be gone:
    an old export verifies as unsigned, never as signed by the new signature.)
    """
    temps: list[Path] = []
    renamed: list[Path] = []
    try:
        for path, data, mode in files:
            temps.append(temp_name(path))
            with open_new(temps[-1]) as handle:
                handle.write(data)
                if mode != PRIVATE_MODE:
                    os.fchmod(handle.fileno(), mode)
        for (path, _, _), temp in reversed(list(zip(files, temps, strict=True))):
            os.replace(temp, path)
            renamed.append(path)
    except BaseException:
        for leftover in (*temps, *renamed):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
    for parent in dict.fromkeys(path.parent for path, _, _ in files):
        fsync_dir(parent)


def overwrite_in_place(path: Path) -> bool:
    """Overwrite a regular file's bytes with random data and sync; never follow a link.

    Returns False (touching nothing) when ``path`` is missing or is not a regular file
    (a symbolic link, a FIFO, ...). A read-only file of ours is made writable first.
    """
    try:
        before = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(before.st_mode):
        return False
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        os.chmod(path, PRIVATE_MODE)
        fd = os.open(path, flags)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            return False  # swapped under us: leave whatever is there now alone
        remaining = max(now.st_size, 1)
        while remaining > 0:
            step = min(remaining, _SHRED_CHUNK)
            os.write(fd, os.urandom(step))
            remaining -= step
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def shred_file(path: Path) -> None:
    """Overwrite a regular file in place, sync, then unlink it; links are only unlinked.

    A symbolic link is removed itself and its target never touched. Flash storage may
    keep the old blocks; that is why the vault relies on crypto-shredding (the wrapped
    key is what is destroyed), not on overwriting.
    """
    overwrite_in_place(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_bounded(path: Path, limit: int) -> bytes:
    """The whole file, if it holds at most ``limit`` bytes; else ``FileTooLarge``.

    Never reads more than ``limit + 1`` bytes, whatever the file's size.
    """
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, limit)
    return data


def release_written(fd: int) -> None:
    """Start writing the file's dirty pages back, and drop the ones already on disk.

    Advice only (``POSIX_FADV_DONTNEED`` over the whole file): nothing is lost or
    waited for. Called as a large file is written, it leaves the closing fsync little
    to do, and the page cache recycles the same few pages instead of allocating new
    ones for every MiB (measured here, 1 GiB: written and fsynced in 0.4 s instead of
    0.6-1.5 s). Where the advice is not available, or not taken, nothing changes.
    """
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


class ReadAheadFile(io.RawIOBase):
    """An open descriptor read front to back, the kernel asked ahead for what follows.

    The default read-ahead of the page cache is far smaller than one MiB read, so a
    large file not in the cache is otherwise read one disk round trip at a time, each
    while the reader waits. ``POSIX_FADV_WILLNEED`` starts reading the next
    ``window`` bytes (``READ_AHEAD``) without waiting for them (measured here, 1 GiB
    not cached, read and hashed: 0.85 s instead of 1.1-1.6 s; 0.7 s cached). Advice
    only: the bytes returned are the file's, whatever the kernel makes of it. Read
    front to back only (no seek). Owns the descriptor.

    With ``release`` (a file of ours read once, like a blob being sealed) the pages more
    than a window behind are dropped from the page cache as it goes, so the few pages
    in use are recycled for the output instead of new ones taken for every MiB
    (measured here, 1 GiB sealed right after it was attached: 2.7 s instead of
    3.8-4.3 s, almost all of the difference system time).
    """

    def __init__(self, fd: int, window: int = READ_AHEAD, *, release: bool = False) -> None:
        super().__init__()
        self._fd = fd
        self._window = window
        self._release = release
        self._offset = 0
        self._advised = 0  # the offset up to which the kernel was asked to read

    def fileno(self) -> int:
        return self._fd

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        self._ahead()
        data = os.read(self._fd, size)
        self._offset += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        self._ahead()
        count = os.readv(self._fd, [buffer])
        self._offset += count
        return count

    def _ahead(self) -> None:
        if self._advised - self._offset > self._window // 2 or not hasattr(os, "posix_fadvise"):
            return
        start = max(self._offset, self._advised)
        end = self._offset + self._window
        with contextlib.suppress(OSError):
            os.posix_fadvise(self._fd, start, end - start, _WILLNEED)
            if self._release and self._offset > self._window:
                # Our own file, read once: its pages behind us are not needed again.
                os.posix_fadvise(self._fd, 0, self._offset - self._window, _DONTNEED)
        self._advised = end

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", 0)
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 0)


def file_sha256(path: Path, chunk_size: int = 1024 * 1024) -> str:
    """SHA-256 of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class BackgroundWriter:
    """Writes a new file's bytes, and hashes them (SHA-256), on a second thread.

    For large outputs made by pyrage, which keeps the interpreter lock while it
    encrypts: the writes and the hashing release that lock, so on their own thread they
    run beside the encryption instead of after it. Written pieces are kept (``bytes``
    as they are, anything else copied) and handed over in batches of about ``piece``
    bytes; at most ``depth`` batches wait (bounded memory). The first error of the
    thread (a full disk, say) is raised by the next ``write`` or by ``close``; after it
    the thread only drains the queue, so a writer never blocks on a dead thread.

    ``close`` must be called (it returns the digest); ``abort`` on any failure. The
    handle is flushed first and then written through its descriptor: nothing else may
    write to it meanwhile. Durability (fsync) stays the caller's; every
    ``RELEASE_STEP`` bytes the thread calls ``release_written``, so that fsync is
    short. Without a handle the bytes are only hashed; with ``digest=False`` only
    written (``close`` then returns "").
    """

    def __init__(
        self,
        handle: BinaryIO | None,
        *,
        digest: bool = True,
        piece: int = 1024 * 1024,
        depth: int = 3,
        release_every: int = RELEASE_STEP,
    ) -> None:
        if handle is not None:
            handle.flush()
        self._fd = None if handle is None else handle.fileno()
        self._hashing = digest
        self._piece = piece
        self._batch: list[bytes] = []
        self._batched = 0
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._release_every = release_every
        self._unreleased = 0  # bytes written by the thread since ``release_written``
        self.size = 0
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="background-writer", daemon=True
        )
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._error is not None:
            raise self._error
        if self._thread is None:
            raise ValueError("write to a closed BackgroundWriter")
        # A view or a bytearray may change after this call returns: keep a copy.
        piece = data if type(data) is bytes else bytes(data)
        self._batch.append(piece)
        self._batched += len(piece)
        self.size += len(piece)
        if self._batched >= self._piece:
            self._send()
        return len(piece)

    def flush(self) -> None:
        return None  # ``close`` writes what is pending; this only satisfies writers' protocol

    def close(self) -> str:
        """Write what is left, wait for the thread; the SHA-256 of every byte, in hex."""
        if self._batch:
            self._send()
        self._finish()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest() if self._hashing else ""

    def abort(self) -> None:
        """Stop the thread; what was written stays in the file (the caller discards it)."""
        self._batch, self._batched = [], 0
        self._finish()

    def _send(self) -> None:
        batch, self._batch, self._batched = self._batch, [], 0
        self._queue.put(batch)

    def _finish(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is not None:
                continue  # drain, so ``write`` and ``close`` never block
            try:
                if self._fd is not None:
                    self._unreleased += _write_pieces(self._fd, batch)
                    if self._unreleased >= self._release_every:
                        self._unreleased = 0
                        release_written(self._fd)
                if self._hashing:
                    for piece in batch:
                        self._digest.update(piece)
            except BaseException as exc:
                self._error = exc


def _write_pieces(fd: int, pieces: list[bytes]) -> int:
    """All of ``pieces``, in order, in as few system calls as the kernel allows; the
    number of bytes written."""
    views = [memoryview(p) for p in pieces if p]
    total = sum(len(v) for v in views)
    while views:
        written = os.writev(fd, views[:1024])  # IOV_MAX is 1024 on Linux
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]
    return total


class HashingFileWriter:
    """A new file's bytes written on one thread and hashed (SHA-256) on another: on a
    machine with two cores, a large write and its hash each cost about as much as
    the encryption that produces the bytes, so neither is put behind the other."""

    def __init__(self, handle: BinaryIO) -> None:
        self._file = BackgroundWriter(handle, digest=False)
        self._hash = BackgroundWriter(None)

    @property
    def size(self) -> int:
        return self._file.size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        piece = data if type(data) is bytes else bytes(data)
        self._file.write(piece)
        return self._hash.write(piece)

    def flush(self) -> None:
        return None

    def close(self) -> str:
        """Every byte in the file (not yet fsynced); their SHA-256 in hex."""
        try:
            self._file.close()
        except BaseException:
            self._hash.abort()
            raise
        return self._hash.close()

    def abort(self) -> None:
        self._file.abort()
        self._hash.abort()
