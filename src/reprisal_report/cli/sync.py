"""`sync push|pull`: deliver and collect sealed bundles."""

from __future__ import annotations

from typing import Annotated

import typer

from reprisal_report.cli.options import (
    AllowHttpOpt,
    HomeOpt,
    JsonOpt,
    PassFileOpt,
    ProxyOpt,
    resolve_home,
)
from reprisal_report.cli.output import emit_json, error, info, warn
from reprisal_report.cli.session import open_vault, writing_vault
from reprisal_report.errors import InvalidInput
from reprisal_report.model.states import Role

sync_app = typer.Typer(help="Deliver and collect sealed bundles.", no_args_is_help=True)
# Skipped entries with this reason are routine and not listed in text output.
ALREADY_IMPORTED = "already imported; nothing changed"


def _finish(report: object, verb: str, json_out: bool) -> None:
    from reprisal_report.workflows.delivery import DeliveryReport

    if not isinstance(report, DeliveryReport):  # pragma: no cover - typing aid
        raise TypeError(type(report))
    for note in report.notes:
        warn(note)
    for case_id in report.purged:
        info(f"case {case_id}: receipt verified; its plaintext was purged from this device")
    if json_out:
        emit_json(
            {
                verb: report.done,
                "skipped": report.skipped,
                "failed": report.failed,
                "purged": report.purged,
                **(
                    {"skipped_entries": report.skipped_entries, "receipts": report.receipts}
                    if verb == "imported"
                    else {}
                ),
                **({"pending": report.pending} if verb == "delivered" else {}),
            }
        )
    else:
        info(f"{verb} {report.done}, skipped {report.skipped}, failed {len(report.failed)}")
        if report.receipts:
            noun = "receipt" if report.receipts == 1 else "receipts"
            info(f"kept {report.receipts} relay {noun} (tree head and inclusion proof)")
        for item in report.failed:
            error(f"{item['id']}: {item['reason']}")
        for item in report.skipped_entries:
            if item["reason"] != ALREADY_IMPORTED:
                warn(f"{item['id']}: skipped: {item['reason']}")
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _place(value: str, flag: str) -> str:
    """A folder or relay URL as given; an empty one is refused before anything opens
    (as a folder it would be the current one, wherever the command happens to run)."""
    if value == "":
        raise InvalidInput(f"{flag} is empty; name a folder or a relay URL")
    return value


@sync_app.command("push")
def push(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="A folder, or a relay URL.", show_default=False)],
    org: Annotated[
        str | None,
        typer.Option("--org", help="Deliver only this joined org's bundles.", show_default=False),
    ] = None,
    proxy: ProxyOpt = None,
    allow_http: AllowHttpOpt = False,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deliver every undelivered bundle (idempotent, resumable)."""
    from reprisal_report.cli.progress import count_progress
    from reprisal_report.workflows import delivery

    to = _place(to, "--to")
    with (
        open_vault(ctx, home, passphrase_file, Role.REPORTER) as vault,
        count_progress(
            "delivering", delivery.pending_count(vault), enabled=not json_out
        ) as advance,
    ):
        report = delivery.push(
            vault,
            resolve_home(ctx, home),
            to,
            proxy=proxy,
            on_bundle=advance,
            allow_http=allow_http,
            org_id=org,
        )
    _finish(report, "delivered", json_out)


@sync_app.command("pull")
def pull(
    ctx: typer.Context,
    from_: Annotated[
        str, typer.Option("--from", help="A folder, or a relay URL.", show_default=False)
    ],
    remove_after_import: Annotated[
        bool,
        typer.Option("--remove-after-import", help="Delete folder files once imported."),
    ] = False,
    proxy: ProxyOpt = None,
    allow_http: AllowHttpOpt = False,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fetch new bundles and import them (as 'inbox import')."""
    from reprisal_report.cli.progress import count_progress
    from reprisal_report.workflows import delivery

    from_ = _place(from_, "--from")
    with (
        writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault,
        count_progress("collecting", None, enabled=not json_out) as advance,
    ):
        report = delivery.pull(
            vault,
            from_,
            proxy=proxy,
            remove_after_import=remove_after_import,
            on_bundle=advance,
            allow_http=allow_http,
        )
    _finish(report, "imported", json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")
