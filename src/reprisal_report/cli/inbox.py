"""`inbox import` (coordinator): verify, decrypt and store bundle files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, error, info, warn
from reprisal_report.cli.progress import byte_progress
from reprisal_report.cli.session import writing_vault
from reprisal_report.errors import ExitCode
from reprisal_report.model.states import ImportStatus, Role

inbox_app = typer.Typer(help="Receive sealed bundles (coordinator).", no_args_is_help=True)


@inbox_app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="Bundle files or folders.")
    ],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify, decrypt and store bundle files (or folders of them)."""
    from reprisal_report.workflows import inbox

    plan = inbox.plan_paths(paths)
    with (
        writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault,
        byte_progress("importing", plan.total_bytes, enabled=not json_out) as advance,
    ):
        outcomes = inbox.import_paths(vault, plan, advance)
    failed = [o for o in outcomes if o.status == ImportStatus.FAILED]
    if json_out:
        emit_json(
            {
                "imported": sum(o.status == ImportStatus.IMPORTED for o in outcomes),
                "skipped": sum(
                    o.status in (ImportStatus.DUPLICATE, ImportStatus.SKIPPED) for o in outcomes
                ),
                "failed": [{"id": o.name, "reason": o.reason} for o in failed],
                "bundles": [
                    {
                        "path": str(o.path),
                        "status": o.status,
                        "bundle_id": o.bundle_id,
                        "case_id": o.case_id,
                        **({"reason": o.reason} if o.status == ImportStatus.SKIPPED else {}),
                    }
                    for o in outcomes
                ],
            }
        )
    else:
        for o in outcomes:
            if o.status == ImportStatus.IMPORTED:
                info(f"imported {o.name}: case {o.case_id}")
            elif o.status == ImportStatus.DUPLICATE:
                info(f"skipped {o.name}: already imported; nothing changed")
    for o in outcomes:
        if o.status == ImportStatus.SKIPPED and not json_out:
            warn(f"skipped {o.name}: {o.reason}")
    for o in failed:
        if o.error is not None and not json_out:
            error(f"{o.name}: {o.error.message}", o.error.hint)
    if failed:
        codes = [int(o.error.exit_code) for o in failed if o.error is not None]
        raise typer.Exit(max(codes, default=int(ExitCode.VERIFICATION)))


def register(app: typer.Typer) -> None:
    app.add_typer(inbox_app, name="inbox")
