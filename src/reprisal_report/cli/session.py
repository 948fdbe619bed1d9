"""Opening the profile for a command: check it exists, then open it with the working
session's token (``REPRISAL_REPORT_SESSION``) or the passphrase.

Every command of every role that opens the vault comes through ``open_vault``. The
choice, in order: ``--passphrase-file`` given explicitly means the passphrase; else a
non-empty ``REPRISAL_REPORT_SESSION`` means the session and only the session (a token
that opens nothing is exit 3, never a silent fall back to asking); else the passphrase
from the environment or a prompt.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from reprisal_report.cli.options import passphrase, resolve_home, settings

if TYPE_CHECKING:
    from reprisal_report.vault.store import Vault


def open_vault(
    ctx: typer.Context, home: Path | None, passphrase_file: Path | None, *roles: str
) -> Vault:
    """The unlocked vault (close it, e.g. with ``with``); other roles are refused."""
    from reprisal_report.workflows import profile as wf

    where = resolve_home(ctx, home)
    wf.needs_profile(where)
    token = session_token(ctx, passphrase_file)
    if token is not None:
        from reprisal_report.workflows import session as wf_session

        return wf_session.open_vault(where, token, *roles)
    return wf.unlock(where, passphrase(ctx, passphrase_file), *roles)


# The name of an environment variable, not a secret (workflows.session.ENV_NAME).
SESSION_ENV = "REPRISAL_REPORT_SESSION"


def session_token(ctx: typer.Context, passphrase_file: Path | None) -> str | None:
    """The working session's token, unless a passphrase file was given explicitly."""
    if passphrase_file is not None or settings(ctx).passphrase_file is not None:
        return None
    return os.environ.get(SESSION_ENV) or None


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
