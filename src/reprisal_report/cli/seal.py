"""`seal` (reporter): cases into bundles in the outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt, resolve_home
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.progress import byte_progress
from reprisal_report.cli.session import writing_vault
from reprisal_report.errors import InvalidInput
from reprisal_report.model.states import Role


def seal(
    ctx: typer.Context,
    case_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[CASE_ID...]", help="Cases to seal.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Seal every case ready to seal.")] = False,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="Seal for this joined org (cases not yet addressed to one; with --all,"
            " only this org's cases).",
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Seal cases into signed, encrypted bundles in the outbox."""
    from reprisal_report.workflows import sealing

    if not case_ids and not all_:
        raise InvalidInput("name the cases to seal, or pass --all")
    where = resolve_home(ctx, home)
    with (
        writing_vault(ctx, home, passphrase_file, Role.REPORTER) as vault,
    ):
        rows = sealing.cases_to_seal(vault, case_ids or [], all_, org)
        total = sealing.sealing_size(vault, rows)
        with byte_progress("sealing", total, enabled=not json_out) as advance:
            done, skipped = sealing.seal_cases(
                vault, where, rows, skip_failures=all_, org_id=org, on_bytes=advance
            )
    for item in skipped:
        warn(f"case {item.case_id} was not sealed: {item.error.message}")
    if json_out:
        emit_json(
            {
                "bundles": [
                    {
                        "id": b.bundle_id,
                        "case_id": b.case_id,
                        "org_id": b.org_id,
                        "previous_bundle_id": b.previous_bundle_id,
                        "size": b.size,
                    }
                    for b in done
                ],
                "skipped": [
                    {"case_id": item.case_id, "reason": item.error.message} for item in skipped
                ],
            }
        )
    else:
        if not done and not skipped:
            info("nothing to seal")
        for b in done:
            follow = f" (follow-up to {b.previous_bundle_id})" if b.previous_bundle_id else ""
            info(f"sealed case {b.case_id} for org {b.org_id}{follow}")
            stdout_line(b.bundle_id)
    if skipped:
        raise typer.Exit(max(int(item.error.exit_code) for item in skipped))


def register(app: typer.Typer) -> None:
    app.command("seal")(seal)
