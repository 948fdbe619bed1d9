"""Reporter commands: case new, list, show, edit, attach."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import writing_vault
from reprisal_report.model.states import Role

if TYPE_CHECKING:
    from reprisal_report.vault.store import Vault
    from reprisal_report.workflows.reporter import CaseView

app = typer.Typer(help="Write and manage case reports (reporter).", no_args_is_help=True)

FromOpt = Annotated[
    Path | None,
    typer.Option("--from", help="Read the case from a YAML or JSON file.", show_default=False),
]


def _open(ctx: typer.Context, home: Path | None, passphrase_file: Path | None) -> Vault:
    from reprisal_report.cli.session import open_vault

    return open_vault(ctx, home, passphrase_file, Role.REPORTER)


def case_json(view: CaseView) -> dict[str, Any]:
    row = view.row
    return {
        "id": row.id,
        "state": row.state,
        "org_id": row.org_id,
        "revision": row.revision,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        **row.record,
        "attachments": [
            {
                "name": a.name,
                "size": a.size,
                "sha256": a.sha256,
                "original_sha256": a.original_sha256,
                "metadata": a.metadata,
            }
            for a in view.attachments
        ],
    }


@app.command("new")
def new(
    ctx: typer.Context,
    from_file: FromOpt = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="Address the case to this joined org.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a case from a file, or through prompts (a draft is saved as you go)."""
    from reprisal_report.workflows import reporter

    record = reporter.read_case_file(from_file) if from_file is not None else None
    with writing_vault(ctx, home, passphrase_file, Role.REPORTER) as vault:
        org_id = reporter.choose_org(vault, org)
        if record is not None:
            case_id = reporter.new_case(vault, record, org_id)
        else:
            from reprisal_report.cli.case_prompts import prompt_case

            case_id = prompt_case(vault, org_id, existing=None)
    if json_out:
        emit_json({"id": case_id})
    else:
        info("case stored in the vault")
        stdout_line(case_id)


@app.command("list")
def list_(
    ctx: typer.Context,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the cases in this vault."""
    from reprisal_report.workflows import reporter

    with _open(ctx, home, passphrase_file) as vault:
        rows = reporter.list_cases(vault)
        per_case = reporter.attachment_counts(vault)
    counts = {r.id: per_case.get(r.id, 0) for r in rows}
    if json_out:
        emit_json(
            [
                {
                    "id": r.id,
                    "title": r.record.get("title"),
                    "country": r.record.get("country"),
                    "incident_date": r.record.get("incident_date"),
                    "state": r.state,
                    "risk": r.record.get("risk"),
                    "consent": r.record.get("consent"),
                    "attachments": counts[r.id],
                    "revision": r.revision,
                    "needs_sealing": r.needs_sealing,
                    "updated_at": r.updated_at,
                }
                for r in rows
            ]
        )
        return
    from reprisal_report.cli.render import print_table

    if rows:
        print_table(
            ("id", "state", "title", "country", "date", "risk", "files", "needs sealing"),
            (
                (
                    r.id,
                    r.state,
                    r.record.get("title", ""),
                    r.record.get("country", ""),
                    r.record.get("incident_date", ""),
                    r.record.get("risk", ""),
                    counts[r.id],
                    "yes" if r.needs_sealing else "",
                )
                for r in rows
            ),
        )
    else:
        info("no cases yet; create one with 'reprisal-report case new'")


@app.command("show")
def show(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one case with its attachments."""
    from reprisal_report.workflows import reporter

    with _open(ctx, home, passphrase_file) as vault:
        view = reporter.show_case(vault, case_id)
    if json_out:
        emit_json(case_json(view))
        return
    from reprisal_report.cli.render import print_case

    print_case(case_json(view))


@app.command("edit")
def edit(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    from_file: FromOpt = None,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="Address the case to this joined org (one it was not yet sealed for).",
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace a case's record from a file, or revise it through prompts."""
    from reprisal_report.workflows import reporter

    record = reporter.read_case_file(from_file) if from_file is not None else None
    with writing_vault(ctx, home, passphrase_file, Role.REPORTER) as vault:
        current = reporter.show_case(vault, case_id)
        if record is not None:
            row = reporter.edit_case(vault, current.row.id, record, org)
        else:
            from reprisal_report.cli.case_prompts import prompt_case

            existing = current.row
            if org is not None:
                existing = reporter.readdress_case(vault, existing.id, org)
            prompt_case(vault, existing.org_id, existing=existing)
            row = reporter.show_case(vault, current.row.id).row
    if json_out:
        emit_json(
            {"id": row.id, "revision": row.revision, "state": row.state, "org_id": row.org_id}
        )
    else:
        info(f"case {row.id} updated (revision {row.revision})")


@app.command("attach")
def attach(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Files to attach.")],
    keep_metadata: Annotated[
        bool,
        typer.Option(
            "--keep-metadata",
            help="Store files whose metadata cannot be stripped, as they are.",
        ),
    ] = False,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stream files into the vault as attachments of a case."""
    from reprisal_report.cli.progress import byte_progress
    from reprisal_report.workflows import reporter

    total = sum(p.stat().st_size for p in files if p.is_file())
    with (
        writing_vault(ctx, home, passphrase_file, Role.REPORTER) as vault,
        byte_progress("attaching", total, enabled=not json_out) as advance,
    ):
        stored = reporter.attach_files(
            vault, case_id, files, keep_metadata=keep_metadata, on_chunk=advance
        )
    for item in stored:
        if not item.metadata.startswith("stripped"):
            warn(f"{item.name}: stored as given; any metadata it carries was kept")
    if json_out:
        emit_json(
            {
                "attachments": [
                    {"name": a.name, "size": a.size, "sha256": a.sha256, "metadata": a.metadata}
                    for a in stored
                ]
            }
        )
    else:
        for a in stored:
            info(f"attached {a.name} ({a.size} bytes, sha256 {a.sha256[:16]}…)")


@app.command("template")
def template(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the file to PATH instead of standard output."),
    ] = None,
) -> None:
    """Print an example case file (YAML, every field explained) to start a case from."""
    import sys

    from reprisal_report.cli.session import write_output_file
    from reprisal_report.workflows.demo import example_case_bytes

    data = example_case_bytes()
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        write_output_file(out, data)
        info(f"wrote an example case file to {out}")
