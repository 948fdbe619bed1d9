"""JPEG: drop metadata segments, copy everything the decoder needs byte for byte.

A JPEG file is a sequence of marker segments (``FF xx`` + big-endian length + payload)
with entropy-coded scan data after each SOS. Metadata lives only in APPn and COM
segments and in whatever follows the end-of-image marker, so stripping is a filter on
segments: nothing is decoded or re-encoded, and the decoded pixels cannot change.

Kept, and why:

- SOFn, DHT, DAC, DQT, DRI, DNL, DHP, EXP, SOS and the scan data: the image itself.
- APP0 ``JFIF``: some decoders use it to choose the colour transform. Its embedded
  thumbnail is removed (a thumbnail can show the picture before it was cropped) and its
  pixel density is reduced to the bare aspect ratio (a DPI value hints at the
  producing device; the aspect ratio is all a viewer needs).
- APP2 ``ICC_PROFILE``: without it a wide-gamut photo (most phones shoot Display P3)
  is shown with wrong colours, and the colour of a bruise or a burn can be evidence.
  Camera profiles are shared by a whole model line, not tied to one device.
- APP14 ``Adobe`` (exactly the 12-byte standard form): it carries the colour-transform
  flag that CMYK and some RGB JPEGs need to decode correctly; it holds nothing else.

Dropped: APP1 (EXIF with GPS, serials, maker notes and thumbnail; XMP), APP13
(IPTC/Photoshop), APP12, APP11 (JPEG XT, C2PA content credentials), every other APPn,
every other APP0/APP2/APP14 (JFXX thumbnails, MPF, FlashPix), COM, and all bytes after
EOI (MPF secondary images, phone vendor trailers, appended archives).

Memory: the scan data, nearly all of the file, is referenced through a memoryview and
copied once, into the result, so the input and the output are the only two copies.
Nothing is decoded, so the dimensions a frame header declares cost nothing here.
"""

from __future__ import annotations

import math

from reprisal_report.sanitize.problems import MediaMalformed, MediaUnsupported

SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
APP0 = 0xE0
APP2 = 0xE2
APP14 = 0xEE
COM = 0xFE

# Segments the decoder needs, copied unchanged: SOF0-15 (C0-CF minus DHT C4, JPG C8,
# DAC CC, listed separately), DHT, DAC, DQT, DNL, DRI, DHP, EXP.
_IMAGE_MARKERS = frozenset([*range(0xC0, 0xC8), *range(0xC9, 0xD0), 0xDB, 0xDC, 0xDD, 0xDE, 0xDF])
_SOF_MARKERS = frozenset(m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC))
# Markers without a length field that may appear between segments.
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])
# JPG (C8) and JPGn (F0-FD) are extensions (JPEG-LS among them) whose scans are
# delimited differently; splitting them here could corrupt the image.
_EXTENSIONS = frozenset([0xC8, *range(0xF0, 0xFE)])

_ICC_ID = b"ICC_PROFILE\x00"
_JFIF_ID = b"JFIF\x00"
_ADOBE_ID = b"Adobe"
_ADOBE_PAYLOAD_LEN = 12


def strip_jpeg(data: bytes, *, require_eoi: bool = True) -> bytes:
    """Return ``data`` without metadata segments; raise ``MediaMalformed`` if broken.

    ``require_eoi=False`` accepts a file whose last scan runs to the end of the data
    without an EOI marker (decoders tolerate this; PDF image streams sometimes do it).
    Everything before the first scan must still parse.
    """
    size = len(data)
    if size < 4 or data[0] != 0xFF or data[1] != SOI:
        raise MediaMalformed("it does not start with a start-of-image marker")
    view = memoryview(data)
    # The output as pieces (small segments and views of the scan data), joined once.
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    pos = 2
    seen_frame = False
    seen_scan = False
    while True:
        if pos >= size:
            raise MediaMalformed("it ends before the end-of-image marker")
        if data[pos] != 0xFF:
            # Stray bytes between segments: libjpeg skips them with a warning, and some
            # cameras write them. Skipping (and so dropping) them is what a decoder does.
            pos = data.find(b"\xff", pos)
            if pos < 0:
                raise MediaMalformed("it ends before the end-of-image marker")
        # Any number of 0xFF fill bytes may precede a marker.
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise MediaMalformed("it ends before the end-of-image marker")
        marker = data[pos]
        pos += 1
        if marker == EOI:
            if not seen_scan:
                raise MediaMalformed("it has no image scan")
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        if marker in _EXTENSIONS:
            raise MediaUnsupported("jpeg using extension markers (such as jpeg-ls)")
        if marker == SOI or marker < 0xC0:
            raise MediaMalformed("it has an invalid marker")
        if pos + 2 > size:
            raise MediaMalformed("it ends inside a segment header")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise MediaMalformed("it has a segment with an invalid length")
        end = pos + length
        if end > size:
            raise MediaMalformed("it ends inside a segment")
        payload = data[pos + 2 : end]
        pos = end
        if marker == SOS:
            if not seen_frame:
                raise MediaMalformed("it has an image scan before the frame header")
            seen_scan = True
            scan_end = _scan_end(data, pos)
            if scan_end is None:
                if require_eoi:
                    raise MediaMalformed("it ends before the end-of-image marker")
                out.append(_segment(marker, payload))
                out.append(view[pos:])
                return b"".join(out)
            out.append(_segment(marker, payload))
            out.append(view[pos:scan_end])
            pos = scan_end
            continue
        if marker in _IMAGE_MARKERS:
            seen_frame = seen_frame or marker in _SOF_MARKERS
            out.append(_segment(marker, payload))
        else:
            kept = _kept_payload(marker, payload)
            if kept is not None:
                out.append(_segment(marker, kept))


def _kept_payload(marker: int, payload: bytes) -> bytes | None:
    """The payload to write for an APPn/COM segment, or None to drop it."""
    if marker == APP0 and payload.startswith(_JFIF_ID):
        return _clean_jfif(payload)
    if marker == APP2 and payload.startswith(_ICC_ID):
        return payload
    if marker == APP14 and payload.startswith(_ADOBE_ID) and len(payload) == _ADOBE_PAYLOAD_LEN:
        return payload
    # Anything else (other APPn, COM) is metadata or application data.
    return None


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _scan_end(data: bytes, pos: int) -> int | None:
    """Offset of the marker ending the entropy-coded data at ``pos``; None if none.

    In scan data 0xFF is followed by 0x00 (a stuffed data byte) or RST0-7 (restart
    markers, part of the scan); any other marker, after optional 0xFF fill bytes, ends it.
    """
    size = len(data)
    i = pos
    while True:
        i = data.find(b"\xff", i)
        if i < 0:
            return None
        j = i + 1
        while j < size and data[j] == 0xFF:
            j += 1
        if j >= size:
            return None
        following = data[j]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            i = j + 1
            continue
        return i


def _clean_jfif(payload: bytes) -> bytes:
    """The JFIF header without its thumbnail, its density reduced to an aspect ratio.

    Layout: "JFIF\\0", version (2), units (1), x density (2), y density (2),
    thumbnail width (1), thumbnail height (1), thumbnail pixels (3 * w * h).
    """
    if len(payload) < 14:
        raise MediaMalformed("it has a truncated jfif header")
    version = payload[5:7]
    x_density = int.from_bytes(payload[8:10], "big")
    y_density = int.from_bytes(payload[10:12], "big")
    if x_density == 0 or y_density == 0:
        x_density = y_density = 1
    divisor = math.gcd(x_density, y_density)
    # units 0 = "no unit: the densities only give the pixel aspect ratio".
    return (
        _JFIF_ID
        + version
        + b"\x00"
        + (x_density // divisor).to_bytes(2, "big")
        + (y_density // divisor).to_bytes(2, "big")
        + b"\x00\x00"
    )
