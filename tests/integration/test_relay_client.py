"""The relay client against relays that misbehave, lie or fail.

A real relay (loopback uvicorn) is honest; to see what the client does with a
dishonest one, its answers are replaced with ``httpx.MockTransport`` built from a real
relay's answers, damaged one way at a time. No network is used beyond 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import nacl.signing
import pytest

from reprisal_report.errors import (
    InvalidInput,
    RelayAnswerInvalid,
    RelayFailed,
    RelayRefused,
    RelayUnreachable,
)
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.protocol import requests_auth as ra
from reprisal_report.transport.relay_client import RelayClient
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    RunningRelay,
    TestOrg,
    bundle,
    relay_env_fixture,
    relay_fixture,
    start_relay_thread,
)

KEY = nacl.signing.SigningKey.generate()
KEY_ID = key_id(bytes(KEY.verify_key))

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, relay_key: bytes | None = None, **options: object) -> RelayClient:
    return RelayClient(
        "http://relay.invalid",
        KEY,
        KEY_ID,
        relay_key,
        transport=httpx.MockTransport(handler),
        **options,  # type: ignore[arg-type]
    )


def honest_receipt(relay: RunningRelay, data: bytes) -> dict[str, object]:
    with relay.client(relay.org.reporter) as reporter:
        return reporter.upload(data).to_json()


def test_every_request_is_signed_with_a_fresh_nonce() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"bundles": [], "tree_size": 0})

    assert client_for(handler).list(after=4) == []
    assert len(seen) == 3
    assert len({r.headers[ra.NONCE] for r in seen}) == 3
    for request in seen:
        auth = ra.parse_headers(request.headers.get_list)
        assert ra.verify_signature(bytes(KEY.verify_key), auth, "GET", b"/v1/bundles?after=4")
        assert auth.body_sha256 == hashlib.sha256(b"").hexdigest()


def test_a_relay_that_stays_busy_is_a_one_line_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "too many uploads"}, headers={"Retry-After": "0"})

    with pytest.raises(RelayFailed, match="busy: too many uploads") as failure:
        client_for(handler, max_retries=2).upload(b"x")
    assert failure.value.exit_code == 1


def test_refusal_messages_are_cleaned_for_the_terminal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": "no\n\x1b[31mred\x07" + "x" * 500})

    with pytest.raises(RelayRefused) as refused:
        client_for(handler).sth()
    message = refused.value.message
    assert "\n" not in message and "\x1b" not in message and "\x07" not in message
    assert len(message) < 300
    assert refused.value.exit_code == 3


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (500, b"oops", RelayFailed, "answered 500: HTTP 500"),
        (413, b'{"error": "bundle larger than the relay\'s 10 bytes"}', RelayFailed, "413"),
        (302, b"", RelayFailed, "answered 302"),
        (200, b"not json", RelayAnswerInvalid, "not valid JSON"),
        (200, b'{"tree_size": 1}', RelayAnswerInvalid, "expected fields"),
    ],
)
def test_failures_map_to_project_errors(
    status: int, body: bytes, error: type[Exception], match: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    with pytest.raises(error, match=match):
        client_for(handler).sth()


def test_oversized_answers_are_not_read_to_the_end() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2048)

    with pytest.raises(RelayAnswerInvalid, match="larger than 1024 bytes"):
        client_for(handler, max_fetch_bytes=1024).fetch("a" * 64)


def test_fetched_bytes_must_match_their_hash() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"something else")

    with pytest.raises(RelayAnswerInvalid, match="not bundle"):
        client_for(handler).fetch(hashlib.sha256(b"asked for").hexdigest())
    with pytest.raises(InvalidInput):
        client_for(handler).fetch("../etc/passwd")


def test_a_list_that_goes_backwards_is_refused() -> None:
    entry = {"sha256": "a" * 64, "size": 1, "acknowledged": False, "held": True}
    pages = [
        {"bundles": [{**entry, "index": 5}, {**entry, "index": 5}], "tree_size": 9},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[0])

    with pytest.raises(RelayAnswerInvalid, match="out of order"):
        client_for(handler).list()


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.update(bundle_sha256="b" * 64),
        lambda r: r.update(index=r["index"] + 1),
        lambda r: r["sth"].update(root_hash="c" * 64),
        lambda r: r["sth"].update(timestamp=r["sth"]["timestamp"] + 1),
        lambda r: r.update(inclusion_proof=["d" * 64]),
        lambda r: r.update(signature="A" * 86 + "=="),
        lambda r: r.update(extra=1),
    ],
    ids=["other-bundle", "index", "root", "timestamp", "proof", "signature", "extra-field"],
)
def test_damaged_receipts_are_refused(
    relay: RunningRelay, damage: Callable[[dict[str, object]], None]
) -> None:
    data = bundle(42)
    receipt = honest_receipt(relay, data)
    receipt = json.loads(json.dumps(receipt))
    damage(receipt)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=receipt)

    with pytest.raises(RelayAnswerInvalid):
        client_for(handler, relay.org.relay_public_key).upload(data)


def test_pagination_walks_the_whole_log(relay_env: tuple[Path, Path, TestOrg]) -> None:
    running = start_relay_thread(*relay_env, max_list_entries=3)
    try:
        org = running.org
        with running.client(org.reporter) as reporter:
            for i in range(10):
                reporter.upload(bundle(i))
        with running.client(org.coordinator) as coordinator:
            assert [e.index for e in coordinator.list()] == list(range(10))
            assert [e.index for e in coordinator.list(after=6)] == [7, 8, 9]
    finally:
        running.stop()


def test_timestamps_inside_the_window_are_accepted(relay: RunningRelay) -> None:
    device = relay.org.auditor
    for offset in (-250, 250):
        request = httpx.Request("GET", f"{relay.url}/v1/log/sth")
        request.headers.update(
            ra.sign_request(
                device.key, device.key_id, "GET", b"/v1/log/sth", b"", now=time.time() + offset
            )
        )
        with httpx.Client() as client:
            assert client.send(request).status_code == 200


def test_construction_checks_its_arguments() -> None:
    with pytest.raises(InvalidInput, match="http"):
        RelayClient("ftp://relay", KEY, KEY_ID, None)
    with pytest.raises(InvalidInput, match="socks5h"):
        RelayClient("https://relay.example", KEY, KEY_ID, None, proxy="ftp://127.0.0.1:1")
    with pytest.raises(ValueError, match="key_id"):
        RelayClient("https://relay.example", KEY, "a" * 16, None)


def test_through_an_unreachable_socks_proxy_is_unreachable() -> None:
    client = RelayClient(
        "http://exampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion",
        KEY,
        KEY_ID,
        None,
        proxy="socks5h://127.0.0.1:9",
        timeout=5,
    )
    with pytest.raises(RelayUnreachable, match="unreachable"):
        client.sth()
