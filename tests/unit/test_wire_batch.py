"""The batch acknowledgement shapes of protocol/wire.py (docs/relay.md).

- ``parse_ack_batch`` (the relay reading a request body) returns exactly the hashes
  ``ack_batch_body`` encoded, and for any other bytes raises ``RelayRequestRejected``
  400 or 413, never anything else;
- ``parse_ack_answer`` (the client reading the relay's answer) accepts exactly one
  acknowledged entry per hash asked, in order, and raises ``RelayAnswerInvalid`` for
  anything else, never another exception.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reprisal_report.errors import RelayAnswerInvalid, RelayRequestRejected
from reprisal_report.protocol.wire import (
    MAX_ACK_BATCH,
    MAX_ACK_BODY,
    BundleEntry,
    ack_batch_answer,
    ack_batch_body,
    parse_ack_answer,
    parse_ack_batch,
)

HASH = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
HASHES = st.lists(HASH, min_size=1, max_size=MAX_ACK_BATCH, unique=True)
fuzz = settings(max_examples=200, deadline=None)

# JSON-like values (what json.loads can give), for answers and bodies alike.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def sha(i: int) -> str:
    return f"{i:064x}"


@fuzz
@given(HASHES)
def test_a_body_reads_back_as_the_hashes_it_holds(hashes: list[str]) -> None:
    body = ack_batch_body(hashes)
    assert len(body) <= MAX_ACK_BODY
    assert parse_ack_batch(body) == tuple(hashes)


@fuzz
@given(st.binary(max_size=300))
@example(b"")
@example(b'{"bundles":[]}')
@example(b'{"bundles": ["' + b"a" * 64 + b'"]}')  # whitespace: a second spelling
@example(b'{"bundles":["' + b"A" * 64 + b'"]}')
@example(b'{"bundles":["' + b"a" * 64 + b'","' + b"a" * 64 + b'"]}')
@example(b'{"bundles":["' + b"a" * 64 + b'"],"more":1}')
@example(b'{"bundles":"' + b"a" * 64 + b'"}')
@example(b"[]")
def test_any_bytes_are_a_400_or_413_or_a_valid_batch(data: bytes) -> None:
    try:
        hashes = parse_ack_batch(data)
    except RelayRequestRejected as exc:
        assert exc.status in (400, 413)
        assert "\n" not in exc.message
        return
    assert ack_batch_body(list(hashes)) == data


@fuzz
@given(JSON)
def test_any_json_document_is_a_400_or_413_or_a_valid_batch(doc: object) -> None:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        hashes = parse_ack_batch(data)
    except RelayRequestRejected as exc:
        assert exc.status in (400, 413)
        return
    assert doc == {"bundles": list(hashes)}


def test_the_limits() -> None:
    at_limit = [sha(i) for i in range(MAX_ACK_BATCH)]
    assert len(parse_ack_batch(ack_batch_body(at_limit))) == MAX_ACK_BATCH
    over = json.dumps({"bundles": [*at_limit, sha(MAX_ACK_BATCH)]}, separators=(",", ":"))
    with pytest.raises(RelayRequestRejected) as caught:
        parse_ack_batch(over.encode())
    assert (caught.value.status, caught.value.message) == (
        413,
        f"at most {MAX_ACK_BATCH} bundles per acknowledgement, not {MAX_ACK_BATCH + 1}",
    )
    huge = b'{"bundles":["' + b"a" * MAX_ACK_BODY + b'"]}'
    with pytest.raises(RelayRequestRejected) as caught:
        parse_ack_batch(huge)
    assert caught.value.status == 413
    for wrong in ([], [sha(1), sha(1)], ["A" * 64], [sha(1)[:63]]):
        with pytest.raises(ValueError):
            ack_batch_body(wrong)
    with pytest.raises(ValueError):
        ack_batch_body([*at_limit, sha(MAX_ACK_BATCH)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"bundles":[]}', "acknowledgement names no bundle"),
        (b'{"bundle":[]}', 'acknowledgement body must be {"bundles": [...]}'),
        (b'{"bundles":[1]}', "acknowledgement holds something that is not a hash"),
        (b"{ }", "acknowledgement body is not canonical JSON"),
        (
            b'{"bundles":["' + sha(1).encode() + b'","' + sha(1).encode() + b'"]}',
            "acknowledgement names a bundle twice",
        ),
    ],
)
def test_each_refusal_says_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(RelayRequestRejected) as caught:
        parse_ack_batch(body)
    assert (caught.value.status, caught.value.message) == (400, message)


def entries(hashes: list[str], **change: Any) -> list[BundleEntry]:
    fields = {"size": 10, "acknowledged": True, "held": False, **change}
    return [BundleEntry(h, i, **fields) for i, h in enumerate(hashes)]


@fuzz
@given(HASHES)
def test_an_honest_answer_reads_back(hashes: list[str]) -> None:
    answer = entries(hashes)
    assert parse_ack_answer(ack_batch_answer(answer), hashes) == answer


@fuzz
@given(JSON, st.lists(HASH, min_size=1, max_size=3, unique=True))
def test_any_answer_is_valid_or_relay_answer_invalid(doc: object, asked: list[str]) -> None:
    try:
        got = parse_ack_answer(doc, asked)
    except RelayAnswerInvalid as exc:
        assert "\n" not in exc.message
        return
    assert [e.sha256 for e in got] == asked


def test_an_answer_must_cover_exactly_what_was_asked() -> None:
    asked = [sha(1), sha(2)]
    bad = [
        ack_batch_answer(entries(asked[::-1])),  # another order
        ack_batch_answer(entries(asked[:1])),  # one missing
        ack_batch_answer(entries([*asked, sha(3)])),  # one more
        ack_batch_answer(entries(asked, acknowledged=False)),
        {"bundles": [], "tree_size": 2},
        {"bundles": "no"},
    ]
    for doc in bad:
        with pytest.raises(RelayAnswerInvalid):
            parse_ack_answer(doc, asked)
