"""The plaintext container: streaming writer, push parser, and what a reader rejects."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import struct

import pytest

from reprisal_report.bundle import container as ct
from reprisal_report.bundle.container import (
    MAGIC,
    AttachmentHeader,
    AttachmentSource,
    ContainerParser,
    ContainerParts,
    ContainerStream,
    RecordType,
    padding_length,
)
from reprisal_report.bundle.padding import padme
from reprisal_report.errors import AttachmentChanged, BundleMalformed, SealInputInvalid

PARTS = ContainerParts(
    manifest=b'{"m":1}', signature=bytes(range(64)), record=b'{"r":2}', salts=b'{"s":3}'
)


def source(name: str, data: bytes) -> AttachmentSource:
    return AttachmentSource(
        name, len(data), hashlib.sha256(data).hexdigest(), lambda: io.BytesIO(data)
    )


class Collect:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.files: list[tuple[AttachmentHeader, bytearray]] = []

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        self.events.append(("start", header.name))
        self.files.append((header, bytearray()))

    def on_attachment_chunk(self, data: bytes) -> None:
        assert data, "empty chunks are never passed on"
        self.files[-1][1].extend(data)

    def on_attachment_end(self) -> None:
        self.events.append(("end", self.files[-1][0].name))


def feed(data: bytes, chunk: int, sink: Collect | None = None) -> ct.ParsedContainer:
    parser = ContainerParser(sink)
    for i in range(0, len(data), chunk):
        assert parser.write(data[i : i + chunk]) == len(data[i : i + chunk])
    return parser.finish()


def rec(kind: int, body: bytes) -> bytes:
    return struct.pack(">BQ", kind, len(body)) + body


def assemble(
    records: list[bytes], *, magic: bytes = MAGIC, pad: bytes | None = None, end: bytes = b""
) -> bytes:
    """A container from raw records, with correct padding unless ``pad`` is given."""
    head = magic + b"".join(records)
    if pad is None:
        pad = bytes(padding_length(len(head)))
    return head + rec(7, pad) + rec(8, end)


def base_records() -> list[bytes]:
    return [
        rec(1, PARTS.manifest),
        rec(2, PARTS.signature),
        rec(3, PARTS.record),
        rec(4, PARTS.salts),
    ]


def attachment_records(name: str, data: bytes, size: int | None = None) -> list[bytes]:
    header = AttachmentHeader(name, len(data) if size is None else size, sha(data))
    return [rec(5, header.to_bytes()), rec(6, data)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BLOBS = [b"", b"x", os.urandom(70_000), os.urandom(ct.CHUNK_SIZE)]


@pytest.mark.parametrize("chunk", [1, 7, 9, 8192, 1 << 30])
def test_round_trip_in_any_chunking(chunk: int) -> None:
    sources = [source(f"f{i}", b) for i, b in enumerate(BLOBS)]
    data = ContainerStream(PARTS, sources).read()
    sink = Collect()
    parsed = feed(data, chunk, sink)
    assert (parsed.manifest, parsed.signature, parsed.record, parsed.salts) == (
        PARTS.manifest,
        PARTS.signature,
        PARTS.record,
        PARTS.salts,
    )
    assert [bytes(b) for _, b in sink.files] == BLOBS
    assert [a.sha256 for a in parsed.attachments] == [sha(b) for b in BLOBS]
    assert sink.events == [
        e for i in range(len(BLOBS)) for e in (("start", f"f{i}"), ("end", f"f{i}"))
    ]
    assert parsed.length == len(data)


def test_length_is_known_up_front_and_is_a_padme_bucket() -> None:
    stream = ContainerStream(PARTS, [source("a", os.urandom(12345))])
    data = stream.read()
    assert len(data) == stream.length == padme(stream.length)
    assert stream.position == stream.length


def test_stream_reads_in_small_pieces() -> None:
    stream = ContainerStream(PARTS, [source("a", os.urandom(5000))], chunk_size=100)
    whole = ContainerStream(PARTS, stream._attachments).read()
    pieces = bytearray()
    buf = bytearray(33)
    while n := stream.readinto(buf):
        pieces += buf[:n]
    assert bytes(pieces) == whole


def test_attachment_shorter_than_recorded_is_refused() -> None:
    bad = AttachmentSource("a", 10, sha(b"x" * 10), lambda: io.BytesIO(b"x" * 9))
    with pytest.raises(AttachmentChanged, match="shorter"):
        ContainerStream(PARTS, [bad]).read()


def test_attachment_longer_than_recorded_is_refused() -> None:
    bad = AttachmentSource("a", 10, sha(b"x" * 10), lambda: io.BytesIO(b"x" * 11))
    with pytest.raises(AttachmentChanged, match="longer"):
        ContainerStream(PARTS, [bad]).read()


def test_attachment_with_another_hash_is_refused() -> None:
    bad = AttachmentSource("a", 10, sha(b"y" * 10), lambda: io.BytesIO(b"x" * 10))
    with pytest.raises(AttachmentChanged, match="sha-256"):
        ContainerStream(PARTS, [bad]).read()


class Vouching(io.BytesIO):
    """A stream that hashes elsewhere and vouches for what it returned (the blob
    store's does, from its decrypting process)."""

    def __init__(self, data: bytes, vouch: str | None) -> None:
        super().__init__(data)
        self.vouch = vouch
        self.asked_at: int | None = None

    def verified_sha256(self) -> str | None:
        self.asked_at = self.tell()
        return self.vouch


def test_a_stream_that_vouches_is_trusted_only_for_the_recorded_hash() -> None:
    data = os.urandom(1000)
    good = Vouching(data, sha(data))
    stream = ContainerStream(PARTS, [AttachmentSource("a", 1000, sha(data), lambda: good)])
    assert data in stream.read()
    assert good.asked_at == 1000  # asked once the stream was read to its end
    for vouch in (sha(b"other"), None):
        bad = AttachmentSource("a", 1000, sha(data), functools.partial(Vouching, data, vouch))
        with pytest.raises(AttachmentChanged, match="sha-256"):
            ContainerStream(PARTS, [bad]).read()


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "a\\b", "a\nb", "a\x00b", "\x85", "a" * 256, "é" * 128]
)
def test_writer_refuses_names_that_could_steer_a_path(name: str) -> None:
    with pytest.raises(SealInputInvalid) as info:
        ContainerStream(PARTS, [source(name, b"x")])
    assert name not in info.value.message or not name


def test_writer_accepts_ordinary_unicode_names() -> None:
    data = ContainerStream(PARTS, [source("photo été 写真.jpg", b"x")]).read()
    assert feed(data, 1000).attachments[0].header.name == "photo été 写真.jpg"


def test_writer_refuses_a_wrong_size_signature() -> None:
    with pytest.raises(ValueError):
        ContainerStream(ContainerParts(b"{}", b"x" * 63, b"{}", b"{}"), [])


# --- what a reader MUST reject ------------------------------------------------------------


def rejects(data: bytes, match: str) -> None:
    for chunk in (1, 5, 9, len(data) or 1):
        with pytest.raises(BundleMalformed, match=match):
            feed(data, chunk)


def test_valid_minimal_container_parses() -> None:
    parsed = feed(assemble(base_records()), 3)
    assert parsed.attachments == ()


def test_rejects_bad_magic() -> None:
    rejects(assemble(base_records(), magic=b"RRX\x00\x01"), "magic")
    rejects(b"\x00" * 64, "magic")


def test_rejects_unsupported_version() -> None:
    rejects(assemble(base_records(), magic=b"RRB\x00\x02"), "version 2")


def test_rejects_empty_and_too_short() -> None:
    rejects(b"", "ends before")
    rejects(MAGIC[:3], "ends before")


def test_rejects_unknown_record_type() -> None:
    records = base_records()
    records.insert(4, rec(9, b""))
    rejects(assemble(records), "unknown record type 9")
    rejects(MAGIC + rec(0, b""), "unknown record type 0")


@pytest.mark.parametrize(
    "order",
    [
        [1, 0, 2, 3],  # signature first
        [0, 1, 2],  # salts missing
        [0, 1, 2, 3, 0],  # a second manifest
        [0, 2, 1, 3],  # record before signature
        [0, 1, 3, 2],  # salts before record
    ],
)
def test_rejects_out_of_order_records(order: list[int]) -> None:
    base = base_records()
    rejects(assemble([base[i] for i in order]), "where")


def test_rejects_data_without_its_header_and_header_without_data() -> None:
    rejects(assemble([*base_records(), rec(6, b"x")]), "where attachment or padding")
    attachment = attachment_records("a", b"x")
    rejects(assemble([*base_records(), attachment[0]]), "where data was expected")


def test_rejects_padding_and_end_out_of_place() -> None:
    data = assemble(base_records())
    rejects(data + rec(8, b""), "after its end record")
    rejects(MAGIC + rec(7, b"") + rec(8, b""), "where manifest was expected")


def test_rejects_signature_of_the_wrong_length() -> None:
    records = base_records()
    records[1] = rec(2, bytes(65))
    rejects(assemble(records), "64 bytes")


@pytest.mark.parametrize(
    ("kind", "cap"),
    [
        (1, ct.MAX_MANIFEST_BYTES),
        (3, ct.MAX_RECORD_BYTES),
        (4, ct.MAX_SALTS_BYTES),
        (5, ct.MAX_ATTACHMENT_HEADER_BYTES),
    ],
)
def test_rejects_lengths_beyond_the_caps_before_reading_them(kind: int, cap: int) -> None:
    records = base_records()
    upto = {1: 0, 3: 2, 4: 3, 5: 4}[kind]
    prefix = MAGIC + b"".join(records[:upto]) + struct.pack(">BQ", kind, cap + 1)
    parser = ContainerParser()
    with pytest.raises(BundleMalformed, match="larger than allowed"):
        parser.write(prefix)


def test_rejects_absurd_lengths() -> None:
    parser = ContainerParser()
    with pytest.raises(BundleMalformed):
        parser.write(MAGIC + struct.pack(">BQ", 1, 2**64 - 1))


def test_rejects_data_length_that_lies_about_the_header_size() -> None:
    header = AttachmentHeader("a", 10, sha(b"x" * 10)).to_bytes()
    rejects(assemble([*base_records(), rec(5, header), rec(6, b"x" * 9)]), "differs")
    rejects(assemble([*base_records(), rec(5, header), rec(6, b"x" * 11)]), "differs")


def test_rejects_data_that_is_shorter_than_its_record_says() -> None:
    # DATA claims 10 bytes, 9 follow, then the trailer: the framing eats the trailer.
    header = AttachmentHeader("a", 10, sha(b"x" * 10)).to_bytes()
    head = MAGIC + b"".join(base_records()) + rec(5, header)
    data = head + struct.pack(">BQ", 6, 10) + b"x" * 9 + rec(7, b"") + rec(8, b"")
    with pytest.raises(BundleMalformed):
        feed(data, 4)


def test_rejects_data_that_is_longer_than_its_record_says() -> None:
    header = AttachmentHeader("a", 10, sha(b"x" * 10)).to_bytes()
    records = [*base_records(), rec(5, header), rec(6, b"x" * 10) + b"x"]
    with pytest.raises(BundleMalformed, match="unknown record type"):
        feed(assemble(records), 4)


@pytest.mark.parametrize(
    "header",
    [
        b'{"name":"a","sha256":"' + b"0" * 64 + b'","size":1,"x":1}',
        b'{"name":"a","size":1}',
        b'{"sha256":"' + b"0" * 64 + b'","name":"a","size":1}',  # not canonical order
        b'{"name":"a","sha256":"' + b"0" * 64 + b'","size":1.0}',
        b'{"name":"a","sha256":"' + b"0" * 64 + b'","size":-1}',
        b'{"name":"a","sha256":"' + b"0" * 64 + b'","size":true}',
        b'{"name":"a","sha256":"' + b"A" * 64 + b'","size":1}',
        b'{"name":"a/b","sha256":"' + b"0" * 64 + b'","size":1}',
        b'{"name":"a\\n","sha256":"' + b"0" * 64 + b'","size":1}',
        b'{"name":"a","sha256":"' + b"0" * 64 + b'","size":1} ',
        b"[]",
        b"\xff",
    ],
)
def test_rejects_bad_attachment_headers(header: bytes) -> None:
    rejects(assemble([*base_records(), rec(5, header), rec(6, b"x")]), "attachment header")


def test_rejects_missing_end() -> None:
    data = assemble(base_records())
    rejects(data[:-9], "ends before")
    rejects(data[:-1], "ends before")


def test_rejects_trailing_data() -> None:
    rejects(assemble(base_records()) + b"\x00", "after its end record")


def test_rejects_non_empty_end() -> None:
    rejects(assemble(base_records(), end=b"x"), "end record must be empty")


def padded_records() -> tuple[list[bytes], int]:
    """Records whose container needs a few bytes of padding."""
    records = [*base_records(), *attachment_records("a", b"x" * 200)]
    pad_len = padding_length(len(MAGIC + b"".join(records)))
    assert pad_len >= 2
    return records, pad_len


def test_rejects_nonzero_padding() -> None:
    records, pad_len = padded_records()
    good = assemble(records)
    feed(good, 7)
    for position in (0, pad_len - 1):
        pad = bytearray(pad_len)
        pad[position] = 1
        bad = assemble(records, pad=bytes(pad))
        assert len(bad) == len(good)
        rejects(bad, "not all zeros")


def test_rejects_padding_of_the_wrong_length() -> None:
    records, pad_len = padded_records()
    rejects(assemble(records, pad=bytes(pad_len + 1)), "wrong length")
    rejects(assemble(records, pad=bytes(pad_len - 1)), "wrong length")
    rejects(assemble(records, pad=b""), "wrong length")


def test_rejects_too_many_attachments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ct, "MAX_ATTACHMENTS", 2)
    records = base_records()
    for i in range(3):
        records += attachment_records(f"a{i}", b"x")
    rejects(assemble(records), "too many attachments")


def test_errors_are_sticky() -> None:
    parser = ContainerParser()
    with pytest.raises(BundleMalformed) as first:
        parser.write(b"NOPE!")
    with pytest.raises(BundleMalformed) as again:
        parser.write(b"")
    assert again.value is first.value
    with pytest.raises(BundleMalformed):
        parser.finish()


def test_sink_errors_are_sticky_and_propagate_unchanged() -> None:
    class Boom(Exception):
        pass

    class Failing(Collect):
        def on_attachment_chunk(self, data: bytes) -> None:
            raise Boom

    data = ContainerStream(PARTS, [source("a", b"abc")]).read()
    parser = ContainerParser(Failing())
    with pytest.raises(Boom):
        parser.write(data)
    with pytest.raises(Boom):
        parser.finish()


def test_record_type_numbers_are_the_documented_ones() -> None:
    assert {t.name: t.value for t in RecordType} == {
        "MANIFEST": 1,
        "SIGNATURE": 2,
        "RECORD": 3,
        "SALTS": 4,
        "ATTACHMENT": 5,
        "DATA": 6,
        "PADDING": 7,
        "END": 8,
    }
