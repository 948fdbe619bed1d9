"""`audit`: hand out the custody log; check logs, receipts and evidence (docs/audit.md).

``audit_app`` is the group: another module may add commands to it
(``@audit_app.command("verify-export")``) before ``register`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info, stdout_line
from reprisal_report.cli.session import open_vault, writing_vault
from reprisal_report.model.states import Role

if TYPE_CHECKING:
    from reprisal_report.audit.verify import LogReport

audit_app = typer.Typer(
    help="Custody log, checkpoints and the auditor's checks.", no_args_is_help=True
)

OrgFileOpt = Annotated[
    Path,
    typer.Option(
        "--org",
        help="The org card file, or the 'org history' file with every version.",
        show_default=False,
    ),
]


@audit_app.command("log")
def log(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="File to write.", show_default=False)],
    since: Annotated[
        int | None,
        typer.Option("--since", help="Only entries from this index on.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the custody log (ids, hashes, signatures; no case content) and its
    checkpoints, with a new checkpoint of the whole log."""
    from reprisal_report.workflows import audit

    if since is not None and since < 0:
        from reprisal_report.errors import InvalidInput

        raise InvalidInput("--since takes an entry index, 0 or more")
    first = since or 0
    with writing_vault(ctx, home, passphrase_file) as vault:
        written = audit.export_log(vault, out, first)
    if json_out:
        emit_json({"out": str(written.out), "first": written.first, "size": written.size})
        return
    info(f"wrote entries {written.first} to {written.size - 1} of the custody log to {out}")


def _summary(report: LogReport) -> None:
    if not report.origin:
        # The header did not read: nothing of the file can be summarised, only the card.
        stdout_line("custody log: no valid header, no entry read")
    else:
        count = sum(report.events.values())
        entries = f"entries {report.first} to {report.first + count - 1}" if count else "no entry"
        stdout_line(f"custody log {report.origin}: {entries} of {report.size}")
    versions = report.card_versions
    stdout_line(
        f"org {report.org_name} ({report.org_id}), card versions {versions[0]} to "
        f"{versions[-1]}, root fingerprint {report.root_fingerprint}"
    )
    for kid, signer in sorted(report.signers.items()):
        stdout_line(
            f"signer {kid} ({signer['role'] or 'no role'}, {signer['label'] or 'no label'}): "
            f"{signer['entries']} entries"
        )
    if report.events:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(report.events.items()))
        stdout_line(f"events: {counts}")
        stdout_line(f"first entry at {report.first_time}, last at {report.last_time}")
    if report.checkpoints:
        stdout_line(f"checkpoints: {report.checkpoints}")
    if report.earlier_size is not None:
        stdout_line(f"extends the earlier log of {report.earlier_size} entries")


@audit_app.command("verify-log")
def verify_log(
    log_file: Annotated[Path, typer.Argument(metavar="FILE", help="A custody log file.")],
    org: OrgFileOpt,
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            help="An earlier log file of the same profile that this one must extend.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a custody log with public keys only: chain, signatures, roles at the time,
    checkpoints; prints a summary and OK or FAIL: entry N: reason (exit 3)."""
    from reprisal_report.workflows import audit

    report = audit.verify_log_file(log_file, org, since)
    if json_out:
        emit_json(report.to_json())
    else:
        _summary(report)
        stdout_line("OK" if report.failure is None else report.failure.line())
    if report.failure is not None:
        raise audit.LogVerificationFailed(
            f"the custody log does not verify: {report.failure.where}: {report.failure.reason}"
        )


@audit_app.command("verify-export")
def verify_export(
    export_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="An export (FILE.minisig beside it).")
    ],
    org: OrgFileOpt,
    json_out: JsonOpt = False,
) -> None:
    """Check an export with public keys only: its signature by a coordinator of the org,
    and each disclosed field against the author's signed commitment (exit 3 on failure)."""
    from reprisal_report.errors import VerificationError
    from reprisal_report.workflows.export import verify_export_file

    check = verify_export_file(export_file, org)
    if json_out:
        emit_json(
            {
                "ok": check.ok,
                "signature": {
                    "ok": check.signature_ok,
                    "signer": check.signer,
                    "problem": check.signature_problem,
                    "trusted_comment": check.trusted_comment,
                },
                "profile": check.profile,
                "cases": [
                    {
                        "id": c.case_id,
                        "result": c.result,
                        "ok": c.ok,
                        "disclosed": c.disclosed,
                        "withheld": c.withheld,
                    }
                    for c in check.cases
                ],
            }
        )
    else:
        if check.signature_ok:
            info(f"signature: verified, by coordinator {check.signer}")
        for case in check.cases:
            stdout_line(f"{case.case_id}: {case.result}")
        stdout_line("OK" if check.ok else "FAIL")
    if not check.signature_ok:
        raise VerificationError(f"the export does not verify: {check.signature_problem}")
    failed = [c for c in check.cases if not c.ok]
    if failed:
        raise VerificationError(
            f"the export does not verify: case {failed[0].case_id}: {failed[0].result}"
        )


@audit_app.command("verify-receipts")
def verify_receipts(
    ctx: typer.Context,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check stored relay receipts and tree heads, and the kept evidence files
    (reporter, coordinator); exit 3 on any failure."""
    from reprisal_report.errors import VerificationError
    from reprisal_report.workflows import audit

    with open_vault(ctx, home, passphrase_file, Role.REPORTER, Role.COORDINATOR) as vault:
        report = audit.verify_receipts(vault)
    if json_out:
        emit_json(report.to_json())
    else:
        for item in report.items:
            where = f" (relay {item.relay_key_id}, tree size {item.tree_size})"
            suffix = where if item.relay_key_id else ""
            reason = f": {item.reason}" if item.reason else ""
            stdout_line(f"{item.kind} {item.name}: {item.status}{reason}{suffix}")
        for note in report.notes:
            info(f"note: {note}")
        first = report.failures[0] if report.failures else None
        stdout_line("OK" if first is None else f"FAIL: {first.kind} {first.name}: {first.reason}")
    if report.failures:
        first = report.failures[0]
        raise VerificationError(
            f"{len(report.failures)} check(s) failed, first: {first.kind} {first.name}: "
            f"{first.reason}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
