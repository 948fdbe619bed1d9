"""The plaintext container inside a bundle's age encryption (docs/bundle-format.md).

Grammar (all integers big-endian)::

    container  = magic manifest signature record salts *attachment padding end
    magic      = "RRB" %x00 %x01             ; 5 bytes; the last is the version
    manifest   = %x01 len body               ; canonical JSON, <= 16 MiB
    signature  = %x02 len body               ; exactly 64 bytes (Ed25519)
    record     = %x03 len body               ; canonical JSON, <= 16 MiB
    salts      = %x04 len body               ; canonical JSON, <= 16 MiB
    attachment = %x05 len header %x06 len data
                                             ; header: canonical JSON {name, sha256, size}
                                             ; (<= 64 KiB); data: exactly ``size`` bytes
    padding    = %x07 len *%x00              ; length fixed by PADMÉ (below)
    end        = %x08 len                    ; len = 0
    len        = 8 bytes, unsigned

The whole container is exactly ``padme(P + 18)`` bytes, where ``P`` counts every byte
before the padding record and 18 is the padding and end record headers; the padding
fills the difference. All sizes are known before the first byte is written, so the
length is fixed up front and the container can be streamed.

Both directions stream in constant memory: :class:`ContainerStream` is a readable
file-like object to hand to age as the plaintext reader; :class:`ContainerParser` is a
writable push parser to hand to age as the plaintext writer. Attachment bytes pass
through in chunks and are never held whole.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import struct
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, BinaryIO, Final, Protocol

from reprisal_report.bundle.padding import padme
from reprisal_report.bundle.strictjson import load_canonical
from reprisal_report.errors import AttachmentChanged, BundleMalformed, SealInputInvalid
from reprisal_report.model import filenames
from reprisal_report.model.canonical import MAX_SAFE_INTEGER, canonical_json

MAGIC: Final = b"RRB\x00\x01"
_MAGIC_STEM: Final = MAGIC[:-1]
VERSION: Final = MAGIC[-1]
HEADER: Final = struct.Struct(">BQ")

MIB: Final = 1024 * 1024
# The manifest is parsed before its signature can be checked (it names the author):
# capped well below the record's limit, yet room for MAX_ATTACHMENTS entries.
MAX_MANIFEST_BYTES: Final = 4 * MIB
MAX_RECORD_BYTES: Final = 16 * MIB
MAX_SALTS_BYTES: Final = 16 * MIB
SIGNATURE_BYTES: Final = 64
MAX_ATTACHMENT_HEADER_BYTES: Final = 64 * 1024
MAX_ATTACHMENTS: Final = 10_000
MAX_ATTACHMENT_SIZE: Final = MAX_SAFE_INTEGER  # sizes travel in JSON
MAX_NAME_BYTES: Final = filenames.MAX_NAME_BYTES
CHUNK_SIZE: Final = 64 * 1024

_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


class RecordType(IntEnum):
    MANIFEST = 1
    SIGNATURE = 2
    RECORD = 3
    SALTS = 4
    ATTACHMENT = 5
    DATA = 6
    PADDING = 7
    END = 8


_FIRST: Final = frozenset({RecordType.MANIFEST})
# Which record may follow which: the grammar above as a transition table.
_NEXT: Final[dict[RecordType, frozenset[RecordType]]] = {
    RecordType.MANIFEST: frozenset({RecordType.SIGNATURE}),
    RecordType.SIGNATURE: frozenset({RecordType.RECORD}),
    RecordType.RECORD: frozenset({RecordType.SALTS}),
    RecordType.SALTS: frozenset({RecordType.ATTACHMENT, RecordType.PADDING}),
    RecordType.ATTACHMENT: frozenset({RecordType.DATA}),
    RecordType.DATA: frozenset({RecordType.ATTACHMENT, RecordType.PADDING}),
    RecordType.PADDING: frozenset({RecordType.END}),
    RecordType.END: frozenset(),
}
_BUFFERED_CAPS: Final = {
    RecordType.MANIFEST: MAX_MANIFEST_BYTES,
    RecordType.RECORD: MAX_RECORD_BYTES,
    RecordType.SALTS: MAX_SALTS_BYTES,
    RecordType.ATTACHMENT: MAX_ATTACHMENT_HEADER_BYTES,
    RecordType.SIGNATURE: SIGNATURE_BYTES,
}
_TRAILER_BYTES: Final = 2 * HEADER.size  # the padding and end record headers


def padding_length(before_padding: int) -> int:
    """Zero bytes in the padding record, given the bytes that precede that record."""
    unpadded = before_padding + _TRAILER_BYTES
    return padme(unpadded) - unpadded


def attachment_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be an attachment name in a bundle, or None if it can.

    The one rule of ``model.filenames``, shared with ``case attach`` and
    ``triage attachment``. The reason never quotes the name: it is case content.
    """
    return filenames.attachment_name_problem(name)


@dataclass(frozen=True)
class AttachmentHeader:
    """What the container says about the attachment that follows (and the manifest too)."""

    name: str
    size: int
    sha256: str  # lower-case hex

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    def problem(self) -> str | None:
        """Why this header is invalid, or None. Shared by the writer and the reader."""
        name_problem = attachment_name_problem(self.name)
        if name_problem is not None:
            return f"name {name_problem}"
        if type(self.size) is not int or not 0 <= self.size <= MAX_ATTACHMENT_SIZE:
            return "size is not a valid byte count"
        if not isinstance(self.sha256, str) or not _SHA256_HEX.fullmatch(self.sha256):
            return "sha256 is not 64 lower-case hex digits"
        return None

    @classmethod
    def from_dict(cls, doc: object, what: str) -> AttachmentHeader:
        """Strictly: exactly the keys name, sha256, size, each valid."""
        if not isinstance(doc, dict) or set(doc) != {"name", "sha256", "size"}:
            raise BundleMalformed(f"bundle {what} must have exactly name, sha256 and size")
        header = cls(name=doc["name"], size=doc["size"], sha256=doc["sha256"])
        problem = header.problem()
        if problem is not None:
            raise BundleMalformed(f"bundle {what}: {problem}")
        return header

    @classmethod
    def from_bytes(cls, data: bytes) -> AttachmentHeader:
        what = "attachment header"
        return cls.from_dict(load_canonical(data, what, MAX_ATTACHMENT_HEADER_BYTES), what)


@dataclass(frozen=True)
class AttachmentSource:
    """An attachment to seal: its recorded size and hash, and how to stream its bytes.

    ``open`` is called once, while sealing, and must return a fresh binary stream
    positioned at the start; the stream is closed afterwards. A stream that hashes
    what it returns elsewhere (the blob store's, whose decrypting process does) may
    offer ``verified_sha256()``: the SHA-256 hex of every byte it returned, once it
    returned end-of-file (None if it cannot vouch); the container then compares that
    instead of hashing the bytes a second time.
    """

    name: str
    size: int
    sha256: str
    open: Callable[[], BinaryIO]

    @property
    def header(self) -> AttachmentHeader:
        return AttachmentHeader(self.name, self.size, self.sha256)


@dataclass(frozen=True)
class ContainerParts:
    """The small, buffered parts of a container, already encoded."""

    manifest: bytes
    signature: bytes
    record: bytes
    salts: bytes


@dataclass(frozen=True)
class StreamedAttachment:
    """An attachment as it went past: its header and the hash of the bytes seen."""

    header: AttachmentHeader
    sha256: str  # SHA-256 of the DATA bytes actually streamed, lower-case hex
    size: int  # bytes actually streamed (always header.size once parsing succeeded)


@dataclass(frozen=True)
class ParsedContainer:
    manifest: bytes
    signature: bytes
    record: bytes
    salts: bytes
    attachments: tuple[StreamedAttachment, ...]
    length: int


class AttachmentSink(Protocol):
    """Receives attachment bytes as they are parsed (unverified until the end)."""

    def on_attachment_start(self, header: AttachmentHeader) -> None: ...

    def on_attachment_chunk(self, data: bytes) -> None: ...

    def on_attachment_end(self) -> None: ...


class DiscardingSink:
    """A sink that keeps nothing (hashes are still computed by the parser)."""

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        return None

    def on_attachment_chunk(self, data: bytes) -> None:
        return None

    def on_attachment_end(self) -> None:
        return None


# --- writing -----------------------------------------------------------------------


class ContainerStream(io.RawIOBase):
    """The container's bytes, produced on demand: a reader for ``age_layer.encrypt``.

    ``length`` is known before the first read. Each attachment is opened when its turn
    comes, streamed in ``CHUNK_SIZE`` pieces and hashed on the way; if it yields more
    or fewer bytes than its recorded size, or bytes with another SHA-256, reading
    raises :class:`AttachmentChanged` and the output must be discarded.
    """

    def __init__(
        self,
        parts: ContainerParts,
        attachments: Sequence[AttachmentSource],
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        super().__init__()
        _check_parts(parts, attachments)
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._parts = parts
        self._attachments = tuple(attachments)
        self._chunk_size = chunk_size
        self._headers = [a.header.to_bytes() for a in self._attachments]
        before_padding = len(MAGIC) + sum(
            HEADER.size + len(body)
            for body in (parts.manifest, parts.signature, parts.record, parts.salts)
        )
        before_padding += sum(
            2 * HEADER.size + len(h) + a.size
            for h, a in zip(self._headers, self._attachments, strict=True)
        )
        self._padding = padding_length(before_padding)
        self.length: int = before_padding + _TRAILER_BYTES + self._padding
        self.position = 0
        self._pieces = self._generate()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = memoryview(piece)
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.position += n
        return n

    def close(self) -> None:
        # Closes an attachment stream left open by an abandoned read.
        self._pieces.close()
        super().close()

    def _generate(self) -> Generator[bytes, None, None]:
        yield MAGIC
        for kind, body in (
            (RecordType.MANIFEST, self._parts.manifest),
            (RecordType.SIGNATURE, self._parts.signature),
            (RecordType.RECORD, self._parts.record),
            (RecordType.SALTS, self._parts.salts),
        ):
            yield HEADER.pack(kind, len(body))
            yield body
        for index, (header, source) in enumerate(
            zip(self._headers, self._attachments, strict=True)
        ):
            yield HEADER.pack(RecordType.ATTACHMENT, len(header)) + header
            yield HEADER.pack(RecordType.DATA, source.size)
            yield from self._stream_attachment(index, source)
        yield HEADER.pack(RecordType.PADDING, self._padding)
        zeros = bytes(min(self._chunk_size, self._padding))
        remaining = self._padding
        while remaining:
            n = min(remaining, len(zeros))
            yield zeros[:n]
            remaining -= n
        yield HEADER.pack(RecordType.END, 0)

    def _stream_attachment(self, index: int, source: AttachmentSource) -> Iterator[bytes]:
        which = f"attachment {index + 1}"
        remaining = source.size
        with source.open() as stream:
            vouched = getattr(stream, "verified_sha256", None)
            digest = None if callable(vouched) else hashlib.sha256()
            while remaining:
                chunk = stream.read(min(remaining, self._chunk_size))
                if not chunk:
                    raise AttachmentChanged(f"{which} is shorter than its recorded size")
                if len(chunk) > remaining:
                    raise AttachmentChanged(f"{which} is longer than its recorded size")
                if digest is not None:
                    digest.update(chunk)
                remaining -= len(chunk)
                yield chunk
            if stream.read(1):
                raise AttachmentChanged(f"{which} is longer than its recorded size")
            seen = digest.hexdigest() if digest is not None else vouched()  # type: ignore[misc]
        if not isinstance(seen, str) or not hmac.compare_digest(seen, source.sha256):
            raise AttachmentChanged(
                f"{which} does not match its recorded sha-256",
                hint="the vault copy changed since it was attached; nothing was sealed",
            )


def _check_parts(parts: ContainerParts, attachments: Sequence[AttachmentSource]) -> None:
    if len(parts.signature) != SIGNATURE_BYTES:
        raise ValueError("container: the signature must be 64 bytes")
    for what, body, cap in (
        ("manifest", parts.manifest, MAX_MANIFEST_BYTES),
        ("case record", parts.record, MAX_RECORD_BYTES),
        ("salts", parts.salts, MAX_SALTS_BYTES),
    ):
        if len(body) > cap:
            raise SealInputInvalid(f"the {what} is too large for a bundle")
    if len(attachments) > MAX_ATTACHMENTS:
        raise SealInputInvalid(f"a bundle can carry at most {MAX_ATTACHMENTS} attachments")
    for index, source in enumerate(attachments):
        problem = source.header.problem()
        if problem is not None:
            raise SealInputInvalid(f"attachment {index + 1}: {problem}")


# --- reading -----------------------------------------------------------------------


class ContainerParser:
    """A push parser: ``write`` the plaintext in chunks of any size, then ``finish``.

    Memory is bounded by the caps on buffered records; attachment data goes straight
    to ``sink``. The first error is raised by ``write`` (or ``finish``) and raised
    again by every later call. The result depends only on the bytes, never on how
    they were chunked. Everything handed to ``sink`` is unverified: if ``write`` or
    ``finish`` raises, or the age layer does, the caller must discard all of it.
    """

    def __init__(self, sink: AttachmentSink | None = None) -> None:
        self._sink: AttachmentSink = sink if sink is not None else DiscardingSink()
        self._error: BaseException | None = None
        self._offset = 0
        self._magic = bytearray()
        self._header = bytearray()
        self._last: RecordType | None = None
        self._current: RecordType | None = None
        self._remaining = 0
        self._body = bytearray()
        self._ended = False
        self._parts: dict[RecordType, bytes] = {}
        self._pending_header: AttachmentHeader | None = None
        self._digest = hashlib.sha256()
        self._streamed = 0
        self._attachments: list[StreamedAttachment] = []

    @property
    def manifest(self) -> bytes | None:
        """The manifest record's bytes, once it has been read in full."""
        return self._parts.get(RecordType.MANIFEST)

    @property
    def attachments_started(self) -> int:
        return len(self._attachments) + (1 if self._current is RecordType.DATA else 0)

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        try:
            self._feed(memoryview(data).cast("B"))
        except BaseException as exc:
            # A sink failure leaves the parser mid-record too: every error is sticky.
            self._error = exc
            raise
        return len(data)

    def finish(self) -> ParsedContainer:
        if self._error is not None:
            raise self._error
        if not self._ended:
            self._error = BundleMalformed("bundle container ends before its end record")
            raise self._error
        return ParsedContainer(
            manifest=self._parts[RecordType.MANIFEST],
            signature=self._parts[RecordType.SIGNATURE],
            record=self._parts[RecordType.RECORD],
            salts=self._parts[RecordType.SALTS],
            attachments=tuple(self._attachments),
            length=self._offset,
        )

    def _feed(self, view: memoryview) -> None:
        pos, end = 0, len(view)
        while pos < end:
            if self._ended:
                raise BundleMalformed("bundle container has data after its end record")
            if len(self._magic) < len(MAGIC):
                take = min(len(MAGIC) - len(self._magic), end - pos)
                self._magic += view[pos : pos + take]
                pos += take
                self._offset += take
                if len(self._magic) == len(MAGIC):
                    _check_magic(bytes(self._magic))
            elif self._current is None:
                take = min(HEADER.size - len(self._header), end - pos)
                self._header += view[pos : pos + take]
                pos += take
                self._offset += take
                if len(self._header) == HEADER.size:
                    kind, length = HEADER.unpack(self._header)
                    self._header.clear()
                    self._start_record(kind, length)
            else:
                take = min(self._remaining, end - pos)
                self._consume(view[pos : pos + take])
                pos += take
                self._offset += take
                self._remaining -= take
                if self._remaining == 0:
                    self._end_record()

    def _start_record(self, type_byte: int, length: int) -> None:
        try:
            kind = RecordType(type_byte)
        except ValueError:
            raise BundleMalformed(
                f"bundle container has an unknown record type {type_byte}"
            ) from None
        allowed = _FIRST if self._last is None else _NEXT[self._last]
        if kind not in allowed:
            expected = " or ".join(sorted(k.name.lower() for k in allowed)) or "nothing"
            raise BundleMalformed(
                f"bundle container has a {kind.name.lower()} record where {expected} was expected"
            )
        self._check_length(kind, length)
        self._current = kind
        self._remaining = length
        if kind is RecordType.DATA:
            header = self._pending_header
            if header is None:  # unreachable: the grammar puts ATTACHMENT first
                raise BundleMalformed("bundle container has data without a header")
            self._digest = hashlib.sha256()
            self._streamed = 0
            self._sink.on_attachment_start(header)
        if length == 0:
            self._end_record()

    def _check_length(self, kind: RecordType, length: int) -> None:
        name = kind.name.lower()
        if kind is RecordType.SIGNATURE and length != SIGNATURE_BYTES:
            raise BundleMalformed("bundle container signature must be 64 bytes")
        if kind in _BUFFERED_CAPS and length > _BUFFERED_CAPS[kind]:
            raise BundleMalformed(f"bundle container {name} record is larger than allowed")
        if kind is RecordType.ATTACHMENT and len(self._attachments) >= MAX_ATTACHMENTS:
            raise BundleMalformed("bundle container has too many attachments")
        if kind is RecordType.DATA:
            header = self._pending_header
            if header is None or length != header.size:
                raise BundleMalformed(
                    "bundle container attachment data length differs from its header"
                )
        if kind is RecordType.PADDING:
            before = self._offset - HEADER.size
            if length != padding_length(before):
                raise BundleMalformed("bundle container padding has the wrong length")
        if kind is RecordType.END and length != 0:
            raise BundleMalformed("bundle container end record must be empty")

    def _consume(self, chunk: memoryview) -> None:
        kind = self._current
        if kind is RecordType.DATA:
            data = chunk.tobytes()
            self._digest.update(data)
            self._streamed += len(data)
            self._sink.on_attachment_chunk(data)
        elif kind is RecordType.PADDING:
            # Zero padding only: otherwise it would be a covert channel past the
            # signature, and two different containers could carry one manifest.
            data = chunk.tobytes()
            if data.count(0) != len(data):
                raise BundleMalformed("bundle container padding is not all zeros")
        else:
            self._body += chunk

    def _end_record(self) -> None:
        kind = self._current
        if kind is None:  # unreachable: only called inside a record
            raise BundleMalformed("bundle container parser lost its place")
        if kind is RecordType.ATTACHMENT:
            self._pending_header = AttachmentHeader.from_bytes(bytes(self._body))
        elif kind is RecordType.DATA:
            header = self._pending_header
            if header is None:  # unreachable, see _start_record
                raise BundleMalformed("bundle container has data without a header")
            self._sink.on_attachment_end()
            self._attachments.append(
                StreamedAttachment(header, self._digest.hexdigest(), self._streamed)
            )
            self._pending_header = None
        elif kind is RecordType.END:
            self._ended = True
        elif kind is not RecordType.PADDING:
            self._parts[kind] = bytes(self._body)
        self._body = bytearray()
        self._last = kind
        self._current = None


def _check_magic(magic: bytes) -> None:
    if magic == MAGIC:
        return
    if magic[:-1] == _MAGIC_STEM:
        raise BundleMalformed(
            f"bundle container version {magic[-1]} is not supported",
            hint="a newer reprisal-report may be able to open it",
        )
    raise BundleMalformed("bundle container does not start with the container magic")
