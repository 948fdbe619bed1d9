"""Relay hardening of issue 8: slowloris (flaw 8) against a real relay process.

Raw sockets to 127.0.0.1 on the relay's bound port hold half-open connections (a
request line and part of a header, never the blank line that ends the headers) while
a reporter's signed upload goes through the real client. Every wait is bounded.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.relay_fixtures import (
    RunningRelay,
    TestOrg,
    bundle,
    make_relay_dir,
    start_relay_process,
)

HALF_OPEN = 300
PARTIAL = b"POST /v1/bundles HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _relay(tmp_path: Path, **settings: object) -> RunningRelay:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card())
    return start_relay_process(data_dir, card_path, org, **settings)


@pytest.fixture(name="relay_process")
def relay_process_fixture(tmp_path: Path) -> Iterator[RunningRelay]:
    running = _relay(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _address(relay: RunningRelay) -> tuple[str, int]:
    parts = urlsplit(relay.url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _half_open(relay: RunningRelay, count: int) -> list[socket.socket]:
    held: list[socket.socket] = []
    for _ in range(count):
        sock = socket.create_connection(_address(relay), timeout=5)
        sock.sendall(PARTIAL)
        held.append(sock)
    return held


def _closed_by_relay(held: list[socket.socket], want: int, seconds: float) -> int:
    """How many of ``held`` the relay has closed, waiting at most ``seconds`` for ``want``."""
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + seconds
    while len(closed) < want and time.monotonic() < deadline:
        open_ones = [s for s in held if s not in closed]
        readable, _, _ = select.select(open_ones, [], [], 0.2)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except ConnectionError:
                data = b""
            if data == b"":
                closed.add(sock)
    return len(closed)


def test_300_half_open_connections_do_not_lock_out_a_signed_push(
    relay_process: RunningRelay,
) -> None:
    held = _half_open(relay_process, HALF_OPEN)
    try:
        # No retry on 503: the upload must get through at the first attempt.
        with relay_process.client(relay_process.org.reporter, max_retries=0) as reporter:
            receipt = reporter.upload(bundle(1))
        assert receipt.verified
        assert receipt.index == 0
        # All but the 16 newest half-open connections of this client were closed.
        assert _closed_by_relay(held, HALF_OPEN - 16, 10.0) >= HALF_OPEN - 16
        with relay_process.client(relay_process.org.coordinator, max_retries=0) as coordinator:
            assert [e.sha256 for e in coordinator.list()] == [receipt.bundle_sha256]
    finally:
        for sock in held:
            sock.close()


def test_a_connection_that_never_finishes_its_headers_is_closed(tmp_path: Path) -> None:
    relay = _relay(tmp_path, header_timeout_seconds=1)
    try:
        held = _half_open(relay, 1)
        try:
            started = time.monotonic()
            assert _closed_by_relay(held, 1, 10.0) == 1
            assert time.monotonic() - started < 10.0
        finally:
            held[0].close()
        # A prompt client on a fresh connection is served as usual.
        with relay.client(relay.org.reporter, max_retries=0) as reporter:
            assert reporter.upload(bundle(2)).verified
    finally:
        relay.stop()


def test_a_trickled_header_does_not_extend_the_deadline(tmp_path: Path) -> None:
    relay = _relay(tmp_path, header_timeout_seconds=2)
    try:
        sock = socket.create_connection(_address(relay), timeout=5)
        try:
            sock.sendall(PARTIAL)
            deadline = time.monotonic() + 10.0
            closed = False
            # One header byte every 0.2 s: data keeps arriving, the deadline holds.
            while not closed and time.monotonic() < deadline:
                try:
                    sock.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    try:
                        closed = sock.recv(4096) == b""
                    except ConnectionError:
                        closed = True
            assert closed
        finally:
            sock.close()
    finally:
        relay.stop()
