"""Options shared by many commands, and the per-invocation settings they build.

Only the standard library and typer are imported at module level: ``--help`` and
``--version`` must start fast, so heavy modules are imported inside commands.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.errors import InvalidInput, NotFound

HOME_ENV = "REPRISAL_REPORT_HOME"
# Names of environment variables, not secrets.
PASSPHRASE_ENV = "REPRISAL_REPORT_PASSPHRASE"  # noqa: S105
NEW_PASSPHRASE_ENV = "REPRISAL_REPORT_NEW_PASSPHRASE"  # noqa: S105
MAX_PASSPHRASE_FILE = 4096

# Declared once; accepted both before the command name (the root) and after it.
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help=f"Profile directory (default: ${HOME_ENV} or the platform's data directory).",
        show_default=False,
    ),
]
PassFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from the first line of FILE (else ${PASSPHRASE_ENV}).",
        show_default=False,
    ),
]
# A root option only: after a command name it is an unknown option (exit 2).
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug", help="Show tracebacks instead of one-line errors (before the command)."
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")
]


@dataclass
class Settings:
    home: Path | None = None
    passphrase_file: Path | None = None
    debug: bool = False


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


def resolve_home(ctx: typer.Context, home: Path | None) -> Path:
    chosen = home or settings(ctx).home
    if chosen is None:
        env = os.environ.get(HOME_ENV)
        if env:
            chosen = Path(env)
    if chosen is None:
        import platformdirs

        chosen = platformdirs.user_data_path("reprisal-report", appauthor=False)
    return chosen.expanduser()


def _read_passphrase_file(path: Path) -> str:
    from reprisal_report.workflows.files import FileTooLarge, read_bounded

    try:
        data = read_bounded(path, MAX_PASSPHRASE_FILE)
    except FileNotFoundError:
        raise NotFound(f"no such passphrase file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"passphrase file {path} is a directory") from None
    except FileTooLarge:
        raise InvalidInput(f"passphrase file {path} is too large") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"passphrase file {path} is not UTF-8 text") from None
    line = text.split("\n", 1)[0].removesuffix("\r")
    if not line:
        raise InvalidInput(f"passphrase file {path} is empty")
    return line


def _prompt(label: str, confirm: bool) -> str:
    import getpass

    first = getpass.getpass(f"{label}: ", stream=sys.stderr)
    if confirm:
        again = getpass.getpass(f"{label} (again): ", stream=sys.stderr)
        if first != again:
            raise InvalidInput("the two passphrases differ")
    return first


def passphrase(
    ctx: typer.Context, passphrase_file: Path | None = None, *, confirm: bool = False
) -> str:
    """The profile passphrase: --passphrase-file, then the environment, then a prompt."""
    file = passphrase_file or settings(ctx).passphrase_file
    if file is not None:
        return _read_passphrase_file(file)
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if sys.stdin.isatty():
        return _prompt("Passphrase", confirm)
    raise InvalidInput(
        "no passphrase given",
        hint=f"set {PASSPHRASE_ENV}, use --passphrase-file, or run in a terminal",
    )


def new_passphrase(new_file: Path | None) -> str:
    if new_file is not None:
        return _read_passphrase_file(new_file)
    env = os.environ.get(NEW_PASSPHRASE_ENV)
    if env:
        return env
    if sys.stdin.isatty():
        return _prompt("New passphrase", confirm=True)
    raise InvalidInput(
        "no new passphrase given",
        hint=f"set {NEW_PASSPHRASE_ENV}, use --new-passphrase-file, or run in a terminal",
    )


# Relay connection options (sync push|pull, org publish).
AllowHttpOpt = Annotated[
    bool,
    typer.Option(
        "--allow-http",
        help="Allow plain http to a remote relay (exposes this device's key id to the network).",
    ),
]
ProxyOpt = Annotated[
    str | None,
    typer.Option("--proxy", help="Proxy for relay traffic, e.g. socks5h://127.0.0.1:9050 (Tor)."),
]
