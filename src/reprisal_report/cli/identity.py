"""`id` commands: show this profile's keys, write its identity card, export the age key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import open_vault, write_output_file
from reprisal_report.model.states import Role

app = typer.Typer(help="This profile's keys and identity card.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", help="File to write.", show_default=False)]


@app.command("show")
def show(
    ctx: typer.Context,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Key ids, fingerprints and the minisign public key of this profile."""
    from reprisal_report.workflows import membership

    with open_vault(ctx, home, passphrase_file) as vault:
        ident = membership.identity(vault)
    doc = {
        "role": ident.role,
        "label": ident.label,
        "key_id": ident.key_id,
        "fingerprint": ident.fingerprint,
        "minisign_public_key": ident.minisign_public_key,
        "age_recipient": ident.age_recipient,
    }
    if json_out:
        emit_json(doc)
        return
    for key, value in doc.items():
        if value is not None:
            stdout_line(f"{key}: {value}")


@app.command("card")
def card(
    ctx: typer.Context,
    out: OutOpt,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Write this profile's public, self-signed identity card (for 'org enroll')."""
    from reprisal_report.workflows import membership

    with open_vault(ctx, home, passphrase_file) as vault:
        data = membership.identity_card(vault)
        ident = membership.identity(vault)
    write_output_file(out, data)
    info(f"wrote the identity card of {ident.role} {ident.key_id} to {out}")
    info(f"fingerprint (compare it with the coordinator): {ident.fingerprint}")


@app.command("export-age")
def export_age(
    ctx: typer.Context,
    out: OutOpt,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Write this coordinator's age identity (SECRET, mode 0600) for the stock age tool."""
    from reprisal_report.workflows import coordinator

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        secret = coordinator.export_age_identity(vault)
    write_output_file(out, (secret + "\n").encode("ascii"), secret=True)
    warn(
        f"{out} holds a SECRET key that opens every bundle sealed to this coordinator; "
        "keep it offline, and delete it when the emergency is over"
    )
