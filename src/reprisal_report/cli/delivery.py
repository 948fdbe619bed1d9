"""`sync push|pull`, `relay init|serve` and `settings`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.options import HomeOpt, JsonOpt, PassFileOpt, resolve_home
from reprisal_report.cli.output import emit_json, error, info, warn
from reprisal_report.cli.session import open_vault, write_output_file

sync_app = typer.Typer(help="Deliver and collect sealed bundles.", no_args_is_help=True)
relay_app = typer.Typer(
    help="Run a relay that stores bundles it cannot read.", no_args_is_help=True
)
settings_app = typer.Typer(help="Profile settings.", no_args_is_help=True)

AllowHttpOpt = Annotated[
    bool,
    typer.Option(
        "--allow-http",
        help="Allow plain http to a remote relay (exposes this device's key id to the network).",
    ),
]
# Skipped entries with this reason are routine and not listed in text output.
ALREADY_IMPORTED = "already imported; nothing changed"
ProxyOpt = Annotated[
    str | None,
    typer.Option("--proxy", help="Proxy for relay traffic, e.g. socks5h://127.0.0.1:9050 (Tor)."),
]


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
                **({"skipped_entries": report.skipped_entries} if verb == "imported" else {}),
                **({"pending": report.pending} if verb == "delivered" else {}),
            }
        )
    else:
        info(f"{verb} {report.done}, skipped {report.skipped}, failed {len(report.failed)}")
        for item in report.failed:
            error(f"{item['id']}: {item['reason']}")
        for item in report.skipped_entries:
            if item["reason"] != ALREADY_IMPORTED:
                warn(f"{item['id']}: skipped: {item['reason']}")
    if report.exit_code:
        raise typer.Exit(report.exit_code)


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

    with (
        open_vault(ctx, home, passphrase_file, "reporter") as vault,
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

    with (
        open_vault(ctx, home, passphrase_file, "coordinator") as vault,
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


DataOpt = Annotated[Path, typer.Option("--data", help="The relay's data directory.")]


@relay_app.command("init")
def relay_init(
    data: DataOpt,
    card_out: Annotated[Path, typer.Option("--card-out", help="Where to write its identity card.")],
) -> None:
    """Create the relay's signing key in DIR and write its identity card."""
    from reprisal_report.workflows.relay_operator import init_relay

    card, key_id = init_relay(data)
    write_output_file(card_out, card)
    info(
        f"relay key {key_id} created in {data}; the coordinator enrols {card_out} with 'org enroll'"
    )


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
    from reprisal_report.workflows.relay_operator import serve

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


@settings_app.command("show")
def settings_show(
    ctx: typer.Context,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show this profile's settings."""
    from reprisal_report.workflows import delivery

    with open_vault(ctx, home, passphrase_file) as vault:
        doc = {"purge_after_delivery": delivery.purge_enabled(vault)}
    if json_out:
        emit_json(doc)
    else:
        for key, value in doc.items():
            typer.echo(f"{key}: {'on' if value else 'off'}")


@settings_app.command("purge-after-delivery")
def settings_purge(
    ctx: typer.Context,
    value: Annotated[
        str, typer.Argument(metavar="on|off", help="Purge plaintext once a receipt verifies.")
    ],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Purge a case's plaintext once its bundle's relay receipt verifies (reporters: on)."""
    from reprisal_report.errors import InvalidInput
    from reprisal_report.workflows import delivery

    if value not in ("on", "off"):
        raise InvalidInput("purge-after-delivery takes 'on' or 'off'")
    with open_vault(ctx, home, passphrase_file) as vault:
        delivery.set_purge(vault, value == "on")
    info(f"purge-after-delivery: {value}")


def org_publish(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="The relay's URL.")],
    proxy: ProxyOpt = None,
    allow_http: AllowHttpOpt = False,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Send the current org card to a relay, so it learns of enrolments and revocations."""
    from reprisal_report.workflows import delivery

    with open_vault(ctx, home, passphrase_file, "coordinator") as vault:
        version, changed = delivery.publish_card(vault, url, proxy=proxy, allow_http=allow_http)
    state = "now serves" if changed else "already served"
    info(f"the relay {state} card version {version}")


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")
    app.add_typer(relay_app, name="relay")
    app.add_typer(settings_app, name="settings")
