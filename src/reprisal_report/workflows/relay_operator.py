"""Relay operator use cases: create the relay's key, run the relay."""

from __future__ import annotations

from pathlib import Path

from reprisal_report.errors import InvalidInput
from reprisal_report.identity.fingerprint import key_id

MIB = 1024 * 1024


def init_relay(data_dir: Path) -> tuple[bytes, str, str]:
    """Make the relay's key in ``data_dir``: (identity card, key id, fingerprint)."""
    from reprisal_report.identity.idcard import parse_card
    from reprisal_report.relay.keys import init_relay as make

    card = make(data_dir)
    ident = parse_card(card)
    return card, key_id(ident.signing_key), ident.fingerprint


def serve(
    data_dir: Path,
    org_card: Path,
    host: str,
    port: int,
    *,
    tls_cert: Path | None,
    tls_key: Path | None,
    max_bundle_mib: int,
    quota_mib: int,
    max_uploads: int,
    retention_days: int = 30,
) -> None:
    from reprisal_report.relay.config import RelayConfig
    from reprisal_report.relay.server import serve as run

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("a TLS certificate and its key go together; one was given alone")
    if not 1 <= port <= 65535:
        raise InvalidInput("the port must be between 1 and 65535")
    config = RelayConfig(
        data_dir=data_dir,
        org_card=org_card,
        max_bundle_bytes=max_bundle_mib * MIB,
        quota_bytes_per_key=quota_mib * MIB,
        max_concurrent_uploads=max_uploads,
        retention_seconds=retention_days * 24 * 3600,
    )
    run(config, host, port, tls_cert=tls_cert, tls_key=tls_key)
