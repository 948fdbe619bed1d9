"""`relay init|serve`: run a relay that stores bundles it cannot read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import JsonOpt
from reprisal_report.cli.output import emit_json, info
from reprisal_report.cli.session import write_output_file

relay_app = typer.Typer(
    help="Run a relay that stores bundles it cannot read.", no_args_is_help=True
)

DataOpt = Annotated[Path, typer.Option("--data", help="The relay's data directory.")]


@relay_app.command("init")
def relay_init(
    data: DataOpt,
    card_out: Annotated[Path, typer.Option("--card-out", help="Where to write its identity card.")],
    json_out: JsonOpt = False,
) -> None:
    """Create the relay's signing key in DIR and write its identity card."""
    from reprisal_report.workflows.relay_operator import init_relay

    card, key_id, fingerprint = init_relay(data)
    write_output_file(card_out, card)
    if json_out:
        emit_json(
            {"key_id": key_id, "fingerprint": fingerprint, "card": str(card_out), "data": str(data)}
        )
        return
    info(
        f"relay key {key_id} created in {data}; the coordinator enrols {card_out} with 'org enroll'"
    )
    info(f"read its fingerprint to the coordinator (org enroll --fingerprint): {fingerprint}")


@relay_app.command("serve")
def relay_serve(
    data: DataOpt,
    org: Annotated[Path, typer.Option("--org", help="The org card the relay serves.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8787,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="TLS private key (PEM).")
    ] = None,
    max_bundle_mib: Annotated[
        int, typer.Option("--max-bundle-mib", help="Largest bundle accepted.")
    ] = 64,
    quota_mib: Annotated[
        int, typer.Option("--quota-mib", help="Unacknowledged MiB per key.")
    ] = 1024,
    max_uploads: Annotated[int, typer.Option("--max-uploads", help="Concurrent uploads.")] = 8,
    retention_days: Annotated[
        int,
        typer.Option(
            "--retention-days", help="Days a bundle is kept when not every coordinator collects it."
        ),
    ] = 30,
) -> None:
    """Run the relay (HTTPS with --tls-cert/--tls-key; plain HTTP for loopback or Tor)."""
    from reprisal_report.errors import InvalidInput
    from reprisal_report.workflows.relay_operator import serve

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("--tls-cert and --tls-key go together")
    info(f"relay listening on {'https' if tls_cert else 'http'}://{host}:{port}")
    serve(
        data,
        org,
        host,
        port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_bundle_mib=max_bundle_mib,
        quota_mib=quota_mib,
        max_uploads=max_uploads,
        retention_days=retention_days,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(relay_app, name="relay")
