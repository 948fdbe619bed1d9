"""`seal` (reporter), `inbox import` and `triage` (coordinator)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt, resolve_home
from reprisal_report.cli.output import emit_json, error, info, stdout_line, warn
from reprisal_report.cli.progress import byte_progress
from reprisal_report.cli.session import open_vault
from reprisal_report.errors import ExitCode

inbox_app = typer.Typer(help="Receive sealed bundles (coordinator).", no_args_is_help=True)
triage_app = typer.Typer(help="Work on received cases (coordinator).", no_args_is_help=True)


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
    from reprisal_report.workflows import reporter, sealing

    where = resolve_home(ctx, home)
    with (
        reporter.writing(where),
        open_vault(ctx, home, passphrase_file, "reporter") as vault,
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
        open_vault(ctx, home, passphrase_file, "coordinator") as vault,
        byte_progress("importing", plan.total_bytes, enabled=not json_out) as advance,
    ):
        outcomes = inbox.import_paths(vault, plan, advance)
    failed = [o for o in outcomes if o.status == "failed"]
    if json_out:
        emit_json(
            {
                "imported": sum(o.status == "imported" for o in outcomes),
                "skipped": sum(o.status in ("duplicate", "skipped") for o in outcomes),
                "failed": [{"id": o.name, "reason": o.reason} for o in failed],
                "bundles": [
                    {
                        "path": str(o.path),
                        "status": o.status,
                        "bundle_id": o.bundle_id,
                        "case_id": o.case_id,
                        **({"reason": o.reason} if o.status == "skipped" else {}),
                    }
                    for o in outcomes
                ],
            }
        )
    else:
        for o in outcomes:
            if o.status == "imported":
                info(f"imported {o.name}: case {o.case_id}")
            elif o.status == "duplicate":
                info(f"skipped {o.name}: already imported; nothing changed")
    for o in outcomes:
        if o.status == "skipped" and not json_out:
            warn(f"skipped {o.name}: {o.reason}")
    for o in failed:
        if o.error is not None and not json_out:
            error(f"{o.name}: {o.error.message}", o.error.hint)
    if failed:
        codes = [int(o.error.exit_code) for o in failed if o.error is not None]
        raise typer.Exit(max(codes, default=int(ExitCode.VERIFICATION)))


def _table(rows: list[dict[str, Any]]) -> None:
    from reprisal_report.cli.render import print_table

    keys = ("id", "status", "title", "country", "incident_date", "risk", "consent")
    print_table(
        ("id", "status", "title", "country", "date", "risk", "consent"),
        ([r.get(k) or "" for k in keys] for r in rows),
    )


@triage_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Only this country.")] = None,
    risk: Annotated[str | None, typer.Option("--risk", help="Only this risk level.")] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List received cases (the latest bundle of each)."""
    from reprisal_report.workflows import triage

    with open_vault(ctx, home, passphrase_file, "coordinator") as vault:
        rows = triage.list_cases(vault, status=status, country=country, risk=risk)
    if json_out:
        emit_json(rows)
    elif rows:
        _table(rows)
    else:
        info("no received cases match")


@triage_app.command("show")
def show(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a received case with its attachments and bundle history."""
    from reprisal_report.workflows import triage

    with open_vault(ctx, home, passphrase_file, "coordinator") as vault:
        doc = triage.show_case(vault, case_id)
    if json_out:
        emit_json(doc)
        return
    from reprisal_report.cli.render import print_case

    print_case(doc)


@triage_app.command("attachment")
def attachment(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    out: Annotated[Path, typer.Option("--out", help="Existing directory to write into.")],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a case's attachments, decrypted, into a directory."""
    from reprisal_report.workflows import triage

    with open_vault(ctx, home, passphrase_file, "coordinator") as vault:
        written = triage.write_attachments(vault, case_id, out)
    if written:
        warn(f"{len(written)} attachment(s) now exist as PLAINTEXT outside the vault in {out}")
    elif not json_out:
        info("this case has no attachments; nothing was written")
    if json_out:
        emit_json(
            {"written": [{"name": w.name, "path": str(w.path), "size": w.size} for w in written]}
        )
    else:
        for w in written:
            stdout_line(str(w.path))


def register(app: typer.Typer) -> None:
    app.command("seal")(seal)
    app.add_typer(inbox_app, name="inbox")
    app.add_typer(triage_app, name="triage")
