"""Folder transport: ``<bundle id>.rrb`` files in a directory, nothing else.

Writes are atomic (temp name in the target, fsync the file, rename, fsync the folder)
and verified by reading the file back; a file already there with the right hash is
left alone, so pushing twice, or after a crash, delivers each bundle exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from reprisal_report.errors import NotFound, OperationalError
from reprisal_report.vault.files import (
    ReadAheadFile,
    file_sha256,
    fsync_dir,
    open_new,
    temp_name,
)

CHUNK = 1024 * 1024
SUFFIX = ".rrb"


def require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise NotFound(f"no such folder: {folder}", hint="is the USB stick mounted?")


def _readable_mode() -> int:
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o644 & ~umask


def deliver(source: Path, folder: Path, sha256: str) -> bool:
    """Copy ``source`` into ``folder``; False if an identical copy was already there."""
    target = folder / source.name
    if target.exists() and hmac.compare_digest(file_sha256(target), sha256):
        return False
    # A random name created O_EXCL|O_NOFOLLOW, 0600 (vault.files): on a shared folder
    # nobody can plant a link or a file there for the copy to write through. The copy
    # is ciphertext meant for whoever collects it, so it is made readable as any new
    # file (the umask's choice) before it takes its name.
    tmp = temp_name(target)
    try:
        with source.open("rb") as src, open_new(tmp) as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
            os.fchmod(dst.fileno(), _readable_mode())
        os.replace(tmp, target)
        fsync_dir(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if not hmac.compare_digest(file_sha256(target), sha256):
        raise OperationalError(
            f"copy of {source.name} in {folder} does not read back correctly",
            hint="the medium may be failing; try another folder or stick",
        )
    return True


@dataclass(frozen=True)
class SkippedEntry:
    """A ``*.rrb`` name in a folder that is not a regular file, and why it was left."""

    path: Path
    reason: str


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link, not a bundle file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe, not a bundle file"
    if stat.S_ISDIR(mode):
        return "is a folder, not a bundle file"
    return "is not a regular file"


def scan(folder: Path) -> tuple[list[Path], list[SkippedEntry]]:
    """The regular ``*.rrb`` files of ``folder``, and the other ``*.rrb`` entries skipped.

    Entries are judged by ``lstat``: a symbolic link (dangling or not), a named pipe or
    a device is never followed or opened, so one odd entry cannot hang or abort the
    import of the rest.
    """
    require_folder(folder)
    files: list[Path] = []
    skipped: list[SkippedEntry] = []
    for path in sorted(folder.iterdir()):
        if path.suffix != SUFFIX:
            continue
        try:
            problem = _not_regular(os.lstat(path).st_mode)
        except OSError:
            problem = "disappeared while the folder was read"
        if problem is None:
            files.append(path)
        else:
            skipped.append(SkippedEntry(path, problem))
    return files, skipped


def bundles_in(folder: Path) -> list[Path]:
    """The regular ``*.rrb`` files of ``folder`` (see :func:`scan` for what is skipped)."""
    return scan(folder)[0]


class BundleFileRefused(Exception):
    """A bundle path that is not a regular file, or is larger than the cap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Bundles on the folder path are capped like those a relay serves; the cap is checked
# on the open descriptor and again while reading (the file may grow meanwhile).
MAX_BUNDLE_BYTES = 4 * 1024**3
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def open_bundle_file(path: Path, max_bytes: int = MAX_BUNDLE_BYTES) -> BinaryIO:
    """Open a bundle file for reading without following a link or blocking on a pipe.

    ``O_NOFOLLOW`` refuses a symbolic link and ``O_NONBLOCK`` keeps a named pipe from
    hanging the open; the descriptor is then checked to be a regular file within the
    size cap. The caller reads the file once through the returned handle.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise BundleFileRefused("no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BundleFileRefused("is a symbolic link, not a bundle file") from None
        raise BundleFileRefused("cannot be opened") from None
    try:
        info = os.fstat(fd)
        problem = _not_regular(info.st_mode)
        if problem is not None:
            raise BundleFileRefused(problem)
        if info.st_size > max_bytes:
            raise BundleFileRefused(f"is larger than the {max_bytes // 1024**2} MiB bundle cap")
        # Regular files ignore O_NONBLOCK for reads, but clear it all the same.
        os.set_blocking(fd, True)
        # Unbuffered (the age layer reads whole MiB), the kernel asked to read ahead.
        return cast(BinaryIO, ReadAheadFile(fd))
    except BaseException:
        os.close(fd)
        raise
