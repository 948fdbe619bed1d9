"""WebP: drop the EXIF and XMP chunks of the RIFF container, fix the sizes.

A WebP file is ``RIFF <size> WEBP`` followed by chunks (FourCC, little-endian size,
payload, a pad byte when the size is odd). The bitstreams (VP8, VP8L, ALPH) are copied
byte for byte, so the decoded pixels cannot change; only the container is rebuilt.

Kept: VP8X (its EXIF and XMP flags cleared, as the spec requires when those chunks
are absent, and any bytes beyond its 10-byte payload dropped), ICCP (colours, see the
JPEG notes), ANIM and ANMF (animation; inside each frame only ALPH, VP8 and VP8L),
ALPH, VP8, VP8L.

Dropped: EXIF, "XMP ", and every unknown chunk (readers must ignore them, so they can
only carry data a viewer does not show), at the top level and inside animation frames;
anything after the RIFF payload.

Memory: chunks are parsed as memoryviews of the input and the container is written in
one join, so the input and the output are the only two copies. Nothing is decoded, so
the canvas size VP8X declares costs nothing here.
"""

from __future__ import annotations

from reprisal_report.sanitize.problems import MediaMalformed

_IMAGE_CHUNKS = frozenset([b"VP8 ", b"VP8L", b"VP8X"])
KEPT_CHUNKS = frozenset([b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"])
FRAME_CHUNKS = frozenset([b"ALPH", b"VP8 ", b"VP8L"])

# VP8X flag bits (first payload byte): Rsv Rsv ICC Alpha EXIF XMP Anim Rsv.
_FLAG_ICC = 0x20
_FLAG_EXIF = 0x08
_FLAG_XMP = 0x04
_VP8X_PAYLOAD_LEN = 10
_ANMF_HEADER_LEN = 16

Piece = bytes | memoryview


def strip_webp(data: bytes) -> bytes:
    """Return ``data`` with only ``KEPT_CHUNKS``; raise ``MediaMalformed`` if broken."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MediaMalformed("it does not start with a riff webp header")
    riff_size = int.from_bytes(data[4:8], "little")
    if riff_size < 4:
        raise MediaMalformed("its riff size is invalid")
    if 8 + riff_size > len(data):
        raise MediaMalformed("it ends before the size its header announces")
    chunks = _parse_chunks(memoryview(data)[12 : 8 + riff_size])
    if not chunks or chunks[0][0] not in _IMAGE_CHUNKS:
        raise MediaMalformed("its first chunk is not an image chunk")
    has_icc = any(fourcc == b"ICCP" for fourcc, _ in chunks)
    body: list[Piece] = []
    for fourcc, payload in chunks:
        if fourcc not in KEPT_CHUNKS:
            continue
        if fourcc == b"VP8X":
            body += _chunk(fourcc, [_clean_vp8x(payload, has_icc=has_icc)])
        elif fourcc == b"ANMF":
            body += _chunk(fourcc, _clean_frame(payload))
        else:
            body += _chunk(fourcc, [payload])
    size = 4 + sum(len(piece) for piece in body)
    return b"".join([b"RIFF", size.to_bytes(4, "little"), b"WEBP", *body])


def _parse_chunks(body: memoryview) -> list[tuple[bytes, memoryview]]:
    chunks: list[tuple[bytes, memoryview]] = []
    pos = 0
    size = len(body)
    while pos < size:
        if pos + 8 > size:
            raise MediaMalformed("it ends inside a chunk header")
        fourcc = bytes(body[pos : pos + 4])
        length = int.from_bytes(body[pos + 4 : pos + 8], "little")
        start = pos + 8
        end = start + length
        if end > size:
            raise MediaMalformed("it ends inside a chunk")
        chunks.append((fourcc, body[start:end]))
        # Chunks are padded to an even size; a missing final pad byte is tolerated
        # (libwebp does), it is rewritten on output anyway.
        pos = end + (length & 1)
    return chunks


def _chunk(fourcc: bytes, payload: list[Piece]) -> list[Piece]:
    """A chunk as pieces: header, the payload's pieces, a pad byte if its size is odd."""
    length = sum(len(piece) for piece in payload)
    pad = [b"\x00"] if length & 1 else []
    return [fourcc + length.to_bytes(4, "little"), *payload, *pad]


def _clean_vp8x(payload: memoryview, *, has_icc: bool) -> bytes:
    if len(payload) < _VP8X_PAYLOAD_LEN:
        raise MediaMalformed("it has a truncated VP8X chunk")
    flags = payload[0] & ~(_FLAG_EXIF | _FLAG_XMP)
    if not has_icc:
        flags &= ~_FLAG_ICC
    return bytes([flags]) + bytes(payload[1:_VP8X_PAYLOAD_LEN])


def _clean_frame(payload: memoryview) -> list[Piece]:
    """An ANMF payload keeping its 16-byte header and only its bitstream chunks."""
    if len(payload) < _ANMF_HEADER_LEN:
        raise MediaMalformed("it has a truncated animation frame")
    header = payload[:_ANMF_HEADER_LEN]
    sub_chunks = _parse_chunks(payload[_ANMF_HEADER_LEN:])
    kept = [
        piece for fourcc, p in sub_chunks if fourcc in FRAME_CHUNKS for piece in _chunk(fourcc, [p])
    ]
    if not kept:
        raise MediaMalformed("it has an animation frame without an image")
    return [header, *kept]
