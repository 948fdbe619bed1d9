"""Run the relay under uvicorn (what ``relay serve`` calls).

The relay state is opened before uvicorn starts, so a missing key, a bad org card or
a data directory in use by another process is reported as a ``ReportError`` (and a
clean exit code) instead of a traceback inside the server's start-up.

Access logs are off: a line per request would record client addresses and bundle
hashes, exactly what a seized relay should not hold.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from reprisal_report.relay.app import create_app
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.service import RelayService

# Open connections uvicorn accepts before answering 503 itself; uploads have their own
# (lower) limit in RelayConfig.
MAX_CONNECTIONS = 256


def build_server(
    config: RelayConfig,
    service: RelayService,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "warning",
) -> uvicorn.Server:
    app = create_app(config, service)
    server_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        # No reverse proxy is trusted to name the client: the relay does not use it.
        proxy_headers=False,
        log_level=log_level,
        lifespan="on",
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    return uvicorn.Server(server_config)


def serve(
    config: RelayConfig,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> None:
    """Serve until interrupted (SIGINT / SIGTERM)."""
    service = RelayService(config)
    try:
        build_server(config, service, host, port, tls_cert=tls_cert, tls_key=tls_key).run()
    finally:
        service.close()
