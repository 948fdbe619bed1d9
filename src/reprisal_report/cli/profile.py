"""Profile commands: init, passphrase change, panic."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import (
    HomeOpt,
    JsonOpt,
    PassFileOpt,
    new_passphrase,
    passphrase,
    resolve_home,
)
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.render import safe
from reprisal_report.errors import Aborted, ExitCode, InvalidInput, OperationalError

passphrase_app = typer.Typer(help="Manage the vault passphrase.", no_args_is_help=True)


def init(
    ctx: typer.Context,
    role: Annotated[
        str, typer.Option("--role", help="reporter, coordinator or auditor.", show_default=False)
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="A label for this profile.", show_default=False)
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create the profile: an encrypted vault and this device's identity keys."""
    from reprisal_report.workflows import profile as wf

    if role not in wf.ROLES:
        raise InvalidInput(f"unknown role {role!r}", hint="use one of: " + ", ".join(wf.ROLES))
    where = resolve_home(ctx, home)
    wf.refuse_existing(where)
    secret = passphrase(ctx, passphrase_file, confirm=True)
    created = wf.init_profile(where, secret, role, name)
    if created.kdf.insecure:
        warn("insecure test KDF parameters in use; never use this profile for real cases")
    if json_out:
        emit_json(
            {
                "home": str(created.home),
                "role": created.role,
                "label": created.label,
                "key_id": created.key_id,
                "fingerprint": created.fingerprint,
            }
        )
        return
    info(f"created {created.role} profile in {created.home}")
    stdout_line(f"fingerprint: {created.fingerprint}")


def change(
    ctx: typer.Context,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--new-passphrase-file",
            help="Read the new passphrase from FILE (else $REPRISAL_REPORT_NEW_PASSPHRASE).",
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Re-wrap the vault key under a new passphrase (the database is not rewritten)."""
    from reprisal_report.workflows import profile as wf

    where = resolve_home(ctx, home)
    with wf.writing(where):
        old = passphrase(ctx, passphrase_file)
        new = new_passphrase(new_passphrase_file)
        params = wf.change_passphrase(where, old, new)
    if params.insecure:
        warn("insecure test KDF parameters in use; never use this profile for real cases")
    info("passphrase changed; the old passphrase no longer opens this vault")


def panic(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Crypto-shred the vault: destroy its wrapped key, then its database."""
    from reprisal_report.workflows import profile as wf

    where = resolve_home(ctx, home)
    wf.needs_something_to_destroy(where)
    if not yes:
        if not sys.stdin.isatty():
            raise Aborted("panic needs confirmation", hint="pass --yes to run without a prompt")
        answer = typer.prompt(
            f"Destroy the profile in {safe(where)} for good? Type 'destroy' to confirm",
            default="",
            show_default=False,
            err=True,
        )
        if answer.strip() != "destroy":
            raise Aborted("panic cancelled; nothing was changed")
    report = wf.panic(where)
    if json_out:
        emit_json(
            {
                "removed": report.removed,
                "failed": [{"name": name, "reason": why} for name, why in report.failed],
                "notes": report.notes,
                "key_destroyed": report.key_destroyed,
                "key_destroyed_seconds": (
                    round(report.key_destroyed_seconds, 3) if report.key_destroyed else None
                ),
                "seconds": round(report.seconds, 3),
            }
        )
        if report.failed:
            raise typer.Exit(int(ExitCode.OPERATIONAL))
        return
    for note in report.notes:
        warn(note)
    if report.failed:
        listed = ", ".join(f"{name} ({why})" for name, why in report.failed)
        raise OperationalError(
            f"panic could not destroy {len(report.failed)} item(s): {listed}",
            hint=(
                "everything else is destroyed and the vault cannot be opened; "
                "remove the listed items by hand"
                if report.key_destroyed
                else "the vault key could not be destroyed, so the database was "
                "overwritten where possible; remove the listed items by hand"
            ),
        )
    info(
        f"vault key destroyed in {report.key_destroyed_seconds:.3f} s, database removed in "
        f"{report.seconds:.3f} s; no passphrase opens it any more"
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("panic")(panic)
    passphrase_app.command("change")(change)
    app.add_typer(passphrase_app, name="passphrase")
