"""Attachment metadata stripping: real files in, canaries out, pixels unchanged."""

from __future__ import annotations

import hashlib
import io
import struct
import tempfile
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image, TiffImagePlugin

from reprisal_report import sanitize
from reprisal_report.errors import (
    AttachmentMalformed,
    AttachmentRefused,
    AttachmentTooLarge,
    ExitCode,
)
from reprisal_report.sanitize import describe_kind, prepare_attachment
from reprisal_report.sanitize.png import KEPT_CHUNKS as PNG_KEPT
from reprisal_report.sanitize.webp import KEPT_CHUNKS as WEBP_KEPT
from tests.unit.test_sanitize_samples import (
    CANARIES,
    GPS_LATITUDE,
    expanded_pdf,
    jpeg_for_pdf,
    jpeg_with_metadata,
    leaked,
    pdf_with_metadata,
    png_with_metadata,
    srgb_profile,
    tiff_by_hand,
    tiff_tags,
    tiff_with_metadata,
    webp_with_metadata,
)

pytestmark = pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")


def prepare(path: Path, *, keep_metadata: bool = False) -> tuple[bytes, str, str | None]:
    with prepare_attachment(path, keep_metadata=keep_metadata) as prepared:
        return prepared.stream.read(), prepared.metadata, prepared.original_sha256


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def decoded(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(data))
    return image.mode, image.size, image.tobytes()


def jpeg_segments(data: bytes) -> list[int]:
    """Markers of the segments before the first scan (where metadata lives)."""
    markers = []
    pos = 2
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        marker = data[pos + 1]
        markers.append(marker)
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def webp_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 12
    while pos < len(data):
        length = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append(data[pos : pos + 4])
        pos += 8 + length + (length & 1)
    return chunks


# --- JPEG -------------------------------------------------------------------------------


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_jpeg_loses_all_metadata_and_keeps_every_pixel(tmp_path: Path, progressive: bool) -> None:
    original = jpeg_with_metadata(progressive=progressive)
    # The extension lies: the kind comes from the magic bytes.
    path = write(tmp_path, "evidence.dat", original)
    cleaned, metadata, original_sha = prepare(path)

    assert metadata == "stripped:jpeg"
    assert original_sha == hashlib.sha256(original).hexdigest()
    assert leaked(cleaned) == []
    assert b"Exif\x00\x00" not in cleaned and b"http://ns.adobe.com/xap/" not in cleaned
    assert b"THUMBNAILPIX" not in cleaned
    image = Image.open(io.BytesIO(cleaned))
    assert dict(image.getexif()) == {}
    assert "comment" not in image.info and "xmp" not in image.info
    assert image.info["icc_profile"] == srgb_profile()  # kept on purpose
    assert decoded(cleaned) == decoded(original)  # lossless: the scan bytes are copied
    assert set(jpeg_segments(cleaned)) <= {0xE0, 0xE2, 0xEE, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD}
    assert cleaned.endswith(b"\xff\xd9")


def test_jpeg_gps_bytes_are_gone(tmp_path: Path) -> None:
    original = jpeg_with_metadata()
    # The GPS latitude seconds as an EXIF rational (56789/1000), big or little endian.
    exif = Image.open(io.BytesIO(original)).getexif()
    assert exif.get_ifd(0x8825)[2] == GPS_LATITUDE
    cleaned, _, _ = prepare(write(tmp_path, "p.jpg", original))
    assert b"GPS" not in cleaned
    for order in (">", "<"):
        assert struct.pack(order + "II", 56789, 1000) not in cleaned


def test_jpeg_jfif_header_kept_without_thumbnail_or_dpi(tmp_path: Path) -> None:
    cleaned, _, _ = prepare(write(tmp_path, "p.jpg", jpeg_with_metadata()))
    assert cleaned[2:4] == b"\xff\xe0"
    length = struct.unpack(">H", cleaned[4:6])[0]
    # "JFIF\0", version 1.2, units 0 (aspect ratio only), 1:1, no thumbnail.
    assert cleaned[6 : 4 + length] == b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"


def test_jpeg_without_any_metadata_is_byte_identical(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("L", (16, 16), 99).save(buf, "JPEG")
    plain = buf.getvalue()
    cleaned, metadata, _ = prepare(write(tmp_path, "p.jpg", plain))
    assert metadata == "stripped:jpeg"
    # Pillow's JFIF header already says 1:1 with no thumbnail, so nothing changes.
    assert cleaned == plain


def test_cmyk_jpeg_keeps_the_adobe_segment_it_needs_to_decode(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("CMYK", (24, 16), (10, 80, 160, 5)).save(buf, "JPEG", comment="CANARY-X")
    original = buf.getvalue()
    cleaned, _, _ = prepare(write(tmp_path, "c.jpg", original))
    assert b"CANARY-X" not in cleaned and b"Adobe" in cleaned
    assert decoded(cleaned) == decoded(original)


# --- PNG --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_png_keeps_only_image_and_colour_chunks(tmp_path: Path, mode: str) -> None:
    original = png_with_metadata(mode)
    cleaned, metadata, original_sha = prepare(write(tmp_path, "p.png", original))
    assert metadata == "stripped:png"
    assert original_sha == hashlib.sha256(original).hexdigest()
    assert leaked(cleaned) == []
    chunks = png_chunks(cleaned)
    assert set(chunks) <= PNG_KEPT
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"pHYs", b"prVt"}.isdisjoint(chunks)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    image = Image.open(io.BytesIO(cleaned))
    image.load()  # every kept chunk still carries a valid CRC
    assert dict(image.getexif()) == {}
    assert set(image.info) <= {"icc_profile", "transparency", "gamma"}
    assert decoded(cleaned) == decoded(original)


def test_png_with_a_bad_crc_is_malformed(tmp_path: Path) -> None:
    data = bytearray(png_with_metadata())
    data[40] ^= 0x01  # inside the first chunks after IHDR
    with pytest.raises(AttachmentMalformed) as caught:
        prepare(write(tmp_path, "bad.png", bytes(data)))
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert "bad.png" in caught.value.message


# --- WebP -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lossless", "animated"), [(True, False), (False, False), (True, True)],
    ids=["lossless", "lossy", "animated"],
)  # fmt: skip
def test_webp_drops_exif_and_xmp_and_fixes_the_container(
    tmp_path: Path, lossless: bool, animated: bool
) -> None:
    original = webp_with_metadata(lossless=lossless, animated=animated)
    assert b"EXIF" in original and b"XMP " in original
    cleaned, metadata, _ = prepare(write(tmp_path, "p.webp", original))
    assert metadata == "stripped:webp"
    assert leaked(cleaned) == []
    chunks = webp_chunks(cleaned)
    assert set(chunks) <= WEBP_KEPT and b"EXIF" not in chunks and b"XMP " not in chunks
    assert struct.unpack("<I", cleaned[4:8])[0] == len(cleaned) - 8
    flags = cleaned[20]
    assert flags & 0x08 == 0 and flags & 0x04 == 0 and flags & 0x20  # ICC flag kept
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(cleaned))
    assert dict(after.getexif()) == {} and "xmp" not in after.info
    assert after.info["icc_profile"] == before.info["icc_profile"]
    assert getattr(after, "n_frames", 1) == getattr(before, "n_frames", 1)
    for frame in range(getattr(before, "n_frames", 1)):
        before.seek(frame)
        after.seek(frame)
        assert after.convert("RGBA").tobytes() == before.convert("RGBA").tobytes()


def test_truncated_webp_is_malformed(tmp_path: Path) -> None:
    data = webp_with_metadata()
    with pytest.raises(AttachmentMalformed):
        prepare(write(tmp_path, "cut.webp", data[: len(data) // 2]))


# --- TIFF -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "P", "I;16", "CMYK", "RGBA"])
def test_tiff_resaved_without_tags_and_with_the_same_pixels(tmp_path: Path, mode: str) -> None:
    original = tiff_with_metadata(mode)
    cleaned, metadata, original_sha = prepare(write(tmp_path, "scan.tif", original))
    assert metadata == "stripped:tiff"
    assert original_sha == hashlib.sha256(original).hexdigest()
    assert leaked(cleaned) == []
    image = Image.open(io.BytesIO(cleaned))
    assert isinstance(image, TiffImagePlugin.TiffImageFile)  # narrows for tag_v2
    exif = image.getexif()
    assert exif.get_ifd(0x8825) == {} and exif.get_ifd(0x8769) == {}
    for tag in (270, 271, 272, 305, 306, 315, 316, 700, 33432, 33723, 34377, 34853):
        assert tag not in image.tag_v2, tag
    assert decoded(cleaned) == decoded(original)
    if mode in ("RGB", "RGBA"):
        assert image.info["icc_profile"] == srgb_profile()


def test_multi_page_tiff_keeps_every_page(tmp_path: Path) -> None:
    original = tiff_with_metadata("RGB", pages=3)
    cleaned, _, _ = prepare(write(tmp_path, "pages.tif", original))
    assert leaked(cleaned) == []
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(cleaned))
    assert isinstance(after, TiffImagePlugin.TiffImageFile)  # narrows for tag_v2
    assert getattr(after, "n_frames", 1) == 3
    for page in range(3):
        before.seek(page)
        after.seek(page)
        assert (after.size, after.tobytes()) == (before.size, before.tobytes())
        assert 315 not in after.tag_v2


def test_big_endian_16_bit_tiff_keeps_its_values(tmp_path: Path) -> None:
    image = Image.new("I;16B", (5, 3))
    for x in range(5):
        image.putpixel((x, 1), 0x1234 * (x + 1))
    buf = io.BytesIO()
    image.save(buf, "TIFF", tiffinfo=tiff_tags())
    cleaned, _, _ = prepare(write(tmp_path, "deep.tif", buf.getvalue()))
    result = Image.open(io.BytesIO(cleaned))
    assert [result.getpixel((x, 1)) for x in range(5)] == [0x1234 * (x + 1) for x in range(5)]


BASE_RGB16 = [(256, 3, [1]), (257, 3, [1]), (259, 3, [1]), (262, 3, [2]), (277, 3, [3])]


@pytest.mark.parametrize(
    ("tags", "pixels", "variant"),
    [
        ([*BASE_RGB16, (258, 3, [16, 16, 16]), (278, 3, [1])], b"\x00\x01" * 3, "deeper"),
        (
            [(256, 3, [1]), (257, 3, [1]), (258, 3, [8]), (259, 3, [1]), (262, 3, [1]),
             (277, 3, [1]), (278, 3, [1]), (50706, 1 + 2, [1])],
            b"\x00",
            "camera raw",
        ),
        (
            [(254, 4, [1]), (256, 3, [1]), (257, 3, [1]), (258, 3, [8]), (259, 3, [1]),
             (262, 3, [1]), (277, 3, [1]), (278, 3, [1])],
            b"\x00",
            "preview",
        ),
    ],
    ids=["16-bit-rgb", "dng", "reduced-resolution"],
)  # fmt: skip
def test_tiffs_that_cannot_be_resaved_whole_are_refused(
    tmp_path: Path, tags: list[tuple[int, int, list[int]]], pixels: bytes, variant: str
) -> None:
    path = write(tmp_path, "odd.tif", tiff_by_hand(tags, pixels))
    with pytest.raises(AttachmentRefused) as caught:
        prepare(path)
    assert caught.value.exit_code == ExitCode.REFUSED
    assert variant in caught.value.message and "odd.tif" in caught.value.message
    data, metadata, original_sha = prepare(path, keep_metadata=True)
    assert (data, metadata, original_sha) == (path.read_bytes(), "kept", None)


def test_truncated_tiff_is_malformed(tmp_path: Path) -> None:
    data = tiff_with_metadata()
    with pytest.raises(AttachmentMalformed):
        prepare(write(tmp_path, "cut.tif", data[:200]))


# --- PDF --------------------------------------------------------------------------------


def test_pdf_loses_info_xmp_and_object_metadata(tmp_path: Path) -> None:
    original = pdf_with_metadata(pages=3)
    with pikepdf.open(io.BytesIO(original)) as pdf:
        original_id = bytes(pdf.trailer.ID[0])
    cleaned, metadata, original_sha = prepare(write(tmp_path, "report.pdf", original))
    assert metadata == "stripped:pdf"
    assert original_sha == hashlib.sha256(original).hexdigest()
    assert leaked(cleaned) == []
    assert leaked(expanded_pdf(cleaned)) == []  # nothing hides in a compressed stream
    with pikepdf.open(io.BytesIO(cleaned)) as pdf:
        assert len(pdf.pages) == 3
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        assert dict(pdf.docinfo) == {}
        first = pdf.pages[0].obj
        assert "/Metadata" not in first and "/PieceInfo" not in first
        annotation = first.Annots[0]
        assert "/T" not in annotation and "/M" not in annotation
        assert str(annotation.Contents) == "note"  # content is not metadata
        new_id = bytes(pdf.trailer.ID[0])
        assert len(new_id) == 16 and new_id != original_id
        jpeg = first.Resources.XObject.Im0.read_raw_bytes()
    assert CANARIES["make"].encode() not in jpeg and b"Exif" not in jpeg
    assert decoded(jpeg) == decoded(jpeg_for_pdf())  # the embedded photo, pixel for pixel


def test_pdf_ids_differ_between_two_cleanings(tmp_path: Path) -> None:
    path = write(tmp_path, "r.pdf", pdf_with_metadata(pages=1))
    ids = []
    for _ in range(2):
        cleaned, _, _ = prepare(path)
        with pikepdf.open(io.BytesIO(cleaned)) as pdf:
            ids.append(bytes(pdf.trailer.ID[0]))
    assert ids[0] != ids[1]


def _signed_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.AcroForm = pikepdf.Dictionary(
        Fields=pikepdf.Array(
            [
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        FT=pikepdf.Name.Sig,
                        V=pikepdf.Dictionary(
                            Type=pikepdf.Name.Sig,
                            ByteRange=pikepdf.Array([0, 1, 2, 3]),
                            Contents=pikepdf.String(b"\x00" * 8),
                        ),
                    )
                )
            ]
        ),
        SigFlags=3,
    )
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _pdf_with_attachment() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.attachments["photo.jpg"] = pikepdf.AttachedFileSpec(pdf, jpeg_with_metadata())
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf, encryption=pikepdf.Encryption(user="open sesame", owner="owner"))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("build", "variant"),
    [
        (_signed_pdf, "signed pdf"),
        (_pdf_with_attachment, "pdf with embedded files"),
        (_encrypted_pdf, "password-protected pdf"),
    ],
    ids=["signed", "attachment", "encrypted"],
)
def test_pdfs_that_cannot_be_cleaned_whole_are_refused(
    tmp_path: Path, build: Any, variant: str
) -> None:
    path = write(tmp_path, "doc.pdf", build())
    with pytest.raises(AttachmentRefused) as caught:
        prepare(path)
    assert caught.value.message == f"doc.pdf is a {variant}; this tool cannot strip its metadata"
    assert prepare(path, keep_metadata=True)[1] == "kept"


def test_broken_pdf_is_malformed(tmp_path: Path) -> None:
    with pytest.raises(AttachmentMalformed) as caught:
        prepare(write(tmp_path, "broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 20))
    assert caught.value.message.startswith("broken.pdf is a damaged pdf file: ")


# --- other kinds, keep_metadata, size cap -----------------------------------------------


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (b"Statement of the witness\n", "file of an unrecognised kind"),
        (b"PK\x03\x04" + b"\x00" * 40, "zip archive (office documents are zip archives)"),
        (b"GIF89a" + b"\x00" * 20, "gif image"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, "heif/avif image"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20, "mp4/quicktime media"),
    ],
    ids=["text", "zip", "gif", "heic", "mp4"],
)
def test_other_kinds_are_refused_unless_kept(tmp_path: Path, data: bytes, label: str) -> None:
    # A name that claims a strippable kind changes nothing.
    path = write(tmp_path, "looks-like.jpg", data)
    with pytest.raises(AttachmentRefused) as caught:
        prepare(path)
    error = caught.value
    assert error.exit_code == ExitCode.REFUSED
    assert int(error.exit_code) == 4
    assert error.message == f"looks-like.jpg is a {label}; this tool cannot strip its metadata"
    assert error.hint == (
        "it can only be stored as it is, with any names, places, device serials or "
        "timestamps it carries"
    )
    assert describe_kind(path) == label
    assert prepare(path, keep_metadata=True) == (data, "kept", None)


def test_keep_metadata_still_strips_what_it_can(tmp_path: Path) -> None:
    cleaned, metadata, _ = prepare(
        write(tmp_path, "p.jpg", jpeg_with_metadata()), keep_metadata=True
    )
    assert metadata == "stripped:jpeg" and leaked(cleaned) == []


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AttachmentRefused):
        prepare(write(tmp_path, "empty", b""))
    assert prepare(tmp_path / "empty", keep_metadata=True) == (b"", "kept", None)


def test_media_above_the_cap_is_refused_unless_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg_with_metadata()
    monkeypatch.setattr(sanitize, "MAX_STRIP_BYTES", len(data) - 1)
    path = write(tmp_path, "big.jpg", data)
    with pytest.raises(AttachmentTooLarge) as caught:
        prepare(path)
    assert caught.value.exit_code == ExitCode.REFUSED
    assert caught.value.message.startswith("big.jpg is a jpeg image larger than ")
    assert prepare(path, keep_metadata=True) == (data, "kept", None)


# --- malformed input: one line, the file's name, nothing from inside it -----------------


def _truncated_jpeg() -> bytes:
    data = jpeg_with_metadata()
    return data[: data.index(b"\xff\xd9") - 100]


def _jpeg_cut_in_header() -> bytes:
    return jpeg_with_metadata()[:300]


def _png_without_iend() -> bytes:
    data = png_with_metadata()
    return data[: data.rindex(b"IEND") - 4]


def _pdf_cut_in_half() -> bytes:
    data = pdf_with_metadata()
    return data[:12]


@pytest.mark.parametrize(
    "build",
    [_truncated_jpeg, _jpeg_cut_in_header, _png_without_iend, _pdf_cut_in_half],
    ids=["jpeg-scan", "jpeg-header", "png-no-iend", "pdf-stub"],
)
def test_malformed_media_gives_one_clean_line(tmp_path: Path, build: Any) -> None:
    path = write(tmp_path, "damaged", build())
    for keep in (False, True):
        with pytest.raises(AttachmentMalformed) as caught:
            prepare(path, keep_metadata=keep)
        error = caught.value
        assert error.exit_code == ExitCode.INVALID_INPUT
        assert int(error.exit_code) == 2
        assert error.message.startswith("damaged is a damaged ")
        assert "\n" not in error.message and leaked(error.message.encode()) == []
        assert error.__cause__ is None and error.__suppress_context__


def test_nothing_is_written_to_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plaintext must not touch the disk outside the vault, not even briefly."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("sanitize created a temporary file")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, forbidden)
    inputs = tmp_path / "in"
    inputs.mkdir()
    samples = {
        "a.jpg": jpeg_with_metadata(),
        "b.png": png_with_metadata(),
        "c.webp": webp_with_metadata(),
        "d.tif": tiff_with_metadata(pages=2),
        "e.pdf": pdf_with_metadata(),
    }
    for name, data in samples.items():
        assert prepare(write(inputs, name, data))[1].startswith("stripped:")
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in inputs.iterdir()) == sorted(samples)
