"""Real media files carrying canary metadata, built in memory for the sanitize tests.

No binary fixtures: every file is made here with Pillow, pikepdf or a few struct
calls, so what each sample contains is visible in the code. The tests at the bottom
check the samples themselves (a stripping test is worthless if the canaries were
never in the input).
"""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
import pytest
from PIL import Image, ImageCms, TiffImagePlugin
from PIL.PngImagePlugin import PngInfo

# Every canary is unique, so a hit in the output names the leak.
GPS_REF = "N"
CANARIES = {
    "make": "CANARY-MAKE-Fieldcam",
    "model": "CANARY-MODEL-X100",
    "serial": "CANARY-SERIAL-0042133",
    "artist": "CANARY-ARTIST-Amina Yusuf",
    "xmp": "CANARY-XMP-creator-Joseph",
    "comment": "CANARY-COM-taken at the checkpoint",
    "iptc": "CANARY-IPTC-byline",
    "app12": "CANARY-APP12-ducky",
    "c2pa": "CANARY-C2PA-claim",
    "mpf": "CANARY-MPF-secondary",
    "trailer": "CANARY-TRAILER-after-eoi",
    "text": "CANARY-TEXT-author",
    "ztxt": "CANARY-ZTXT-comment",
    "itxt": "CANARY-ITXT-description",
    "private": "CANARY-PRIVATE-chunk",
    "description": "CANARY-DESCRIPTION-of-scene",
    "copyright": "CANARY-COPYRIGHT-holder",
    "software": "CANARY-SOFTWARE-1.2",
    "host": "CANARY-HOST-laptop-of-amina",
    "title": "CANARY-TITLE-report",
    "author": "CANARY-AUTHOR-Joseph Okafor",
    "creator": "CANARY-CREATOR-Word",
    "producer": "CANARY-PRODUCER-Distiller",
    "page_xmp": "CANARY-PAGEXMP-stream",
    "piece": "CANARY-PIECEINFO-private",
    "annot_author": "CANARY-ANNOTAUTHOR-reviewer",
}
# GPS rationals chosen to be recognisable as bytes: 0x0BADBEEF seconds, etc.
GPS_LATITUDE = (12.0, 34.0, 56.789)
GPS_LONGITUDE = (98.0, 7.0, 6.543)


def canary_bytes() -> list[bytes]:
    return [c.encode() for c in CANARIES.values()]


def leaked(data: bytes) -> list[str]:
    """The canaries present in ``data``, as text or as UTF-16 (XMP can be either)."""
    return [
        c
        for c in CANARIES.values()
        if c.encode() in data or c.encode("utf-16-be") in data or c.encode("utf-16-le") in data
    ]


def picture(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A non-trivial picture (gradients and noise) so that pixel checks mean something."""
    width, height = size
    rgb = Image.new("RGB", size)
    rgb.putdata(
        [
            ((x * 7 + y * 3) % 256, (x * y) % 256, (x * 31 + y * 17 + (x ^ y)) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return rgb if mode == "RGB" else rgb.convert(mode)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def full_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CANARIES["make"]
    exif[0x0110] = CANARIES["model"]
    exif[0x013B] = CANARIES["artist"]
    exif[0x0131] = CANARIES["software"]
    exif[0x0112] = 6  # orientation: rotated, the caveat docs/attachments.md describes
    exif.get_ifd(0x8769)[0xA431] = CANARIES["serial"]  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = GPS_REF
    gps[2] = GPS_LATITUDE
    gps[3] = "E"
    gps[4] = GPS_LONGITUDE
    return exif


def xmp_packet() -> bytes:
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<dc:creator>" + CANARIES["xmp"].encode() + b"</dc:creator>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
    )


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_metadata(*, progressive: bool = False) -> bytes:
    """A JPEG holding every kind of metadata segment the stripper must drop."""
    buf = io.BytesIO()
    picture().save(
        buf,
        "JPEG",
        quality=90,
        exif=full_exif(),
        xmp=xmp_packet(),
        comment=CANARIES["comment"],
        icc_profile=srgb_profile(),
        progressive=progressive,
    )
    data = buf.getvalue()
    # A JFIF header with a 4x1 thumbnail whose pixels spell a canary-ish pattern.
    thumb = b"THUMBNAILPIX"  # 4 * 1 * 3 bytes
    jfif = b"JFIF\x00\x01\x02\x01\x01\x2c\x01\x2c\x04\x01" + thumb
    extra = b"".join(
        [
            _jpeg_segment(0xE0, jfif),
            _jpeg_segment(0xE0, b"JFXX\x00\x13" + CANARIES["private"].encode()),
            _jpeg_segment(0xED, b"Photoshop 3.0\x00" + CANARIES["iptc"].encode()),
            _jpeg_segment(0xEC, b"Ducky\x00" + CANARIES["app12"].encode()),
            _jpeg_segment(0xEB, b"JP\x00\x00" + CANARIES["c2pa"].encode()),
            _jpeg_segment(0xE2, b"MPF\x00" + CANARIES["mpf"].encode()),
        ]
    )
    # Drop Pillow's own JFIF APP0 so ours (with a thumbnail) is the only one.
    if data[2:4] == b"\xff\xe0":
        length = struct.unpack(">H", data[4:6])[0]
        data = data[:2] + data[4 + length :]
    return data[:2] + extra + data[2:] + CANARIES["trailer"].encode()


def _png_chunk(chunk_type: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + payload)
    return struct.pack(">I", len(payload)) + chunk_type + payload + struct.pack(">I", crc)


def png_with_metadata(mode: str = "RGBA") -> bytes:
    info = PngInfo()
    info.add_text("Author", CANARIES["text"])
    info.add_text("Comment", CANARIES["ztxt"], zip=True)
    info.add_itxt("Description", CANARIES["itxt"], lang="en", tkey="Description")
    info.add(b"prVt", CANARIES["private"].encode())
    info.add(b"tIME", b"\x07\xe8\x01\x02\x03\x04\x05")
    info.add_text("Software", CANARIES["software"], zip=False)
    buf = io.BytesIO()
    picture(mode).save(
        buf, "PNG", pnginfo=info, exif=full_exif(), icc_profile=srgb_profile(), dpi=(300, 300)
    )
    data = buf.getvalue()
    # A text chunk after the image data too (allowed, and easy to miss).
    iend = data.rindex(b"IEND") - 4
    late = _png_chunk(b"tEXt", b"Title\x00" + CANARIES["title"].encode())
    return data[:iend] + late + data[iend:] + CANARIES["trailer"].encode()


def webp_with_metadata(*, lossless: bool = True, animated: bool = False) -> bytes:
    buf = io.BytesIO()
    frames = [picture("RGBA"), picture("RGBA").transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    options: dict[str, object] = {
        "exif": full_exif().tobytes(),
        "xmp": xmp_packet(),
        "icc_profile": srgb_profile(),
        "lossless": lossless,
        "quality": 90,
    }
    if animated:
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], **options)
    else:
        frames[0].save(buf, "WEBP", **options)
    return buf.getvalue()


def tiff_tags() -> TiffImagePlugin.ImageFileDirectory_v2:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[270] = CANARIES["description"]
    ifd[271] = CANARIES["make"]
    ifd[272] = CANARIES["model"]
    ifd[305] = CANARIES["software"]
    ifd[306] = "2024:05:06 07:08:09"
    ifd[315] = CANARIES["artist"]
    ifd[316] = CANARIES["host"]
    ifd[33432] = CANARIES["copyright"]
    ifd[700] = xmp_packet()
    ifd[34853] = {1: GPS_REF, 2: GPS_LATITUDE, 3: "E", 4: GPS_LONGITUDE}
    return ifd


def tiff_with_metadata(mode: str = "RGB", pages: int = 1) -> bytes:
    """Uncompressed, so that the canaries sit in the file as plain bytes."""
    images = [picture(mode)]
    images += [picture(mode).rotate(90 * i, expand=True) for i in range(1, pages)]
    buf = io.BytesIO()
    images[0].save(
        buf,
        "TIFF",
        tiffinfo=tiff_tags(),
        icc_profile=srgb_profile() if mode in ("RGB", "RGBA") else None,
        save_all=pages > 1,
        append_images=images[1:],
    )
    return buf.getvalue()


def tiff_by_hand(tags: list[tuple[int, int, list[int]]], pixels: bytes) -> bytes:
    """A little-endian TIFF with exactly ``tags`` (tag, type, values) and one strip.

    For variants Pillow will not write (16-bit RGB, DNG markers). Types: 3 SHORT, 4 LONG.
    """
    header = b"II*\x00" + struct.pack("<I", 8)
    entries = sorted([*tags, (273, 4, [0]), (279, 4, [len(pixels)])])
    ifd_size = 2 + 12 * len(entries) + 4
    extra = bytearray()
    data_start = 8 + ifd_size
    body = bytearray()
    strip_offset_fix: int | None = None
    for tag, kind, values in entries:
        fmt = "<H" if kind == 3 else "<I"
        raw = b"".join(struct.pack(fmt, v) for v in values)
        body += struct.pack("<HHI", tag, kind, len(values))
        if tag == 273:
            strip_offset_fix = len(body)
            body += b"\x00\x00\x00\x00"
        elif len(raw) <= 4:
            body += raw.ljust(4, b"\x00")
        else:
            body += struct.pack("<I", data_start + len(extra))
            extra += raw
    ifd = struct.pack("<H", len(entries)) + bytes(body) + b"\x00\x00\x00\x00"
    pixel_offset = data_start + len(extra)
    if strip_offset_fix is None:
        raise ValueError("no strip offset entry")
    ifd_bytes = bytearray(ifd)
    position = 2 + strip_offset_fix
    ifd_bytes[position : position + 4] = struct.pack("<I", pixel_offset)
    return header + bytes(ifd_bytes) + bytes(extra) + pixels


def jpeg_for_pdf() -> bytes:
    buf = io.BytesIO()
    picture(size=(32, 24)).save(buf, "JPEG", exif=full_exif(), comment=CANARIES["comment"])
    return buf.getvalue()


def pdf_with_metadata(pages: int = 3) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(200, 200))
    pdf.docinfo["/Title"] = CANARIES["title"]
    pdf.docinfo["/Author"] = CANARIES["author"]
    pdf.docinfo["/Creator"] = CANARIES["creator"]
    pdf.docinfo["/Producer"] = CANARIES["producer"]
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:creator"] = [CANARIES["xmp"]]
    first = pdf.pages[0].obj
    page_xmp = pdf.make_stream(CANARIES["page_xmp"].encode())
    page_xmp.Type = pikepdf.Name.Metadata
    page_xmp.Subtype = pikepdf.Name.XML
    first.Metadata = page_xmp
    first.PieceInfo = pikepdf.Dictionary(
        Illustrator=pikepdf.Dictionary(Private=pikepdf.String(CANARIES["piece"]))
    )
    first.Annots = pdf.make_indirect(
        pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Text,
                    Rect=pikepdf.Array([10, 10, 30, 30]),
                    Contents=pikepdf.String("note"),
                    T=pikepdf.String(CANARIES["annot_author"]),
                    M=pikepdf.String("D:20240506070809Z"),
                )
            ]
        )
    )
    jpeg = jpeg_for_pdf()
    image = pdf.make_stream(
        jpeg,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=32,
        Height=24,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.DCTDecode,
    )
    first.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    first.Contents = pdf.make_stream(b"q 32 0 0 24 10 10 cm /Im0 Do Q")
    buf = io.BytesIO()
    # Uncompressed and without object streams, so the canaries are plain bytes.
    pdf.save(buf, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return buf.getvalue()


def expanded_pdf(data: bytes) -> bytes:
    """``data`` re-saved by qpdf with every stream decoded: a byte search then sees all."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        out = io.BytesIO()
        pdf.save(
            out,
            qdf=True,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.generalized,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
        )
        return out.getvalue()


# --- the samples really carry what the tests look for ----------------------------------


@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")
def test_jpeg_sample_carries_every_canary_it_claims() -> None:
    data = jpeg_with_metadata()
    for key in ("make", "model", "serial", "artist", "xmp", "comment", "iptc", "trailer"):
        assert CANARIES[key].encode() in data, key
    exif = Image.open(io.BytesIO(data)).getexif()
    assert exif[0x010F] == CANARIES["make"]
    assert exif.get_ifd(0x8825)[2] == GPS_LATITUDE


def test_png_webp_tiff_pdf_samples_carry_canaries() -> None:
    png = png_with_metadata()
    assert {"text", "itxt", "make", "private", "title"} <= {
        k for k, v in CANARIES.items() if v.encode() in png
    }
    webp = webp_with_metadata()
    assert CANARIES["make"].encode() in webp and CANARIES["xmp"].encode() in webp
    tiff = tiff_with_metadata()
    assert CANARIES["artist"].encode() in tiff and CANARIES["xmp"].encode() in tiff
    assert Image.open(io.BytesIO(tiff)).getexif().get_ifd(0x8825)[2] == GPS_LATITUDE
    pdf = pdf_with_metadata()
    for key in ("title", "author", "creator", "xmp", "page_xmp", "piece", "annot_author", "make"):
        assert CANARIES[key].encode() in pdf, key


def test_hand_made_tiff_opens() -> None:
    data = tiff_by_hand(
        [(256, 3, [2]), (257, 3, [1]), (258, 3, [8]), (259, 3, [1]), (262, 3, [1]),
         (277, 3, [1]), (278, 3, [1])],
        b"\x10\x20",
    )  # fmt: skip
    image = Image.open(io.BytesIO(data))
    assert image.mode == "L" and image.tobytes() == b"\x10\x20"
