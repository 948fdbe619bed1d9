"""Every way a request can be refused: the documented status, and nothing stored.

Requests are built by hand here (``sign_request`` plus deliberate damage) so each
test breaks exactly one thing; after each, the log size and the bundle files are
checked to be unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import nacl.signing
import pytest

from reprisal_report.errors import RelayFailed
from reprisal_report.protocol import requests_auth as ra
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    Device,
    RunningRelay,
    TestOrg,
    bundle,
    relay_env_fixture,
    relay_fixture,
    start_relay_thread,
)

Tamper = Callable[[dict[str, str]], None]


def send(
    relay: RunningRelay,
    device: Device,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    now: float | None = None,
    key: nacl.signing.SigningKey | None = None,
    tamper: Tamper | None = None,
    sign_path: bytes | None = None,
    sign_method: str | None = None,
) -> httpx.Response:
    request = httpx.Request(method, relay.url + path, content=body)
    headers = ra.sign_request(
        key or device.key,
        device.key_id,
        sign_method or method,
        sign_path if sign_path is not None else request.url.raw_path,
        body,
        now=now,
    )
    if tamper is not None:
        tamper(headers)
    request.headers.update(headers)
    with httpx.Client() as client:
        return client.send(request)


@pytest.fixture
def unchanged(relay: RunningRelay) -> Iterator[None]:
    """Seed the relay with one bundle, then check the test stored nothing more."""
    with relay.client(relay.org.reporter) as reporter:
        reporter.upload(bundle(0))
    before = (relay.log_size(), relay.stored_files())
    yield
    assert (relay.log_size(), relay.stored_files()) == before
    assert list((relay.data_dir / "incoming").iterdir()) == []


def expect(answer: httpx.Response, status: int, fragment: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert fragment in error, error


def drop(name: str) -> Tamper:
    def tamper(headers: dict[str, str]) -> None:
        headers.pop(name)

    return tamper


def set_header(name: str, value: str) -> Tamper:
    return lambda headers: headers.__setitem__(name, value)


@pytest.mark.usefixtures("unchanged")
def test_unsigned_upload_is_401(relay: RunningRelay) -> None:
    with httpx.Client() as client:
        answer = client.post(f"{relay.url}/v1/bundles", content=bundle(1))
    expect(answer, 401, "missing X-RR-Key-Id header")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("header", ra.HEADERS)
def test_each_missing_header_is_401(relay: RunningRelay, header: str) -> None:
    answer = send(relay, relay.org.reporter, "POST", "/v1/bundles", bundle(1), tamper=drop(header))
    expect(answer, 401, f"missing {header} header")


MALFORMED = [
    (ra.KEY_ID, "AAAAAAAAAAAAAAAA"),
    (ra.KEY_ID, "short"),
    (ra.TIMESTAMP, "01700000000"),
    (ra.TIMESTAMP, "-5"),
    (ra.TIMESTAMP, "1e9"),
    (ra.TIMESTAMP, "9" * 13),
    (ra.NONCE, "AB" * 16),
    (ra.NONCE, "ab" * 15),
    (ra.BODY_SHA256, "A" * 64),
    (ra.BODY_SHA256, "zz" * 32),
    (ra.SIGNATURE, "not base64"),
    (ra.SIGNATURE, "A" * 88),
    # Non-zero padding bits: the same bytes spelt another way.
    (ra.SIGNATURE, "A" * 85 + "B=="),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("header", "value"), MALFORMED)
def test_malformed_headers_are_401(relay: RunningRelay, header: str, value: str) -> None:
    answer = send(
        relay,
        relay.org.reporter,
        "POST",
        "/v1/bundles",
        bundle(1),
        tamper=set_header(header, value),
    )
    expect(answer, 401, f"malformed {header} header")


@pytest.mark.usefixtures("unchanged")
def test_a_repeated_header_is_401(relay: RunningRelay) -> None:
    body = bundle(1)
    request = httpx.Request("POST", f"{relay.url}/v1/bundles", content=body)
    device = relay.org.reporter
    headers = ra.sign_request(device.key, device.key_id, "POST", request.url.raw_path, body)
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((ra.NONCE.encode(), ("0" * 32).encode()))
    request = httpx.Request("POST", f"{relay.url}/v1/bundles", content=body, headers=raw)
    with httpx.Client() as client:
        expect(client.send(request), 401, "X-RR-Nonce header given more than once")


@pytest.mark.usefixtures("unchanged")
def test_forged_signature_is_401(relay: RunningRelay) -> None:
    forger = nacl.signing.SigningKey.generate()
    answer = send(relay, relay.org.reporter, "POST", "/v1/bundles", bundle(1), key=forger)
    expect(answer, 401, "signature does not verify")


@pytest.mark.usefixtures("unchanged")
def test_signature_for_another_request_is_401(relay: RunningRelay) -> None:
    device = relay.org.coordinator
    answer = send(relay, device, "GET", "/v1/bundles?after=5", sign_path=b"/v1/bundles?after=-1")
    expect(answer, 401, "signature does not verify")
    answer = send(relay, device, "POST", f"/v1/bundles/{'a' * 64}/ack", sign_method="GET")
    expect(answer, 401, "signature does not verify")


@pytest.mark.usefixtures("unchanged")
def test_replayed_request_is_401(relay: RunningRelay) -> None:
    device = relay.org.reporter
    body = bundle(1)
    request = httpx.Request("POST", f"{relay.url}/v1/bundles", content=body)
    request.headers.update(
        ra.sign_request(device.key, device.key_id, "POST", request.url.raw_path, body)
    )
    # The first copy is refused for its body hash (400), after the nonce was spent...
    request.headers[ra.BODY_SHA256] = ra.body_digest(b"other")
    request.headers[ra.SIGNATURE] = ra.sign_request(
        device.key,
        device.key_id,
        "POST",
        request.url.raw_path,
        b"other",
        now=int(request.headers[ra.TIMESTAMP]),
        nonce=request.headers[ra.NONCE],
    )[ra.SIGNATURE]
    with httpx.Client() as client:
        expect(client.send(request), 400, "does not match X-RR-Body-SHA256")
        # ...so the identical second copy is a replay.
        expect(client.send(request), 401, "request replayed")


def test_replay_of_a_successful_request_is_401(relay: RunningRelay) -> None:
    device = relay.org.coordinator
    request = httpx.Request("GET", f"{relay.url}/v1/bundles")
    request.headers.update(
        ra.sign_request(device.key, device.key_id, "GET", request.url.raw_path, b"")
    )
    with httpx.Client() as client:
        assert client.send(request).status_code == 200
        expect(client.send(request), 401, "request replayed")


def test_nonces_survive_a_restart(relay_env: tuple[Path, Path, TestOrg]) -> None:
    data_dir, card_path, org = relay_env
    running = start_relay_thread(data_dir, card_path, org)
    device = org.coordinator
    request = httpx.Request("GET", f"{running.url}/v1/log/sth")
    request.headers.update(
        ra.sign_request(device.key, device.key_id, "GET", request.url.raw_path, b"")
    )
    try:
        with httpx.Client() as client:
            assert client.send(request).status_code == 200
    finally:
        running.stop()
    again = start_relay_thread(data_dir, card_path, org)
    try:
        replay = httpx.Request("GET", f"{again.url}/v1/log/sth", headers=request.headers)
        with httpx.Client() as client:
            expect(client.send(replay), 401, "request replayed")
    finally:
        again.stop()


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("offset", [-310, 310, -(10**6)])
def test_stale_or_future_timestamp_is_401(relay: RunningRelay, offset: int) -> None:
    answer = send(
        relay, relay.org.reporter, "POST", "/v1/bundles", bundle(1), now=time.time() + offset
    )
    expect(answer, 401, "timestamp is more than 300 seconds")


@pytest.mark.usefixtures("unchanged")
def test_unknown_key_is_403(relay: RunningRelay) -> None:
    answer = send(relay, relay.org.stranger, "POST", "/v1/bundles", bundle(1))
    expect(answer, 403, "not enrolled in this org or is revoked")


@pytest.mark.usefixtures("unchanged")
def test_revoked_key_is_403_once_the_newer_card_is_in_place(relay: RunningRelay) -> None:
    org = relay.org
    victim = org.reporters[1]
    with relay.client(victim) as client:
        client.sth()
    relay.card_path.write_bytes(org.revoke(victim))
    answer = send(relay, victim, "POST", "/v1/bundles", bundle(1))
    expect(answer, 403, "not enrolled in this org or is revoked")
    assert send(relay, org.reporter, "GET", "/v1/log/sth").status_code == 200


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("who", "method", "path", "message"),
    [
        ("reporter", "GET", "/v1/bundles", "a reporter key may not list bundles"),
        ("reporter", "GET", f"/v1/bundles/{'a' * 64}", "a reporter key may not fetch bundles"),
        ("reporter", "POST", f"/v1/bundles/{'a' * 64}/ack", "a reporter key may not acknowledge"),
        ("auditor", "GET", "/v1/bundles", "an auditor key may not list bundles"),
        ("coordinator", "POST", "/v1/bundles", "a coordinator key may not upload bundles"),
        ("auditor", "POST", "/v1/bundles", "an auditor key may not upload bundles"),
        ("reporter", "PUT", "/v1/org-card", "a reporter key may not update the org card"),
    ],
)
def test_roles_are_enforced_with_403(
    relay: RunningRelay, who: str, method: str, path: str, message: str
) -> None:
    device = {"reporter": relay.org.reporter, "auditor": relay.org.auditor}.get(
        who, relay.org.coordinator
    )
    body = bundle(1) if method != "GET" else b""
    expect(send(relay, device, method, path, body), 403, message)


@pytest.mark.usefixtures("unchanged")
def test_wrong_body_hash_is_400(relay: RunningRelay) -> None:
    device = relay.org.reporter
    body = bundle(1)
    request = httpx.Request("POST", f"{relay.url}/v1/bundles", content=body + b"tampered")
    request.headers.update(ra.sign_request(device.key, device.key_id, "POST", b"/v1/bundles", body))
    with httpx.Client() as client:
        expect(client.send(request), 400, "does not match X-RR-Body-SHA256")


@pytest.mark.usefixtures("unchanged")
def test_empty_upload_is_400(relay: RunningRelay) -> None:
    expect(send(relay, relay.org.reporter, "POST", "/v1/bundles", b""), 400, "empty bundle")


@pytest.mark.usefixtures("unchanged")
def test_bad_query_and_path_values_are_400(relay: RunningRelay) -> None:
    device = relay.org.coordinator
    expect(send(relay, device, "GET", "/v1/bundles?after=-2"), 400, "invalid request: after")
    expect(send(relay, device, "GET", "/v1/bundles?after=x"), 400, "invalid request: after")
    expect(send(relay, device, "GET", "/v1/bundles/ABC"), 400, "invalid request: sha256")
    expect(send(relay, device, "GET", "/v1/log/consistency?first=1"), 400, "second")
    expect(send(relay, device, "GET", "/v1/nowhere"), 404, "not found")


def limited_relay(relay_env: tuple[Path, Path, TestOrg], **settings: int) -> RunningRelay:
    data_dir, card_path, org = relay_env
    return start_relay_thread(data_dir, card_path, org, **settings)


def test_oversized_body_is_413(relay_env: tuple[Path, Path, TestOrg]) -> None:
    running = limited_relay(relay_env, max_bundle_bytes=1000)
    try:
        org = running.org
        expect(send(running, org.reporter, "POST", "/v1/bundles", bundle(1, 1001)), 413, "larger")

        # Without a Content-Length (chunked), the limit holds while streaming.
        body = bundle(2, 4000)
        request = httpx.Request(
            "POST", f"{running.url}/v1/bundles", content=iter([body[:600], body[600:]])
        )
        device = org.reporter
        request.headers.update(
            ra.sign_request(device.key, device.key_id, "POST", b"/v1/bundles", body)
        )
        with httpx.Client() as client:
            expect(client.send(request), 413, "larger")
        assert running.log_size() == 0 and running.stored_files() == []
        assert list((running.data_dir / "incoming").iterdir()) == []
        with running.client(org.reporter) as reporter:
            assert reporter.upload(bundle(3, 1000)).index == 0
    finally:
        running.stop()


def test_quota_per_key_is_413_until_a_coordinator_collects(
    relay_env: tuple[Path, Path, TestOrg],
) -> None:
    running = limited_relay(relay_env, quota_bytes_per_key=1000)
    try:
        org = running.org
        with running.client(org.reporter) as reporter:
            first = reporter.upload(bundle(1, 600))
            with pytest.raises(RelayFailed, match="413: this key's storage quota"):
                reporter.upload(bundle(2, 600))
            assert running.log_size() == 1
            with running.client(org.reporters[1]) as other:
                other.upload(bundle(3, 600))
            with running.client(org.coordinator) as coordinator:
                coordinator.ack(first.bundle_sha256)
            assert reporter.upload(bundle(2, 600)).index == 2
    finally:
        running.stop()


def test_too_many_concurrent_uploads_is_503(relay_env: tuple[Path, Path, TestOrg]) -> None:
    running = limited_relay(relay_env, max_concurrent_uploads=1)
    try:
        org = running.org
        device = org.reporter
        body = bundle(1, 2000)
        release = threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield body[:1000]
            release.wait(timeout=30)
            yield body[1000:]

        request = httpx.Request("POST", f"{running.url}/v1/bundles", content=slow_body())
        request.headers.update(
            ra.sign_request(device.key, device.key_id, "POST", b"/v1/bundles", body)
        )
        results: list[int] = []

        def upload_slowly() -> None:
            with httpx.Client(timeout=60) as client:
                results.append(client.send(request).status_code)

        slow = threading.Thread(target=upload_slowly)
        slow.start()
        deadline = time.monotonic() + 30
        while running.service.uploads.busy < 1:
            assert time.monotonic() < deadline, "the slow upload never started"
            time.sleep(0.01)
        busy = send(running, org.reporters[1], "POST", "/v1/bundles", bundle(2))
        expect(busy, 503, "too many uploads in progress")
        assert busy.headers["retry-after"] == "1"
        impatient = running.client(org.reporters[1], max_retries=0)
        with impatient, pytest.raises(RelayFailed, match="busy"):
            impatient.upload(bundle(2))
        release.set()
        slow.join(timeout=60)
        assert results == [201]
        # A patient client retries through the 503s.
        with running.client(org.reporters[1]) as patient:
            assert patient.upload(bundle(2)).index == 1
    finally:
        release.set()
        running.stop()


def test_full_nonce_store_is_503_not_forgetting(relay_env: tuple[Path, Path, TestOrg]) -> None:
    running = limited_relay(relay_env, max_nonces=2)
    try:
        device = running.org.auditor
        assert send(running, device, "GET", "/v1/log/sth").status_code == 200
        assert send(running, device, "GET", "/v1/log/sth").status_code == 200
        expect(send(running, device, "GET", "/v1/log/sth"), 503, "busy")
    finally:
        running.stop()


def test_relay_refuses_its_own_key_as_a_client(relay: RunningRelay) -> None:
    from reprisal_report.relay.keys import load_relay_key

    key = load_relay_key(relay.data_dir)
    me = Device("relay", "relay", key)
    expect(send(relay, me, "GET", "/v1/bundles"), 403, "a relay key may not list bundles")


def test_body_hash_is_checked_on_small_requests_too(relay: RunningRelay) -> None:
    device = relay.org.coordinator
    path = f"/v1/bundles/{hashlib.sha256(b'x').hexdigest()}/ack"
    request = httpx.Request("POST", relay.url + path, content=b"surprise")
    request.headers.update(ra.sign_request(device.key, device.key_id, "POST", path.encode(), b""))
    with httpx.Client() as client:
        expect(client.send(request), 400, "does not match X-RR-Body-SHA256")


def test_request_signature_known_answer() -> None:
    """The signed message, byte for byte, with a fixed key: other clients can match it."""
    key = nacl.signing.SigningKey(bytes(range(32)))
    kid = "kzdvvj2umnduyauf"
    nonce = "00112233445566778899aabbccddeeff"
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    message = ra.signed_message("get", b"/v1/bundles?after=-1", 1767225600, nonce, empty)
    assert message == (
        b"reprisal-report/relay-request/1\nGET\n/v1/bundles?after=-1\n1767225600\n"
        + nonce.encode()
        + b"\n"
        + empty.encode()
    )
    headers = ra.sign_request(
        key, kid, "GET", b"/v1/bundles?after=-1", b"", now=1767225600, nonce=nonce
    )
    assert headers == {
        "X-RR-Key-Id": kid,
        "X-RR-Timestamp": "1767225600",
        "X-RR-Nonce": nonce,
        "X-RR-Body-SHA256": empty,
        "X-RR-Signature": "JykzuTGrkRaBXdL3L12RBH11w7xa7rx88mdqRM9awIWTRU6AWVtziiu4SC3kc3Ju"
        "7r38oauP1Ncll+M8pe6oCQ==",
    }
    key.verify_key.verify(message, base64.b64decode(headers["X-RR-Signature"]))


def test_a_stalled_upload_is_dropped_and_frees_its_slot(
    relay_env: tuple[Path, Path, TestOrg],
) -> None:
    running = limited_relay(relay_env, max_concurrent_uploads=1, upload_idle_timeout_seconds=1)
    try:
        device = running.org.reporter
        body = bundle(1, 2000)
        resume = threading.Event()

        def stalling_body() -> Iterator[bytes]:
            yield body[:1000]
            resume.wait(timeout=10)
            yield body[1000:]

        request = httpx.Request("POST", f"{running.url}/v1/bundles", content=stalling_body())
        request.headers.update(
            ra.sign_request(device.key, device.key_id, "POST", b"/v1/bundles", body)
        )
        # The client thread is stuck inside its own body generator: wake it later.
        waker = threading.Timer(2.5, resume.set)
        waker.start()
        with httpx.Client(timeout=30) as client:
            try:
                answer = client.send(request)
            except httpx.TransportError:
                pass  # the relay may close the connection before the client reads
            else:
                expect(answer, 408, "sent nothing for 1 seconds")
        waker.join()
        assert running.service.uploads.busy == 0
        assert running.log_size() == 0 and running.stored_files() == []
        assert list((running.data_dir / "incoming").iterdir()) == []
        with running.client(device) as reporter:
            assert reporter.upload(body).index == 0
    finally:
        running.stop()
