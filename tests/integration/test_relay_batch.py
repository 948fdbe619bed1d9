"""Batch acknowledgements and uploads in flight against a real relay on 127.0.0.1.

- ``POST /v1/bundles/acks``: every bundle of the batch acknowledged, in order, or none
  (404); its limits (500 hashes, 64 KiB) are 413; a malformed body is 400; the
  signature covers the body; only coordinators may use it.
- Old clients are still served: the per-bundle acknowledgement works as before, mixed
  with batches. A new client facing an older relay (no batch endpoint: 405) falls back
  to acknowledging one by one.
- Many uploads in flight at once (the relay commits them in groups): each bundle is
  logged once, every receipt verifies, re-uploads give back the same receipts.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from reprisal_report.errors import RelayFailed, RelayRefused
from reprisal_report.protocol import requests_auth as ra
from reprisal_report.protocol.receipts import Receipt, verify_receipt
from reprisal_report.protocol.wire import MAX_ACK_BATCH, ack_batch_body
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.service import RelayService
from reprisal_report.transport.inflight import in_flight
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    Device,
    RunningRelay,
    TestOrg,
    bundle,
    make_relay_dir,
    relay_env_fixture,
    relay_fixture,
    start_relay_process,
)
from tests.integration.relay_fixtures import _bind as bind_loopback

ACKS = "/v1/bundles/acks"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(relay: RunningRelay, count: int, start: int = 0) -> list[str]:
    with relay.client(relay.org.reporter) as reporter:
        return [reporter.upload(bundle(i)).bundle_sha256 for i in range(start, start + count)]


def send(
    relay: RunningRelay, device: Device, body: bytes, signed: bytes | None = None
) -> httpx.Response:
    """POST a batch acknowledgement signed over ``signed`` (the body itself by default)."""
    request = httpx.Request("POST", relay.url + ACKS, content=body)
    request.headers["Content-Type"] = "application/json"
    request.headers.update(
        ra.sign_request(
            device.key,
            device.key_id,
            "POST",
            request.url.raw_path,
            body if signed is None else signed,
        )
    )
    with httpx.Client() as client:
        return client.send(request)


def expect(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {"error": message}


def acked(relay: RunningRelay) -> list[bool]:
    with relay.client(relay.org.coordinator) as coordinator:
        return [e.acknowledged for e in coordinator.list()]


def test_a_batch_acknowledges_every_bundle_in_the_order_asked(relay: RunningRelay) -> None:
    hashes = upload(relay, 5)
    asked = [hashes[3], hashes[0], hashes[4], hashes[1], hashes[2]]
    with relay.client(relay.org.coordinator) as coordinator:
        entries = coordinator.ack_many(asked)
        assert coordinator.batch_acks
    assert [e.sha256 for e in entries] == asked
    # The only coordinator collected them: the relay deleted the bytes.
    assert [(e.acknowledged, e.held) for e in entries] == [(True, False)] * 5
    assert sorted(e.index for e in entries) == [0, 1, 2, 3, 4]
    assert relay.stored_files() == []
    assert acked(relay) == [True] * 5
    with relay.client(relay.org.coordinator) as coordinator:
        again = coordinator.ack_many(asked)  # idempotent
    assert [(e.sha256, e.acknowledged) for e in again] == [(h, True) for h in asked]


def test_a_batch_is_all_or_nothing(relay: RunningRelay) -> None:
    hashes = upload(relay, 3)
    unknown = sha(b"never uploaded")
    with relay.client(relay.org.coordinator) as coordinator, pytest.raises(RelayFailed) as caught:
        coordinator.ack_many([hashes[0], unknown, hashes[1]])
    assert caught.value.message == (
        f"relay 127.0.0.1 answered 404: no such bundle on this relay: {unknown[:16]}"
    )
    assert acked(relay) == [False] * 3
    assert sorted(relay.stored_files()) == sorted(hashes)


def test_more_than_500_hashes_is_413_and_nothing_is_recorded(relay: RunningRelay) -> None:
    hashes = upload(relay, 1)
    filler = [f"{i:064x}" for i in range(MAX_ACK_BATCH)]
    body = json.dumps({"bundles": [*hashes, *filler]}, separators=(",", ":")).encode()
    expect(
        send(relay, relay.org.coordinator, body),
        413,
        f"at most {MAX_ACK_BATCH} bundles per acknowledgement, not {MAX_ACK_BATCH + 1}",
    )
    oversized = b'{"bundles":["' + b"a" * 70_000 + b'"]}'
    expect(
        send(relay, relay.org.coordinator, oversized), 413, "request body larger than 65536 bytes"
    )
    assert acked(relay) == [False]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"bundles": ["%s"]}', "acknowledgement body is not canonical JSON"),
        (b'{"bundles":["%s","%s"]}', "acknowledgement names a bundle twice"),
        (b'{"bundles":[]}', "acknowledgement names no bundle"),
        (b'{"all":true,"bundles":["%s"]}', 'acknowledgement body must be {"bundles": [...]}'),
        (b'["%s"]', 'acknowledgement body must be {"bundles": [...]}'),
    ],
)
def test_a_malformed_batch_is_400(relay: RunningRelay, body: bytes, message: str) -> None:
    digest = upload(relay, 1)[0].encode()
    expect(send(relay, relay.org.coordinator, body.replace(b"%s", digest)), 400, message)
    assert acked(relay) == [False]


def test_the_signature_covers_the_batch_body(relay: RunningRelay) -> None:
    hashes = upload(relay, 2)
    signed = ack_batch_body(hashes[:1])
    sent = ack_batch_body(hashes)  # one more bundle than was signed
    expect(
        send(relay, relay.org.coordinator, sent, signed=signed),
        400,
        "request body does not match X-RR-Body-SHA256",
    )
    assert acked(relay) == [False, False]


def test_only_coordinators_acknowledge(relay: RunningRelay) -> None:
    hashes = upload(relay, 1)
    for device, role in ((relay.org.reporter, "a reporter"), (relay.org.auditor, "an auditor")):
        expect(
            send(relay, device, ack_batch_body(hashes)),
            403,
            f"{role} key may not acknowledge bundles",
        )
        with relay.client(device) as client, pytest.raises(RelayRefused):
            client.ack_many(hashes)
    assert acked(relay) == [False]


def test_an_old_client_acknowledging_one_by_one_is_still_served(relay: RunningRelay) -> None:
    hashes = upload(relay, 4)
    with relay.client(relay.org.coordinator) as coordinator:
        first = coordinator.ack(hashes[0])  # POST /v1/bundles/{sha256}/ack, as before
        rest = coordinator.ack_many(hashes[1:])
        assert coordinator.ack(hashes[2]).acknowledged  # either way, idempotent
    assert (first.sha256, first.acknowledged, first.held) == (hashes[0], True, False)
    assert [e.sha256 for e in rest] == hashes[1:]
    assert acked(relay) == [True] * 4


# --- a relay from before batch acknowledgements --------------------------------------


def start_old_relay(
    data_dir: Path, card_path: Path, port: int = 0
) -> tuple[int, RelayService, Callable[[], None]]:
    """The real relay with its batch endpoints (acknowledgements, inclusion proofs)
    taken out: what an older release serves.

    In a thread of the test process on 127.0.0.1 (``port`` 0: a free one); returns the
    port, the service and a function that stops it."""
    from reprisal_report.relay.server import build_server

    config = RelayConfig(data_dir=data_dir, org_card=card_path)
    service = RelayService(config)
    sock = bind_loopback() if port == 0 else socket.create_server(("127.0.0.1", port))
    port = sock.getsockname()[1]
    server = build_server(config, service, "127.0.0.1", port, log_level="error")
    app = server.config.app
    assert isinstance(app, FastAPI)
    newer = {ACKS, "/v1/log/inclusions"}
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") not in newer]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("relay thread did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        service.close()

    return port, service, stop


@pytest.fixture(name="old_relay")
def old_relay_fixture(relay_env: tuple[Path, Path, TestOrg]) -> Iterator[RunningRelay]:
    data_dir, card_path, org = relay_env
    port, service, stop = start_old_relay(data_dir, card_path)
    try:
        yield RunningRelay(f"http://127.0.0.1:{port}", data_dir, card_path, org, service)
    finally:
        stop()


def test_a_relay_without_batch_acks_is_acknowledged_one_by_one(old_relay: RunningRelay) -> None:
    hashes = upload(old_relay, 3)
    answer = send(old_relay, old_relay.org.coordinator, ack_batch_body(hashes))
    expect(answer, 405, "method not allowed")  # what an older relay answers
    assert acked(old_relay) == [False] * 3
    with old_relay.client(old_relay.org.coordinator) as coordinator:
        entries = coordinator.ack_many(hashes)
        assert not coordinator.batch_acks
        assert coordinator.ack_many(hashes[:1])[0].acknowledged  # straight to one by one
    assert [(e.sha256, e.acknowledged) for e in entries] == [(h, True) for h in hashes]
    assert acked(old_relay) == [True] * 3
    assert old_relay.stored_files() == []


# --- uploads in flight ------------------------------------------------------------------


def test_fifty_uploads_in_flight_are_each_logged_once(tmp_path: Path) -> None:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card())
    running = start_relay_process(data_dir, card_path, org)
    blobs = [bundle(i, 2000 + i) for i in range(50)]
    try:
        with running.client(org.reporter, timeout=120) as reporter:

            def push_all() -> list[Receipt]:
                results = in_flight(reporter.upload, blobs, workers=8)
                with closing(results):
                    return [future.result() for _, future in results]

            first = push_all()
            again = push_all()  # every one already held: the same receipts
            # The same bytes from eight threads at once: one log entry, one receipt.
            twin = bundle(99, 5000)
            with ThreadPoolExecutor(max_workers=8) as pool:
                twins = list(pool.map(lambda _: reporter.upload(twin), range(8)))
        assert sorted(r.index for r in first) == list(range(50))
        for data, receipt in zip(blobs, first, strict=True):
            assert receipt.verified
            verify_receipt(receipt, sha(data), org.relay_public_key)
        assert [r.to_json() for r in again] == [r.to_json() for r in first]
        assert len({json.dumps(r.to_json(), sort_keys=True) for r in twins}) == 1
        assert twins[0].index == 50
        assert running.log_size() == 51
        assert len(running.stored_files()) == 51
        assert list((data_dir / "incoming").iterdir()) == []
    finally:
        running.stop()


# --- inclusion proofs in a batch ------------------------------------------------------


def test_a_batch_of_inclusion_proofs_equals_the_proofs_one_by_one(relay: RunningRelay) -> None:
    hashes = upload(relay, 5)
    with relay.client(relay.org.coordinator) as coordinator:
        size = coordinator.sth().tree_size
        batch = coordinator.inclusions([4, 0, 2], size)
        assert coordinator.batch_inclusions
        assert batch == [coordinator.inclusion(i, size) for i in (4, 0, 2)]
    assert [sha256 for sha256, _ in batch] == [hashes[4], hashes[0], hashes[2]]


def test_inclusion_proofs_for_a_tree_the_relay_never_had_are_400(relay: RunningRelay) -> None:
    upload(relay, 2)
    with relay.client(relay.org.coordinator) as coordinator, pytest.raises(RelayFailed) as caught:
        coordinator.inclusions([0], 3)
    assert (
        caught.value.message == "relay 127.0.0.1 answered 400: need tree_size <= 2 (the log size)"
    )


def test_a_relay_without_batch_inclusions_is_asked_one_by_one(old_relay: RunningRelay) -> None:
    hashes = upload(old_relay, 3)
    with old_relay.client(old_relay.org.coordinator) as coordinator:
        got = coordinator.inclusions([2, 1], 3)
        assert not coordinator.batch_inclusions
    assert [sha256 for sha256, _ in got] == [hashes[2], hashes[1]]
