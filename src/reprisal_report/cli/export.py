"""`export` (coordinator): the do-no-harm export, and the organisation's pseudonym key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import writing_vault
from reprisal_report.model.states import Role


def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The export file to write.")],
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="public, un-confidential or stats (or the file's name)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="json, csv (Uwazi) or md.")] = "json",
    profile_file: Annotated[
        Path | None,
        typer.Option("--profile-file", help="An export profile of your own (TOML)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Statistics tables: fields joined by ',', tables by ';' "
            "(country, year, act, mechanism, status, risk).",
        ),
    ] = None,
    country: Annotated[
        str | None, typer.Option("--country", help="Only cases of this country.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only incidents on or after DATE.")
    ] = None,
    include_high_risk: Annotated[
        bool,
        typer.Option(
            "--include-high-risk",
            help="Include high-risk cases where the profile allows it (needs --reason).",
        ),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why high-risk cases are included (kept in the vault)."),
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export redacted cases or protected counts, gated and signed (FILE.minisig)."""
    from reprisal_report.workflows import export as wf

    request = wf.ExportRequest(
        profile=profile,
        profile_file=profile_file,
        format=fmt,
        out=out,
        by=by,
        country=country,
        since=since,
        include_high_risk=include_high_risk,
        reason=reason,
    )
    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        done = wf.export(vault, request)
    if json_out:
        emit_json(
            {
                "out": str(done.out),
                "signature": str(done.signature),
                "profile": done.profile,
                "format": done.format,
                "cases": done.cases,
                "tables": done.tables,
                "withheld": done.withheld,
                "sha256": done.sha256,
                "signer": done.signer,
                "leak_gate_values": done.gate_values,
                "high_risk_included": done.high_risk,
            }
        )
        return
    what = f"{done.tables} table(s)" if done.profile == "stats" else f"{done.cases} case(s)"
    withheld = sum(done.withheld.values())
    reasons = ", ".join(f"{k} {v}" for k, v in done.withheld.items())
    info(f"exported {what} ({done.profile}, {done.format}); withheld {withheld} ({reasons})")
    info(f"leak gate: none of {done.gate_values} withheld sensitive values appears in the file")
    if done.high_risk:
        warn(f"{done.high_risk} high-risk case(s) included; the reason is kept in the vault")
    stdout_line(str(done.out))
    stdout_line(str(done.signature))


key_app = typer.Typer(
    help="The organisation's pseudonym key: same pseudonyms from every coordinator.",
    no_args_is_help=True,
)


@key_app.command("export")
def key_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="File to write (mode 0600; a secret).")],
    org: Annotated[str | None, typer.Option("--org", help="Org id (default: your own).")] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Write the org's pseudonym key for another coordinator of the org (a secret)."""
    from reprisal_report.workflows import export as wf

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        wf.export_pseudonym_key(vault, out, org)
    warn(f"{out} holds a secret: whoever has it can test names against pseudonyms")


@key_app.command("import")
def key_import(
    ctx: typer.Context,
    key_file: Annotated[Path, typer.Argument(metavar="FILE", help="A pseudonym key file.")],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Install the org's pseudonym key written by another coordinator."""
    from reprisal_report.workflows import export as wf

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        org_id = wf.import_pseudonym_key(vault, key_file)
    info(f"pseudonym key of org {org_id} installed")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.add_typer(key_app, name="pseudonym-key")
