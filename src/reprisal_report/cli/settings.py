"""`settings`: profile settings."""

from __future__ import annotations

from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info
from reprisal_report.cli.session import open_vault, writing_vault

settings_app = typer.Typer(help="Profile settings.", no_args_is_help=True)


@settings_app.command("show")
def settings_show(
    ctx: typer.Context,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show this profile's settings."""
    from reprisal_report.workflows import delivery

    with open_vault(ctx, home, passphrase_file) as vault:
        doc = {"purge_after_delivery": delivery.purge_enabled(vault)}
    if json_out:
        emit_json(doc)
    else:
        for key, value in doc.items():
            typer.echo(f"{key}: {'on' if value else 'off'}")


@settings_app.command("purge-after-delivery")
def settings_purge(
    ctx: typer.Context,
    value: Annotated[
        str, typer.Argument(metavar="on|off", help="Purge plaintext once a receipt verifies.")
    ],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Purge a case's plaintext once its bundle's relay receipt verifies (reporters: on)."""
    from reprisal_report.errors import InvalidInput
    from reprisal_report.workflows import delivery

    if value not in ("on", "off"):
        raise InvalidInput("purge-after-delivery takes 'on' or 'off'")
    with writing_vault(ctx, home, passphrase_file) as vault:
        delivery.set_purge(vault, value == "on")
    info(f"purge-after-delivery: {value}")


def register(app: typer.Typer) -> None:
    app.add_typer(settings_app, name="settings")
