"""`triage` (coordinator): work on received cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import open_vault, writing_vault
from reprisal_report.model.states import Role

triage_app = typer.Typer(help="Work on received cases (coordinator).", no_args_is_help=True)


def _table(rows: Sequence[Mapping[str, object]]) -> None:
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

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
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

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        doc = triage.show_case(vault, case_id)
    if json_out:
        emit_json(doc)
        return
    from reprisal_report.cli.render import print_case

    print_case(doc)


PurposeOpt = Annotated[
    str | None,
    typer.Option(
        "--purpose",
        help="Why the copy is made (kept in the vault's custody log, never in the output).",
    ),
]


@triage_app.command("attachment")
def attachment(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    out: Annotated[Path, typer.Option("--out", help="Existing directory to write into.")],
    purpose: PurposeOpt = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a case's attachments, decrypted from the retained bundle, into a directory."""
    from reprisal_report.workflows import triage

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        written = triage.write_attachments(vault, case_id, out, purpose)
    if written:
        warn(f"{len(written)} attachment(s) now exist as PLAINTEXT outside the vault in {out}")
    elif not json_out:
        info("this case has no attachments; nothing was written")
    if json_out:
        emit_json(
            {
                "written": [
                    {"name": w.name, "path": str(w.path), "size": w.size, "sha256": w.sha256}
                    for w in written
                ]
            }
        )
    else:
        for w in written:
            stdout_line(str(w.path))


@triage_app.command("evidence")
def evidence_(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    out: Annotated[Path, typer.Option("--out", help="Existing directory to write into.")],
    purpose: PurposeOpt = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a case's original received bundle files, unchanged, with a manifest of hashes."""
    from reprisal_report.workflows import triage

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        done = triage.export_evidence(vault, case_id, out, purpose)
    if done.not_retained:
        warn(
            f"{len(done.not_retained)} earlier bundle(s) of this case have no original file: "
            "imported before the evidence store"
        )
    if json_out:
        emit_json(
            {
                "written": [
                    {"name": f.name, "path": str(f.path), "size": f.size, "sha256": f.sha256}
                    for f in done.files
                ],
                "manifest": str(done.manifest),
                "not_retained": done.not_retained,
            }
        )
    else:
        for f in done.files:
            stdout_line(str(f.path))
        stdout_line(str(done.manifest))


def register(app: typer.Typer) -> None:
    app.add_typer(triage_app, name="triage")
