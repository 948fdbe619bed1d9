"""`triage` (coordinator): work on received cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import open_vault, writing_vault
from reprisal_report.model.states import Role

if TYPE_CHECKING:
    from reprisal_report.workflows.triage import WrittenFile

triage_app = typer.Typer(help="Work on received cases (coordinator).", no_args_is_help=True)


def _table(rows: Sequence[Mapping[str, object]]) -> None:
    from reprisal_report.cli.render import print_table

    def flags(row: Mapping[str, object]) -> str:
        marks = []
        if row.get("possible_duplicate"):
            marks.append("dup?")
        if row.get("follow_up"):
            marks.append("follow-up")
        return " ".join(marks)

    keys = ("id", "status", "title", "country", "incident_date", "risk", "consent")
    print_table(
        ("id", "status", "title", "country", "date", "risk", "consent", "flags"),
        ([*(r.get(k) or "" for k in keys), flags(r)] for r in rows),
    )


@triage_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    country: Annotated[
        str | None, typer.Option("--country", help="Only this country (ISO 3166 code).")
    ] = None,
    risk: Annotated[str | None, typer.Option("--risk", help="Only this risk level.")] = None,
    consent: Annotated[
        str | None, typer.Option("--consent", help="Only this consent level.")
    ] = None,
    act: Annotated[str | None, typer.Option("--act", help="Only cases with this act.")] = None,
    mechanism: Annotated[
        str | None, typer.Option("--mechanism", help="Only cases with this UN mechanism.")
    ] = None,
    incident_from: Annotated[
        str | None,
        typer.Option("--incident-from", help="Incident on or after DATE (YYYY[-MM[-DD]])."),
    ] = None,
    incident_to: Annotated[
        str | None, typer.Option("--incident-to", help="Incident on or before DATE.")
    ] = None,
    received_from: Annotated[
        str | None, typer.Option("--received-from", help="First received on or after DATE.")
    ] = None,
    received_to: Annotated[
        str | None, typer.Option("--received-to", help="First received on or before DATE.")
    ] = None,
    duplicates: Annotated[
        bool, typer.Option("--duplicates", help="Only cases flagged as possible duplicates.")
    ] = False,
    follow_ups: Annotated[
        bool, typer.Option("--follow-ups", help="Only cases linked as a follow-up of another.")
    ] = False,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            help="Sort by received, updated, incident, country, status, risk, title or id; "
            "a leading - sorts descending (e.g. --sort=-incident).",
        ),
    ] = "received",
    limit: Annotated[int | None, typer.Option("--limit", help="At most N cases.")] = None,
    offset: Annotated[int, typer.Option("--offset", help="Skip the first N cases.")] = 0,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List received cases, filtered and sorted."""
    from reprisal_report.workflows import triage

    request = triage.ListRequest(
        status=status,
        country=country,
        risk=risk,
        consent=consent,
        act=act,
        mechanism=mechanism,
        incident_from=incident_from,
        incident_to=incident_to,
        received_from=received_from,
        received_to=received_to,
        duplicates=duplicates,
        follow_ups=follow_ups,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        page = triage.list_cases(vault, request)
    if json_out:
        emit_json(page.cases)
        return
    if page.cases:
        _table(page.cases)
    if page.total == 0:
        info("no received cases match")
    elif len(page.cases) < page.total:
        first = page.offset + 1 if page.cases else page.offset
        info(f"cases {first}-{page.offset + len(page.cases)} of {page.total}")


@triage_app.command("show")
def show(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a received case: record, triage history, notes, links, duplicates, bundles."""
    from reprisal_report.workflows import triage

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        doc = triage.show_case(vault, case_id)
    if json_out:
        emit_json(doc)
        return
    from reprisal_report.cli.render import print_case

    print_case(doc)


@triage_app.command("set")
def set_(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="New status: received > under_review > verified > submitted_to_un > "
            "closed, or rejected.",
        ),
    ] = None,
    risk: Annotated[str | None, typer.Option("--risk", help="Reassess the risk.")] = None,
    consent: Annotated[str | None, typer.Option("--consent", help="Reassess the consent.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Add a note (TEXT).")] = None,
    note_file: Annotated[
        Path | None, typer.Option("--note-file", help="Add a note read from a UTF-8 file.")
    ] = None,
    edit_note: Annotated[
        int | None,
        typer.Option("--edit-note", help="Replace note N with the --note / --note-file text."),
    ] = None,
    delete_note: Annotated[int | None, typer.Option("--delete-note", help="Delete note N.")] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason", help="Why (kept in the history; needed when protection is lowered)."
        ),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a case along the workflow, reassess risk and consent, add or edit notes."""
    from reprisal_report.errors import InvalidInput
    from reprisal_report.workflows import triage

    if note is not None and note_file is not None:
        raise InvalidInput("give --note or --note-file, not both")
    if note_file is not None:
        note = triage.read_note_file(note_file)
    change = triage.Change(
        status=status,
        risk=risk,
        consent=consent,
        note=note,
        reason=reason,
        edit_note=edit_note,
        delete_note=delete_note,
    )
    if change == triage.Change(reason=reason):
        raise InvalidInput(
            "nothing to change; give --status, --risk, --consent, --note or --delete-note"
        )
    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        changed = triage.set_case(vault, case_id, change)
    if json_out:
        emit_json({"id": case_id, "changed": changed})
    elif changed:
        info(f"changed: {', '.join(changed)}")
    else:
        info("nothing changed (the values were already set)")


@triage_app.command("link")
def link(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(metavar="ID", help="Case id (or a unique prefix).")],
    to: Annotated[str, typer.Option("--to", help="The other case.")],
    kind: Annotated[
        str, typer.Option("--as", help="follow_up, duplicate or related (ID is a ... of OTHER).")
    ],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Relate two cases: ID is a follow-up of, a duplicate of, or related to OTHER."""
    from reprisal_report.workflows import triage

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        replaced = triage.link_cases(vault, case_id, to, kind)
    if json_out:
        emit_json({"id": case_id, "to": to, "as": kind, "replaced": replaced})
    elif replaced is not None and replaced != kind:
        info(f"linked (replacing the earlier {replaced} link)")
    else:
        info("linked")


@triage_app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help='Words (case and accents ignored), "a phrase", prefix*, AND / OR / NOT.',
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", help="At most N hits.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip the first N hits.")] = 0,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Full-text search over the received cases and their notes (inside the vault)."""
    from reprisal_report.workflows import search as wf

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        hits = wf.search_cases(vault, query, limit=limit, offset=offset)
    if json_out:
        emit_json(hits)
        return
    if not hits:
        info("no case matches")
        return
    from reprisal_report.cli.render import print_table

    keys = ("id", "status", "title", "country", "field", "snippet")
    print_table(keys, ([h.get(k) or "" for k in keys] for h in hits))


@triage_app.command("stats")
def stats(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option("--by", help="Comma-separated: country, act, mechanism, year, status, risk."),
    ] = "country",
    chart: Annotated[bool, typer.Option("--chart", help="Draw bars in the terminal.")] = False,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Count received cases by country, act, mechanism, year, status or risk."""
    from reprisal_report.workflows import triage

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        result = triage.stats(vault, by.split(","))
    if json_out:
        emit_json(
            {"by": result.by, "unit": result.unit, "rows": result.rows, "total": result.total}
        )
        return
    from reprisal_report.cli.render import print_bars, print_table

    if chart:
        print_bars(
            [" / ".join(str(r[d]) for d in result.by) for r in result.rows],
            [int(str(r["count"])) for r in result.rows],
        )
    else:
        print_table(
            (*result.by, "count"),
            [
                *([*(r[d] for d in result.by), r["count"]] for r in result.rows),
                ["total", *([""] * (len(result.by) - 1)), result.total],
            ],
        )
    info(f"counting unit: one {result.unit}; total {result.total} = the sum of the rows")


PurposeOpt = Annotated[
    str | None,
    typer.Option(
        "--purpose",
        help="Why the copy is made (kept in the vault's custody log, never in the output).",
    ),
]


def _written_json(files: Sequence[WrittenFile]) -> list[dict[str, object]]:
    return [
        {"name": f.name, "path": str(f.path), "size": f.size, "sha256": f.sha256} for f in files
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
        emit_json({"written": _written_json(written)})
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
                "written": _written_json(done.files),
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
