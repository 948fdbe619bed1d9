"""Run the relay under uvicorn (what ``relay serve`` calls).

The relay state is opened before uvicorn starts, so a missing key, a bad org card or
a data directory in use by another process is reported as a ``ReportError`` (and a
clean exit code) instead of a traceback inside the server's start-up.

Access logs are off: a line per request would record client addresses and bundle
hashes, exactly what a seized relay should not hold.

Slowloris defence (``HeaderGuard``): uvicorn has no header-read timeout, so a client
that opens connections and never finishes a request line would hold them forever and,
past ``MAX_CONNECTIONS``, make uvicorn answer 503 to everyone. Here a connection still
sending its headers is "pending": it must complete them within
``header_timeout_seconds`` of opening (or of its previous answer), and at most
``max_pending_per_client`` such connections per client address and
``max_pending_connections`` in all are kept; a new one past either limit closes the
oldest pending one instead of being refused. Pending connections therefore never fill
the server, and a client that sends a whole request at once always gets served.
Behind a Tor onion service every client shares one address, so there only the total
limit and the timeout apply. Bodies have their own idle timeout (``app.py``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from reprisal_report.relay.app import create_app
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.service import RelayService

# Open connections uvicorn accepts before answering 503 itself; uploads have their own
# (lower) limit in RelayConfig.
MAX_CONNECTIONS = 256


class HeaderGuard:
    """Book-keeping of connections still sending their headers (one event loop)."""

    def __init__(self, timeout: float, per_client: int, total: int) -> None:
        self.timeout = timeout
        self.per_client = per_client
        self.total = total
        # Oldest first; values are the client address.
        self._pending: OrderedDict[_GuardedH11, str] = OrderedDict()
        self.closed_early = 0

    def __len__(self) -> int:
        return len(self._pending)

    def admit(self, conn: _GuardedH11) -> None:
        host = conn.client[0] if conn.client else ""
        self._pending[conn] = host
        conn.arm_header_timer(self.timeout)
        same = [c for c, h in self._pending.items() if h == host]
        if len(same) > self.per_client:
            self._evict(same[0])
        if len(self._pending) > self.total:
            self._evict(next(iter(self._pending)))

    def release(self, conn: _GuardedH11) -> None:
        if self._pending.pop(conn, None) is not None:
            conn.disarm_header_timer()

    def pending(self, conn: _GuardedH11) -> bool:
        return conn in self._pending

    def _evict(self, conn: _GuardedH11) -> None:
        self.release(conn)
        self.closed_early += 1
        conn.transport.abort()


def guarded_protocol(guard: HeaderGuard) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with ``guard`` watching the header phase."""

    class Guarded(_GuardedH11):
        header_guard = guard

    return Guarded


class _GuardedH11(H11Protocol):
    header_guard: HeaderGuard
    _header_timer: asyncio.TimerHandle | None = None

    def arm_header_timer(self, timeout: float) -> None:
        self.disarm_header_timer()
        self._header_timer = self.loop.call_later(timeout, self._header_timeout)

    def disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.header_guard.pending(self):
            self.header_guard.release(self)
            self.header_guard.closed_early += 1
            self.transport.abort()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.header_guard.admit(self)

    def data_received(self, data: bytes) -> None:
        between_requests = self.cycle is None or self.cycle.response_complete
        idle = self.conn.their_state is h11.IDLE
        if between_requests and idle and not self.header_guard.pending(self):
            # A keep-alive connection starts its next request: a new header phase.
            self.header_guard.admit(self)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self.header_guard.release(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.header_guard.release(self)
        super().connection_lost(exc)


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
    guard = HeaderGuard(
        config.header_timeout_seconds,
        config.max_pending_per_client,
        config.max_pending_connections,
    )
    server_config = uvicorn.Config(
        app,
        http=guarded_protocol(guard),
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
