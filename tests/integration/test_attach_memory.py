"""Peak memory of ``case attach`` for every image kind (issue 8: at most 300 MiB).

Each attach runs the real CLI in a subprocess whose peak RSS is read with
``getrusage(RUSAGE_CHILDREN)``: small files declaring enormous pictures (JPEG, PNG and
WebP are never decoded, so they are cleaned at no cost; a TIFF is refused before a
pixel is decoded), and the largest file of each kind that is still cleaned.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from reprisal_report.sanitize import MAX_IMAGE_BYTES, MAX_TIFF_BYTES
from tests.conftest import EXAMPLE_CASE, run_subprocess

ERR = "reprisal-report: error: "
LIMIT_KIB = 300 * 1024

_MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\\n")
sys.stdout.write(str(proc.returncode) + "\\n")
sys.stdout.write(proc.stderr.decode())
"""


def _new_case(env: dict[str, str]) -> str:
    assert run_subprocess(["init", "--role", "reporter"], env).returncode == 0
    made = run_subprocess(["case", "new", "--from", str(EXAMPLE_CASE)], env)
    assert made.returncode == 0, made.stderr
    return made.stdout.decode().strip()


def _attach_measured(env: dict[str, str], case_id: str, path: Path) -> tuple[int, int, list[str]]:
    """(peak RSS in KiB, exit code, stderr lines) of ``case attach CASE PATH``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    full_env.update(env)
    command = ["case", "attach", case_id, str(path)]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "reprisal_report", *command],
        env=full_env,
        capture_output=True,
        timeout=300,
        check=True,
    )
    rss_kib, code, *stderr = measured.stdout.decode().splitlines()
    return int(rss_kib), int(code), stderr


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def _small_image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


# --- small files claiming enormous pictures ------------------------------------------------


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_small_image("JPEG"))
    sof = data.index(b"\xff\xc0")  # baseline frame: length(2) precision(1) height width
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _png_claiming(width: int, height: int) -> bytes:
    # 16-bit RGBA: 8 bytes a pixel, so about 32 EiB of pixels behind one small IDAT.
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([16, 6, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 65536, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _webp_claiming(width: int, height: int) -> bytes:
    simple = _small_image("WEBP")  # RIFF size WEBP VP8 ...
    flags = bytes([0x10, 0, 0, 0])  # alpha flag only
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    vp8x = b"VP8X" + (10).to_bytes(4, "little") + flags + canvas
    body = b"WEBP" + vp8x + simple[12:]
    return b"RIFF" + len(body).to_bytes(4, "little") + body


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("claims.jpg", _jpeg_claiming(65535, 65535)),
        ("claims.png", _png_claiming(2**31 - 1, 2**31 - 1)),
        ("claims.webp", _webp_claiming(2**24, 2**24)),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_a_small_image_claiming_a_huge_picture_is_cleaned_within_300_mib(
    subprocess_env: dict[str, str], tmp_path: Path, name: str, data: bytes
) -> None:
    """JPEG, PNG and WebP are cleaned segment by segment and never decoded: the size a
    header declares costs nothing, so such a file is cleaned, not refused."""
    assert len(data) < 2048
    case_id = _new_case(subprocess_env)
    path = tmp_path / name
    path.write_bytes(data)
    rss_kib, code, stderr = _attach_measured(subprocess_env, case_id, path)
    assert code == 0, stderr
    assert [line.split(" (")[0] for line in stderr] == [f"attached {name}"]
    assert rss_kib <= LIMIT_KIB


def test_a_small_tiff_claiming_a_huge_page_is_refused_by_pillows_own_limit_too(
    tmp_path: Path,
) -> None:
    """The per-page cap also stands as Pillow's decompression-bomb limit (an error here,
    not a warning): a page of more than 32 Mi pixels is refused even in mode 1."""
    from reprisal_report.sanitize.problems import MediaTooLarge
    from reprisal_report.sanitize.tiff import MAX_PAGE_BYTES, strip_tiff

    assert Image.MAX_IMAGE_PIXELS == MAX_PAGE_BYTES
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, "TIFF", compression="group4")
    data = bytearray(out.getvalue())
    tiff = Image.open(io.BytesIO(bytes(data)))
    assert tiff.size == (8, 8)
    # Rewrite the ImageWidth and ImageLength values in the first directory.
    first_ifd = int.from_bytes(data[4:8], "little")
    count = int.from_bytes(data[first_ifd : first_ifd + 2], "little")
    for i in range(count):
        entry = first_ifd + 2 + 12 * i
        tag = int.from_bytes(data[entry : entry + 2], "little")
        kind = int.from_bytes(data[entry + 2 : entry + 4], "little")
        if tag in (256, 257):
            width = 3 if kind == 3 else 4
            data[entry + 8 : entry + 8 + width] = (6000).to_bytes(width, "little")
    with pytest.raises(MediaTooLarge):
        strip_tiff(bytes(data))


# --- the largest files still cleaned -------------------------------------------------------


def _largest_jpeg(size: int) -> bytes:
    # Scan data is copied, never decoded: zero bytes make a scan of the full size.
    small = _small_image("JPEG")
    return small[:-2] + b"\x00" * (size - len(small)) + small[-2:]


def _largest_png(size: int) -> bytes:
    ihdr = (4096).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
    tail = _png_chunk(b"IEND", b"")
    return head + _png_chunk(b"IDAT", b"\x00" * (size - len(head) - len(tail) - 12)) + tail


def _largest_webp(size: int) -> bytes:
    payload = b"\x2f" + b"\x00" * (size - 20 - 1)
    body = b"WEBP" + b"VP8L" + len(payload).to_bytes(4, "little") + payload
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _largest_tiff(size: int) -> bytes:
    # Two uncompressed grey pages of 32 Mi pixels: the most tiff.py lets decode, with
    # pixels deflate cannot shrink, then padding up to the input cap.
    side = 5792
    pages = [Image.frombytes("L", (side, side), os.urandom(side * side)) for _ in range(2)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    data = out.getvalue()
    assert len(data) <= size
    return data + b"\x00" * (size - len(data))


@pytest.mark.parametrize(
    ("name", "make", "cap", "label"),
    [
        ("big.jpg", _largest_jpeg, MAX_IMAGE_BYTES, "jpeg image"),
        ("big.png", _largest_png, MAX_IMAGE_BYTES, "png image"),
        ("big.webp", _largest_webp, MAX_IMAGE_BYTES, "webp image"),
        ("big.tif", _largest_tiff, MAX_TIFF_BYTES, "tiff image"),
    ],
    ids=["jpeg", "png", "webp", "tiff"],
)
def test_the_largest_image_cleaned_stays_within_300_mib_and_one_byte_more_is_refused(
    subprocess_env: dict[str, str],
    tmp_path: Path,
    name: str,
    make: Callable[[int], bytes],
    cap: int,
    label: str,
) -> None:
    case_id = _new_case(subprocess_env)
    path = tmp_path / name
    path.write_bytes(make(cap))
    assert path.stat().st_size == cap
    rss_kib, code, stderr = _attach_measured(subprocess_env, case_id, path)
    assert code == 0, stderr
    assert [line.split(" (")[0] for line in stderr] == [f"attached {name}"]
    assert rss_kib <= LIMIT_KIB

    with path.open("ab") as handle:
        handle.write(b"\x00")
    rss_kib, code, stderr = _attach_measured(subprocess_env, case_id, path)
    assert code == 4
    assert stderr == [
        f"{ERR}{name} is a {label} larger than {cap // 2**20} MiB, the most this tool cleans",
        "hint: pass --keep-metadata to store it as it is; "
        "it may carry names, places, device serials or timestamps",
    ]
    assert rss_kib <= LIMIT_KIB
