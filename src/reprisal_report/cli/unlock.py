"""Working sessions: ``unlock`` (the passphrase once) and ``lock``.

``eval "$(reprisal-report unlock)"`` sets ``REPRISAL_REPORT_SESSION`` in the shell, as
``ssh-agent`` and ``bw unlock`` do; commands run from that shell then open the vault
without the passphrase and without the KDF until ``lock``, expiry or ``panic``.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt, passphrase, resolve_home
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import SESSION_ENV
from reprisal_report.errors import InvalidInput

_DURATION = re.compile(r"(?:(\d{1,3})h)?(?:(\d{1,4})m)?(?:(\d{1,6})s)?")
DEFAULT_IDLE = "15m"
DEFAULT_MAX = "8h"


def parse_duration(text: str, option: str) -> int:
    """Seconds in ``90s``, ``15m``, ``8h``, ``1h30m``; exit 2 naming ``option``."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise InvalidInput(
            f"{option}: {text!r} is not a duration", hint="write it as 90s, 15m, 8h or 1h30m"
        )
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise InvalidInput(f"{option}: a session must last at least one second")
    return total


def unlock(
    ctx: typer.Context,
    idle: Annotated[
        str,
        typer.Option(
            "--idle", help="End the session after this long unused (90s, 15m, 8h, 1h30m)."
        ),
    ] = DEFAULT_IDLE,
    longest: Annotated[
        str,
        typer.Option("--max", help="End the session this long after unlock, used or not."),
    ] = DEFAULT_MAX,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask for the passphrase once; print a line to eval that sets REPRISAL_REPORT_SESSION."""
    from reprisal_report.workflows import profile as wf
    from reprisal_report.workflows import session as wf_session

    where = resolve_home(ctx, home)
    wf.needs_profile(where)
    idle_seconds = parse_duration(idle, "--idle")
    max_seconds = parse_duration(longest, "--max")
    if max_seconds > wf_session.LONGEST_SECONDS:
        limit = wf_session.format_duration(wf_session.LONGEST_SECONDS)
        raise InvalidInput(f"--max: a session lasts at most {limit}")
    if idle_seconds > max_seconds:
        raise InvalidInput("--idle cannot be longer than --max")
    # Always the passphrase, never the current session: a session cannot extend itself.
    started = wf_session.start(where, passphrase(ctx, passphrase_file), idle_seconds, max_seconds)
    if json_out:
        emit_json(
            {
                "env": SESSION_ENV,
                "token": started.token,
                "idle_seconds": started.idle_seconds,
                "max_seconds": started.max_seconds,
                "idle_ends": started.idle_ends,
                "ends_at_latest": started.hard_end,
            }
        )
        return
    stdout_line(f"export {SESSION_ENV}={started.token}")
    if sys.stdout.isatty():
        warn('the token above opens this vault; run eval "$(reprisal-report unlock)" instead')
    info(
        f"working session open: ends after {wf_session.format_duration(idle_seconds)} unused, "
        f"at the latest {started.hard_end}; 'reprisal-report lock' ends it"
    )


def lock(ctx: typer.Context, home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """End the working session: its token no longer opens the vault."""
    from reprisal_report.workflows import session as wf_session

    ended = wf_session.end(resolve_home(ctx, home))
    if json_out:
        emit_json({"ended": ended})
        return
    stdout_line(f"unset {SESSION_ENV}")
    if ended:
        info("working session ended; its token no longer opens this vault")
    else:
        info("no working session was open for this profile")


def register(app: typer.Typer) -> None:
    app.command("unlock")(unlock)
    app.command("lock")(lock)
