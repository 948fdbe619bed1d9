"""Folder transport: ``<bundle id>.rrb`` files in a directory, nothing else.

Writes are atomic (temp name in the target, fsync the file, rename, fsync the folder)
and verified by reading the file back; a file already there with the right hash is
left alone, so pushing twice, or after a crash, delivers each bundle exactly once.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from pathlib import Path

from reprisal_report.errors import NotFound, OperationalError
from reprisal_report.vault.files import file_sha256, fsync_dir

CHUNK = 1024 * 1024
SUFFIX = ".rrb"


def require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise NotFound(f"no such folder: {folder}", hint="is the USB stick mounted?")


def deliver(source: Path, folder: Path, sha256: str) -> bool:
    """Copy ``source`` into ``folder``; False if an identical copy was already there."""
    target = folder / source.name
    if target.exists() and hmac.compare_digest(file_sha256(target), sha256):
        return False
    tmp = folder / f".{source.name}.{secrets.token_hex(4)}.partial"
    try:
        with source.open("rb") as src, tmp.open("wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
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


def bundles_in(folder: Path) -> list[Path]:
    require_folder(folder)
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())
