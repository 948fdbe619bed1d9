"""Files the user asks the tool to write (cards, exports)."""

from __future__ import annotations

from pathlib import Path

from reprisal_report.errors import NotFound
from reprisal_report.vault.files import atomic_write

MAX_INPUT_CARD = 1024 * 1024


def write_user_file(path: Path, data: bytes, *, mode: int) -> None:
    if not path.parent.is_dir():
        raise NotFound(f"no such directory: {path.parent}")
    atomic_write(path, data, mode=mode)


def read_user_file(path: Path, what: str, limit: int = MAX_INPUT_CARD) -> bytes:
    from reprisal_report.errors import InvalidInput

    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not {what}") from None
    if len(data) > limit:
        raise InvalidInput(f"{path} is too large for {what}")
    return data
