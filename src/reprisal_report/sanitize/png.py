"""PNG: keep the chunks that make up the picture, drop every other chunk whole.

A PNG is a signature followed by chunks (length, type, data, CRC-32 of type + data).
Kept chunks are copied byte for byte with their own CRC, so nothing is recomputed and
the decoded pixels cannot change. Every chunk's CRC is checked, dropped ones included:
a file with a corrupt chunk is refused as malformed rather than half-trusted.

Kept, and why:

- IHDR, PLTE, IDAT, IEND: the image.
- tRNS, sBIT: part of the pixel values (transparency, significant bits).
- gAMA, cHRM, sRGB, iCCP, cICP: how the values map to colours; without them a
  wide-gamut or HDR picture shows wrong colours, and colour can be evidence. An ICC
  profile from a camera or phone is shared by a whole model line.
- acTL, fcTL, fdAT: the frames of an animated PNG, which are content.

Dropped: tEXt, zTXt, iTXt (author, software, comments, XMP), eXIf (EXIF with GPS and
serials), tIME (modification time), pHYs (physical DPI: not needed to show the pixels,
and a value such as 144 dpi or 600 dpi hints at the device or scanner), bKGD, hIST,
sPLT, mDCV, cLLI (viewer hints), caBX (C2PA content credentials, which name people
and devices), and every unknown ancillary chunk, whatever it may hold. Anything after
IEND is dropped too.

Memory: chunks are checked and kept through a memoryview of the input and copied once,
into the result, so the input and the output are the only two copies. Nothing is
inflated or decoded, so the dimensions IHDR declares cost nothing here.
"""

from __future__ import annotations

import zlib

from reprisal_report.sanitize.problems import MediaMalformed, MediaUnsupported

SIGNATURE = b"\x89PNG\r\n\x1a\n"

KEPT_CHUNKS = frozenset(
    [
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"sBIT",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"iCCP",
        b"cICP",
        b"acTL",
        b"fcTL",
        b"fdAT",
    ]
)

_MAX_CHUNK_LENGTH = 2**31 - 1


def strip_png(data: bytes) -> bytes:
    """Return ``data`` with only ``KEPT_CHUNKS``; raise ``MediaMalformed`` if broken."""
    if not data.startswith(SIGNATURE):
        raise MediaMalformed("it does not start with the png signature")
    size = len(data)
    view = memoryview(data)
    # The output as views of the kept chunks, joined once at the end.
    out: list[bytes | memoryview] = [SIGNATURE]
    pos = len(SIGNATURE)
    first = True
    while True:
        if pos + 8 > size:
            raise MediaMalformed("it ends before the IEND chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunk_type = data[pos + 4 : pos + 8]
        if length > _MAX_CHUNK_LENGTH:
            raise MediaMalformed("it has a chunk with an invalid length")
        if not chunk_type.isalpha() or not chunk_type.isascii():
            raise MediaMalformed("it has a chunk with an invalid type")
        end = pos + 12 + length
        if end > size:
            raise MediaMalformed("it ends inside a chunk")
        stored_crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(view[pos + 4 : end - 4]) != stored_crc:
            raise MediaMalformed("it has a chunk with a bad checksum")
        critical = chunk_type[0:1].isupper()
        if critical and chunk_type not in KEPT_CHUNKS:
            # An unknown critical chunk means "do not decode without understanding
            # me" (Apple's CgBI is one): dropping it would silently change the image.
            raise MediaUnsupported("png with a non-standard critical chunk")
        if first and chunk_type != b"IHDR":
            raise MediaMalformed("its first chunk is not IHDR")
        first = False
        if chunk_type in KEPT_CHUNKS:
            out.append(view[pos:end])
        pos = end
        if chunk_type == b"IEND":
            return b"".join(out)
