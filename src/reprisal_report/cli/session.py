"""Opening the profile for a command: check it exists, then ask for the passphrase."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from reprisal_report.cli.options import passphrase, resolve_home

if TYPE_CHECKING:
    from reprisal_report.vault.store import Vault


def open_vault(
    ctx: typer.Context, home: Path | None, passphrase_file: Path | None, *roles: str
) -> Vault:
    """The unlocked vault (close it, e.g. with ``with``); other roles are refused."""
    from reprisal_report.workflows import profile as wf

    where = resolve_home(ctx, home)
    wf.needs_profile(where)
    return wf.unlock(where, passphrase(ctx, passphrase_file), *roles)


@contextlib.contextmanager
def writing_vault(
    ctx: typer.Context, home: Path | None, passphrase_file: Path | None, *roles: str
) -> Iterator[Vault]:
    """The unlocked vault of a command that changes the profile, under the profile's
    write lock: taken before the passphrase is asked for, held until the vault is
    closed. Every writing command of every role opens its vault here."""
    from reprisal_report.workflows import profile as wf

    with (
        wf.writing(resolve_home(ctx, home)),
        open_vault(ctx, home, passphrase_file, *roles) as vault,
    ):
        wf.tidy(vault)
        yield vault


def write_output_file(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write a file the user asked for, atomically; secrets get mode 0600."""
    from reprisal_report.workflows.files import write_user_file

    write_user_file(path, data, mode=0o600 if secret else 0o644)
