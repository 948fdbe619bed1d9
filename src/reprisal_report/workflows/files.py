"""Files the user asks the tool to write (cards, exports) or read (cards, passphrases)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from reprisal_report.errors import InvalidInput, NotFound
from reprisal_report.vault.files import (
    FileTooLarge,
    fsync_dir,
    open_new,
    read_bounded,
    temp_name,
)

__all__ = [
    "FileTooLarge",
    "read_bounded",
    "read_user_file",
    "write_user_file",
    "write_user_files",
]

MAX_INPUT_CARD = 1024 * 1024


def write_user_file(path: Path, data: bytes, *, mode: int) -> None:
    write_user_files([(path, data, mode)])


def write_user_files(files: Sequence[tuple[Path, bytes, int]]) -> None:
    """Write files that belong together (an export and its ``.minisig``): each to a
    temporary copy first, then, only once all are written, renamed into place, the
    first one last. A failure before that leaves none of them; a rename that fails
    takes back the files already renamed, so the first file (the export) never
    stands beside a signature that is not its own, nor appears without one. (An
    export written before under the same name may then have lost its old signature:
    it verifies as unsigned, never as signed by the new one.)
    """
    for path, _, _ in files:
        if not path.parent.is_dir():
            raise NotFound(f"no such directory: {path.parent}")
    temps: list[Path] = []
    renamed: list[Path] = []
    try:
        for path, data, mode in files:
            temps.append(temp_name(path))
            with open_new(temps[-1]) as handle:
                handle.write(data)
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


def read_user_file(path: Path, what: str, limit: int = MAX_INPUT_CARD) -> bytes:
    """A small file the user named; never more than ``limit`` + 1 bytes are read."""
    try:
        return read_bounded(path, limit)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not {what}") from None
    except FileTooLarge:
        raise InvalidInput(f"{path} is too large for {what}") from None
