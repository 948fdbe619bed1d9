"""Recognise a file's kind from its first bytes, never from its name.

Only the five strippable kinds drive behaviour; the other signatures exist so that a
refusal can tell the user what the file looked like ("a zip archive (office documents
are zip archives)") rather than just "unknown".
"""

from __future__ import annotations

from enum import Enum

# Enough for every signature below (the longest looks at offset 8 + 4).
HEAD_BYTES = 16


class MediaKind(Enum):
    """Kinds whose metadata ``sanitize`` strips; the value is the recorded name."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    TIFF = "tiff"
    PDF = "pdf"


LABELS: dict[MediaKind, str] = {
    MediaKind.JPEG: "jpeg image",
    MediaKind.PNG: "png image",
    MediaKind.WEBP: "webp image",
    MediaKind.TIFF: "tiff image",
    MediaKind.PDF: "pdf document",
}

# Recognised but not strippable: (prefix, label). Order matters only where one prefix
# is a prefix of another, which none here is.
_OTHER_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "gif image"),
    (b"GIF89a", "gif image"),
    (b"BM", "bmp image"),
    (b"8BPS", "photoshop document"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg 2000 image"),
    (b"\xff\x4f\xff\x51", "jpeg 2000 codestream"),
    (b"\xff\x0a", "jpeg xl image"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jpeg xl image"),
    (b"PK\x03\x04", "zip archive (office documents are zip archives)"),
    (b"PK\x05\x06", "zip archive (office documents are zip archives)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2 compound file (legacy office document)"),
    (b"{\\rtf", "rtf document"),
    (b"ID3", "mp3 audio"),
    (b"OggS", "ogg media"),
    (b"fLaC", "flac audio"),
    (b"\x1a\x45\xdf\xa3", "matroska/webm video"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-zip archive"),
    (b"Rar!\x1a\x07", "rar archive"),
)

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}


def detect(head: bytes) -> MediaKind | None:
    """The strippable kind announced by ``head`` (the file's first bytes), if any."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.PNG
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return MediaKind.WEBP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return MediaKind.TIFF
    if head.startswith(b"%PDF-"):
        return MediaKind.PDF
    return None


def describe_head(head: bytes) -> str:
    """A short human label for the kind announced by ``head``, strippable or not."""
    kind = detect(head)
    if kind is not None:
        if kind is MediaKind.TIFF and head[8:10] == b"CR":
            # Canon CR2 is a TIFF container around a raw sensor dump.
            return "camera raw image (tiff-based)"
        return LABELS[kind]
    if head.startswith((b"II+\x00", b"MM\x00+")):
        return "bigtiff image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heif/avif image"
        return "mp4/quicktime media"
    if head.startswith(b"RIFF"):
        form = head[8:12]
        if form == b"WAVE":
            return "wav audio"
        if form == b"AVI ":
            return "avi video"
        return "riff file"
    for prefix, label in _OTHER_PREFIXES:
        if head.startswith(prefix):
            return label
    return "file of an unrecognised kind"
