"""TIFF: decode every page with Pillow and write it again, with no tag we did not choose.

TIFF metadata lives in tags of the very directories that describe the image (Artist,
Make, Model, DateTime, HostComputer, ImageDescription, XMP, IPTC, Photoshop, EXIF and
GPS sub-directories), so there is no segment to cut out: the safe route is to decode
the pixels and write a new file holding only the structural tags Pillow writes
(size, sample layout, compression, strips, colour map) plus the ICC profile.

Pages are written one at a time with deflate compression (lossless) and then read back:
the file is accepted only if every page decodes to exactly the same mode, size,
palette and pixel bytes as the original and carries no tag outside ``_WRITTEN_TAGS``.

Refused as unsupported (``MediaUnsupported``), because re-saving could not keep them
whole: samples deeper than Pillow holds (16-bit RGB, 64-bit float), uncompressed YCbCr,
camera raw files (DNG and other TIFF-based raws), files with sub-IFDs or reduced-
resolution (preview) pages, more than ``MAX_PAGES`` pages, and modes Pillow cannot write.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, TiffImagePlugin

from reprisal_report.sanitize.problems import MediaMalformed, MediaTooLarge, MediaUnsupported

MAX_PAGES = 1024
# Memory the decoded pixels may take, checked from the header before anything is
# decoded: one page is held a few times over (decoded, copied, hashed, read back) and
# the re-encoded pages accumulate, so these caps keep ``case attach`` under 300 MiB
# peak RSS for any TIFF (docs/attachments.md). A small file declaring a huge page (a
# decompression bomb) is refused here without a byte of it being decoded.
MAX_PAGE_BYTES = 32 * 1024 * 1024
MAX_DECODED_BYTES = 64 * 1024 * 1024
# Pillow's own decompression-bomb limit, checked when a file is opened: no page within
# MAX_PAGE_BYTES has more pixels than this (Pillow keeps at least a byte per pixel), and
# the warning Pillow gives above it is turned into a refusal in ``_strip``.
Image.MAX_IMAGE_PIXELS = MAX_PAGE_BYTES
# Bytes per pixel in Pillow's memory layout (three- and four-band modes use 32 bits).
_MEMORY_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2}

_NEW_SUBFILE_TYPE = 254
_BITS_PER_SAMPLE = 258
_SUB_IFDS = 330
_DNG_VERSION = 50706
_REDUCED_RESOLUTION = 0x1

# The largest sample depth each Pillow mode holds without truncating.
_MODE_BITS = {
    "1": 1,
    "L": 8,
    "LA": 8,
    "P": 8,
    "PA": 8,
    "RGB": 8,
    "RGBA": 8,
    "CMYK": 8,
    "LAB": 8,
    "I;16": 16,
    "I;16B": 16,
    "I": 32,
    "F": 32,
}

# Tags Pillow/libtiff write for the modes above; anything else in the output is a bug.
_WRITTEN_TAGS = frozenset(
    [
        256,  # ImageWidth
        257,  # ImageLength
        258,  # BitsPerSample
        259,  # Compression
        262,  # PhotometricInterpretation
        273,  # StripOffsets
        277,  # SamplesPerPixel
        278,  # RowsPerStrip
        279,  # StripByteCounts
        284,  # PlanarConfiguration
        317,  # Predictor
        320,  # ColorMap
        338,  # ExtraSamples
        339,  # SampleFormat
        34675,  # ICC profile
    ]
)

_COMPRESSION = "tiff_adobe_deflate"


def strip_tiff(data: bytes) -> bytes:
    """Return a re-encoded TIFF holding only pixels, structure and the ICC profile."""
    try:
        return _strip(data)
    except (MediaMalformed, MediaUnsupported, MediaTooLarge):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaTooLarge(MAX_PAGE_BYTES) from None
    except Exception:
        # Pillow and libtiff signal bad input with many exception types (OSError,
        # SyntaxError, ValueError, struct.error, ...). Their messages may quote the file,
        # so only a fixed phrase leaves this module.
        raise MediaMalformed("pillow could not decode it as a tiff image") from None


def _strip(data: bytes) -> bytes:
    if data[8:10] == b"CR":
        # Canon CR2: a TIFF wrapper whose last directory is the raw sensor data.
        raise MediaUnsupported("camera raw image (tiff-based)")
    with warnings.catch_warnings():
        # Pillow reports oddities ("Truncated File Read") as warnings, which would
        # reach the terminal from the core; the read-back check below judges instead.
        warnings.simplefilter("ignore")
        # Above Pillow's pixel limit it only warns; for us it is a refusal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        source = Image.open(io.BytesIO(data), formats=["TIFF"])
        if not isinstance(source, TiffImagePlugin.TiffImageFile):
            raise MediaMalformed("pillow could not decode it as a tiff image")
        pages = source.n_frames
        if pages > MAX_PAGES:
            raise MediaUnsupported(f"tiff with more than {MAX_PAGES} pages")
        _check_decoded_size(source, pages)
        out = io.BytesIO()
        expected: list[tuple[str, tuple[int, int], bytes]] = []
        with TiffImagePlugin.AppendingTiffWriter(out) as writer:
            for index in range(pages):
                source.seek(index)
                expected.append(_write_page(_clean_page(source), writer))
        cleaned = out.getvalue()
        _verify(cleaned, expected)
        return cleaned


def _check_decoded_size(source: Image.Image, pages: int) -> None:
    """Refuse, from the page headers alone, pixels that would not fit the memory caps."""
    total = 0
    for index in range(pages):
        source.seek(index)
        width, height = source.size
        size = width * height * _MEMORY_BYTES.get(source.mode, 4)
        if size > MAX_PAGE_BYTES:
            raise MediaTooLarge(MAX_PAGE_BYTES)
        total += size
        if total > MAX_DECODED_BYTES:
            raise MediaTooLarge(MAX_DECODED_BYTES)
    source.seek(0)


def _clean_page(source: Image.Image) -> Image.Image:
    """The current page as a plain image: pixels, palette and ICC profile, no tags."""
    tags = getattr(source, "tag_v2", {})
    if _DNG_VERSION in tags:
        raise MediaUnsupported("camera raw image (tiff-based)")
    if _SUB_IFDS in tags:
        raise MediaUnsupported("tiff with sub-images (camera raw or previews)")
    if int(tags.get(_NEW_SUBFILE_TYPE, 0)) & _REDUCED_RESOLUTION:
        # A preview page can show the picture before it was cropped or edited.
        raise MediaUnsupported("tiff with preview pages")
    mode = source.mode
    if mode not in _MODE_BITS:
        raise MediaUnsupported(f"tiff with {mode.lower()} pixels")
    bits = tags.get(_BITS_PER_SAMPLE, (1,))
    depths = bits if isinstance(bits, tuple) else (bits,)
    if any(int(depth) > _MODE_BITS[mode] for depth in depths):
        raise MediaUnsupported("tiff with samples deeper than this tool keeps")
    # copy() gives a plain Image: no tag_v2, so Pillow's TIFF writer cannot carry the
    # original's XMP, IPTC or Photoshop tags over (it does for a TiffImageFile).
    page = source.copy()
    if mode == "I;16B":
        # Pillow writes 16-bit TIFF little-endian and its convert() clips I;16B, so
        # swap the bytes ourselves: the values stay exactly the same.
        raw = page.tobytes()
        swapped = bytearray(len(raw))
        swapped[0::2] = raw[1::2]
        swapped[1::2] = raw[0::2]
        page = Image.frombytes("I;16", page.size, bytes(swapped))
    icc = source.info.get("icc_profile")
    page.info = {"icc_profile": icc} if isinstance(icc, bytes) and icc else {}
    return page


def _write_page(
    page: Image.Image, writer: TiffImagePlugin.AppendingTiffWriter
) -> tuple[str, tuple[int, int], bytes]:
    """Append ``page`` to ``writer``; what the read-back must find. The page is freed on
    return, before the next one is decoded (only one page is held at a time)."""
    written = (page.mode, page.size, _page_digest(page))
    page.save(writer, format="TIFF", compression=_COMPRESSION)
    writer.newFrame()
    return written


# Rows hashed at a time: ``tobytes()`` of a whole page would hold it twice more.
_DIGEST_BAND_BYTES = 1024 * 1024


def _page_digest(page: Image.Image) -> bytes:
    """SHA-256 of the page's raw pixel rows (and palette), hashed a band of rows at a time."""
    digest = hashlib.sha256()
    width, height = page.size
    band = max(1, _DIGEST_BAND_BYTES // max(1, width * 4))
    for top in range(0, height, band):
        digest.update(page.crop((0, top, width, min(height, top + band))).tobytes())
    if page.mode in ("P", "PA"):
        digest.update(bytes(page.getpalette() or []))
    return digest.digest()


def _verify(cleaned: bytes, expected: list[tuple[str, tuple[int, int], bytes]]) -> None:
    """Read the output back: same pages, same pixels, no unexpected tag."""
    result = Image.open(io.BytesIO(cleaned), formats=["TIFF"])
    if not isinstance(result, TiffImagePlugin.TiffImageFile) or result.n_frames != len(expected):
        raise MediaUnsupported("tiff that does not survive re-encoding unchanged")
    for index, (mode, size, digest) in enumerate(expected):
        result.seek(index)
        unexpected = set(getattr(result, "tag_v2", {})) - _WRITTEN_TAGS
        if unexpected:
            raise MediaUnsupported("tiff that does not survive re-encoding unchanged")
        if (result.mode, result.size) != (mode, size) or _page_digest(result) != digest:
            raise MediaUnsupported("tiff that does not survive re-encoding unchanged")
