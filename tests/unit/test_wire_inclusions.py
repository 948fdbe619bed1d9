"""The batch inclusion-proof shapes of protocol/wire.py (docs/relay.md).

- ``parse_inclusions`` (the relay reading a request) returns exactly the indexes and
  size ``inclusions_body`` encoded, and for any other bytes raises
  ``RelayRequestRejected`` 400 or 413, never anything else;
- ``parse_inclusions_answer`` (the client reading the answer) accepts exactly one proof
  per index asked, in order, for the size asked, and raises ``RelayAnswerInvalid`` for
  anything else, never another exception.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reprisal_report.errors import RelayAnswerInvalid, RelayRequestRejected
from reprisal_report.protocol.wire import (
    MAX_ACK_BODY,
    MAX_INCLUSION_BATCH,
    inclusions_answer,
    inclusions_body,
    parse_inclusions,
    parse_inclusions_answer,
)

fuzz = settings(max_examples=200, deadline=None)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[int], int]:
    size = draw(st.integers(min_value=1, max_value=2**40))
    indexes = draw(
        st.lists(
            st.integers(min_value=0, max_value=size - 1),
            min_size=1,
            max_size=min(size, MAX_INCLUSION_BATCH),
            unique=True,
        )
    )
    return indexes, size


@fuzz
@given(batches())
def test_a_body_reads_back_as_what_it_asks(batch: tuple[list[int], int]) -> None:
    indexes, size = batch
    body = inclusions_body(indexes, size)
    assert len(body) <= MAX_ACK_BODY
    assert parse_inclusions(body) == (tuple(indexes), size)


@fuzz
@given(st.binary(max_size=200))
@example(b"")
@example(b'{"indexes":[],"tree_size":1}')
@example(b'{"indexes":[0], "tree_size":1}')  # whitespace: a second spelling
@example(b'{"indexes":[1],"tree_size":1}')  # outside the tree
@example(b'{"indexes":[0,0],"tree_size":2}')
@example(b'{"indexes":[true],"tree_size":2}')
@example(b'{"indexes":[0],"tree_size":0}')
@example(b'{"indexes":[0],"more":1,"tree_size":1}')
def test_any_bytes_are_a_400_or_413_or_a_valid_request(data: bytes) -> None:
    try:
        indexes, size = parse_inclusions(data)
    except RelayRequestRejected as exc:
        assert exc.status in (400, 413)
        assert "\n" not in exc.message
        return
    assert inclusions_body(list(indexes), size) == data


@fuzz
@given(JSON)
def test_any_json_document_is_a_400_or_413_or_a_valid_request(doc: object) -> None:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        indexes, size = parse_inclusions(data)
    except RelayRequestRejected as exc:
        assert exc.status in (400, 413)
        return
    assert doc == {"indexes": list(indexes), "tree_size": size}


def test_the_limits() -> None:
    at_limit = list(range(MAX_INCLUSION_BATCH))
    assert parse_inclusions(inclusions_body(at_limit, 10**6))[0] == tuple(at_limit)
    over = json.dumps({"indexes": [*at_limit, 500], "tree_size": 10**6}, separators=(",", ":"))
    with pytest.raises(RelayRequestRejected) as caught:
        parse_inclusions(over.encode())
    assert (caught.value.status, caught.value.message) == (
        413,
        f"at most {MAX_INCLUSION_BATCH} indexes per request, not {MAX_INCLUSION_BATCH + 1}",
    )
    for indexes, size in (([], 1), ([0, 0], 2), ([1], 1), ([0], 0), ([*at_limit, 500], 10**6)):
        with pytest.raises(ValueError):
            inclusions_body(indexes, size)


def sha(i: int) -> str:
    return f"{i:064x}"


def test_an_honest_answer_reads_back() -> None:
    proofs = [(3, sha(3), [bytes(32), b"\x01" * 32]), (0, sha(0), [])]
    doc = json.loads(json.dumps(inclusions_answer(9, proofs)))
    assert parse_inclusions_answer(doc, [3, 0], 9) == [
        (sha(3), [bytes(32), b"\x01" * 32]),
        (sha(0), []),
    ]


def test_an_answer_must_cover_exactly_what_was_asked() -> None:
    good = inclusions_answer(9, [(3, sha(3), []), (0, sha(0), [])])
    bad = [
        inclusions_answer(9, [(0, sha(0), []), (3, sha(3), [])]),  # another order
        inclusions_answer(9, [(3, sha(3), [])]),  # one missing
        inclusions_answer(8, [(3, sha(3), []), (0, sha(0), [])]),  # another tree
        {**good, "more": 1},
        {"proofs": [{"bundle_sha256": "x", "index": 3, "proof": []}] * 2, "tree_size": 9},
        {"proofs": [{"bundle_sha256": sha(3), "index": 3, "proof": ["zz"]}] * 2, "tree_size": 9},
        {"proofs": "no", "tree_size": 9},
        {**good, "tree_size": True},
    ]
    for doc in bad:
        with pytest.raises(RelayAnswerInvalid):
            parse_inclusions_answer(doc, [3, 0], 9)


@fuzz
@given(JSON, st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=3, unique=True))
def test_any_answer_is_valid_or_relay_answer_invalid(doc: object, asked: list[int]) -> None:
    try:
        got = parse_inclusions_answer(doc, asked, 6)
    except RelayAnswerInvalid as exc:
        assert "\n" not in exc.message
        return
    assert len(got) == len(asked)
