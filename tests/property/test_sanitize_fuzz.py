"""Arbitrary bytes behind each magic prefix: documented errors only, never a hang.

Two sources of input: random tails behind a bare signature (exercises the first parse
steps), and random damage to small valid files (exercises everything past them). On
success the output must itself be clean by construction (only allowed segments or
chunks) and stripping it again must change nothing.
"""

from __future__ import annotations

import io
import struct
import warnings
from functools import cache

import pikepdf
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from reprisal_report.errors import (
    AttachmentDecodesTooLarge,
    AttachmentMalformed,
    AttachmentRefused,
)
from reprisal_report.sanitize import MediaKind, strip_bytes
from reprisal_report.sanitize.png import KEPT_CHUNKS as PNG_KEPT
from reprisal_report.sanitize.webp import KEPT_CHUNKS as WEBP_KEPT
from tests.unit.test_sanitize_samples import full_exif, xmp_packet

# A per-example deadline catches a parser that loops instead of failing.
fuzz = settings(max_examples=150, deadline=5000)


PREFIXES = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe1",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    b"II*\x00",
    b"II*\x00\x08\x00\x00\x00",
    b"MM\x00*",
    b"%PDF-1.7\n",
]

JPEG_ALLOWED = {0xE0, 0xE2, 0xEE, 0x01, *range(0xC0, 0xD0), *range(0xD0, 0xD8), 0xDB, 0xDC}
JPEG_ALLOWED |= {0xDD, 0xDE, 0xDF}


def small_picture() -> Image.Image:
    image = Image.new("RGB", (8, 6))
    image.putdata([(x * 30, y * 40, (x ^ y) * 20) for y in range(6) for x in range(8)])
    return image


@cache
def samples() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    buf = io.BytesIO()
    small_picture().save(buf, "JPEG", exif=full_exif(), comment="fuzz", xmp=xmp_packet())
    out["jpeg"] = buf.getvalue()
    buf = io.BytesIO()
    small_picture().save(buf, "PNG", exif=full_exif())
    out["png"] = buf.getvalue()
    buf = io.BytesIO()
    small_picture().save(buf, "WEBP", exif=full_exif().tobytes(), xmp=xmp_packet(), lossless=True)
    out["webp"] = buf.getvalue()
    buf = io.BytesIO()
    small_picture().save(buf, "TIFF")
    out["tiff"] = buf.getvalue()
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(50, 50))
    pdf.docinfo["/Author"] = "fuzz"
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    out["pdf"] = buf.getvalue()
    return out


def check(data: bytes) -> None:
    """strip_bytes either refuses with a documented error or returns clean output."""
    # A Python warning would reach the terminal from the core: none may escape.
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        try:
            kind, cleaned = strip_bytes(data, name="fuzz.bin")
        # A damaged header may declare pixels past the memory cap: that refusal is
        # documented too (AttachmentDecodesTooLarge).
        except (AttachmentMalformed, AttachmentRefused, AttachmentDecodesTooLarge) as error:
            assert "\n" not in error.message and error.message.startswith("fuzz.bin is a ")
            kind, cleaned = None, b""
    assert [str(w.message) for w in escaped] == []
    if kind is None:
        return
    assert_clean(kind, cleaned)
    if kind in (MediaKind.JPEG, MediaKind.PNG, MediaKind.WEBP):
        # Idempotent: what comes out has nothing left to strip.
        assert strip_bytes(cleaned, name="again")[1] == cleaned


def assert_clean(kind: MediaKind, cleaned: bytes) -> None:
    if kind is MediaKind.JPEG:
        pos = 2
        while pos + 4 <= len(cleaned) and cleaned[pos] == 0xFF and cleaned[pos + 1] != 0xDA:
            marker = cleaned[pos + 1]
            assert marker in JPEG_ALLOWED, hex(marker)
            pos += (
                2
                if 0xD0 <= marker <= 0xD7 or marker == 0x01
                else 2 + int.from_bytes(cleaned[pos + 2 : pos + 4], "big")
            )
    elif kind is MediaKind.PNG:
        pos = 8
        while pos < len(cleaned):
            length = struct.unpack(">I", cleaned[pos : pos + 4])[0]
            assert cleaned[pos + 4 : pos + 8] in PNG_KEPT
            pos += 12 + length
    elif kind is MediaKind.WEBP:
        assert struct.unpack("<I", cleaned[4:8])[0] == len(cleaned) - 8
        pos = 12
        while pos < len(cleaned):
            length = struct.unpack("<I", cleaned[pos + 4 : pos + 8])[0]
            assert cleaned[pos : pos + 4] in WEBP_KEPT
            pos += 8 + length + (length & 1)
    elif kind is MediaKind.PDF:
        with pikepdf.open(io.BytesIO(cleaned)) as pdf:
            assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root


@fuzz
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=600))
def test_random_tails_behind_each_signature(prefix: bytes, tail: bytes) -> None:
    check(prefix + tail)


@fuzz
@given(tail=st.binary(max_size=600), honest_size=st.booleans())
def test_random_riff_webp(tail: bytes, honest_size: bool) -> None:
    size = len(tail) + 4 if honest_size else len(tail) // 2
    check(b"RIFF" + struct.pack("<I", size) + b"WEBP" + tail)


@fuzz
@given(
    name=st.sampled_from(["jpeg", "png", "webp", "tiff", "pdf"]),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_damaged_valid_files(name: str, flips: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(samples()[name])
    for position, value in flips:
        # Keep the signature, so the damage reaches the format parser.
        data[16 + position % (len(data) - 16)] = value
    if cut is not None:
        del data[16 + cut % (len(data) - 16) :]
    check(bytes(data))


def test_the_undamaged_samples_are_cleaned() -> None:
    for name, data in samples().items():
        kind, _ = strip_bytes(data, name=name)
        assert kind.value == name
