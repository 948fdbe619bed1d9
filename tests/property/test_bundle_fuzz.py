"""Fuzzing the bundle readers: only BundleError ever escapes, and chunking never matters."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import nacl.signing
from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.bundle.container import (
    AttachmentHeader,
    AttachmentSource,
    ContainerParser,
    ContainerParts,
    ContainerStream,
    ParsedContainer,
)
from reprisal_report.bundle.manifest import parse_manifest, parse_salts
from reprisal_report.bundle.seal import prepare_bundle
from reprisal_report.errors import BundleError
from reprisal_report.identity.fingerprint import key_id

AUTHOR = nacl.signing.SigningKey(b"\x07" * 32)
RECORD: dict[str, Any] = {
    "title": "T",
    "incident_date": "2026",
    "country": "BI",
    "cooperation": [{"mechanism": "treaty_body", "mode": "briefing"}],
    "acts": ["threat"],
    "victims": [{"kind": "human_rights_defender", "aliases": ["a", "b"]}],
}
FILES = [b"", b"abc", bytes(range(256)) * 3]


def _valid() -> tuple[bytes, bytes]:
    counter = iter(range(1000))
    prepared = prepare_bundle(
        record=RECORD,
        attachments=[
            AttachmentSource(
                f"f{i}", len(d), hashlib.sha256(d).hexdigest(), functools.partial(io.BytesIO, d)
            )
            for i, d in enumerate(FILES)
        ],
        signing_key=AUTHOR,
        author_key_id=key_id(bytes(AUTHOR.verify_key)),
        recipient_key_ids=["c" * 16],
        org_id="org",
        case_id="a" * 16,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        rng=lambda n: hashlib.shake_256(next(counter).to_bytes(2, "big")).digest(n),
    )
    return prepared.container().read(), prepared.manifest_bytes


VALID_CONTAINER, VALID_MANIFEST = _valid()


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        self.log.append(("start", header))

    def on_attachment_chunk(self, data: bytes) -> None:
        # Merge adjacent chunks: the split points are allowed to differ, the bytes not.
        if self.log and self.log[-1][0] == "data":
            self.log[-1] = ("data", self.log[-1][1] + data)
        else:
            self.log.append(("data", data))

    def on_attachment_end(self) -> None:
        self.log.append(("end", None))


def parse(data: bytes, cuts: list[int]) -> tuple[str, Any, list[tuple[str, Any]]]:
    """Feed ``data`` split at ``cuts``; the outcome, and what the sink saw."""
    sink = Recorder()
    parser = ContainerParser(sink)
    bounds = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    try:
        for start, end in itertools.pairwise(bounds):
            parser.write(data[start:end])
        result = parser.finish()
    except BundleError as exc:
        return ("error", (type(exc), exc.message), sink.log)
    return ("ok", result, sink.log)


def rebuild(parsed: ParsedContainer, log: list[tuple[str, Any]]) -> bytes:
    files: list[bytes] = []
    for kind, value in log:
        if kind == "start":
            files.append(b"")
        elif kind == "data":
            files[-1] += value
    sources = [
        AttachmentSource(
            a.header.name, a.header.size, a.header.sha256, functools.partial(io.BytesIO, f)
        )
        for a, f in zip(parsed.attachments, files, strict=True)
    ]
    parts = ContainerParts(parsed.manifest, parsed.signature, parsed.record, parsed.salts)
    return _UncheckedStream(parts, sources).read()


class _UncheckedStream(ContainerStream):
    """The writer without its hash check: the data may be mutated, the header not."""

    def _stream_attachment(self, index: int, source: AttachmentSource) -> Iterator[bytes]:
        with source.open() as stream:
            yield stream.read()


def mutate(data: bytes, draw: st.DrawFn) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(0, len(buf) - 1)))
        if kind == "flip" and buf:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and buf:
            buf[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del buf[pos:]
        elif kind == "dup":
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 64))]
    return bytes(buf)


@st.composite
def mutated_containers(draw: st.DrawFn) -> bytes:
    return mutate(VALID_CONTAINER, draw)


@st.composite
def mutated_manifests(draw: st.DrawFn) -> bytes:
    return mutate(VALID_MANIFEST, draw)


chunkings = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=12)


@settings(max_examples=300)
@given(st.binary(max_size=2048), chunkings, chunkings)
def test_arbitrary_bytes_raise_only_bundle_errors(
    data: bytes, cuts_a: list[int], cuts_b: list[int]
) -> None:
    a = parse(data, cuts_a)
    assert a == parse(data, cuts_b)
    assert a[0] == "error"  # random bytes never make a valid container


@settings(max_examples=300)
@given(st.binary(max_size=64), chunkings)
def test_arbitrary_bytes_after_the_magic(data: bytes, cuts: list[int]) -> None:
    full = b"RRB\x00\x01" + data
    assert parse(full, cuts) == parse(full, [])


@settings(max_examples=400)
@given(mutated_containers(), chunkings, chunkings)
def test_mutated_containers_raise_only_bundle_errors(
    data: bytes, cuts_a: list[int], cuts_b: list[int]
) -> None:
    a = parse(data, cuts_a)
    assert a == parse(data, cuts_b)
    if a[0] == "ok":
        # The parser checks framing only (a mutated manifest body is the signature's
        # business). What it accepts is canonical: the same parts, written again,
        # give back exactly the same bytes, padding included.
        assert rebuild(a[1], a[2]) == data


@given(chunkings)
def test_the_valid_container_parses_in_any_chunking(cuts: list[int]) -> None:
    outcome, result, log = parse(VALID_CONTAINER, cuts)
    assert outcome == "ok"
    assert [bytes(d) for kind, d in log if kind == "data"] == [f for f in FILES if f]
    assert [a.sha256 for a in result.attachments] == [hashlib.sha256(f).hexdigest() for f in FILES]


@settings(max_examples=300)
@given(st.binary(max_size=1024))
def test_parse_manifest_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        parse_manifest(data)


@settings(max_examples=400)
@given(mutated_manifests())
def test_parse_manifest_on_mutated_manifests(data: bytes) -> None:
    try:
        manifest = parse_manifest(data)
    except BundleError:
        return
    # Whatever parses is canonical: it re-encodes to the very same bytes.
    assert manifest.to_bytes() == data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_parse_manifest_and_salts_on_json_documents(doc: Any) -> None:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    for reader in (parse_manifest, parse_salts):
        with contextlib.suppress(BundleError):
            reader(data)
