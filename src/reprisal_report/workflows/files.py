"""Files the user asks the tool to write (cards, exports) or read (cards, passphrases)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reprisal_report.errors import InvalidInput, NotFound
from reprisal_report.vault.files import FileTooLarge, atomic_write_together, read_bounded

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
    """Files that belong together, written all or none (``atomic_write_together``)
    into folders that must exist already."""
    for path, _, _ in files:
        if not path.parent.is_dir():
            raise NotFound(f"no such directory: {path.parent}")
    atomic_write_together(files)


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
