"""vault.files: BackgroundWriter (every byte in order, its hash, the first error) and
ReadAheadFile (the file's bytes, whatever is asked ahead)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.vault.files import BackgroundWriter, ReadAheadFile


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=300), max_size=40),
    piece=st.integers(min_value=1, max_value=700),
    depth=st.integers(min_value=1, max_value=3),
)
def test_the_file_holds_every_byte_in_order_and_the_digest_is_theirs(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], piece: int, depth: int
) -> None:
    path = tmp_path_factory.mktemp("bw") / "out.bin"
    with path.open("wb") as handle:
        handle.write(b"head:")  # buffered, not yet written: the writer flushes it first
        writer = BackgroundWriter(handle, piece=piece, depth=depth)
        for chunk in chunks:
            assert writer.write(chunk) == len(chunk)
        digest = writer.close()
    body = b"".join(chunks)
    assert path.read_bytes() == b"head:" + body
    assert digest == hashlib.sha256(body).hexdigest()
    assert writer.size == len(body)


def test_a_failed_write_is_raised_and_nothing_blocks(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE (Python ignores SIGPIPE)
    with os.fdopen(write_end, "wb") as handle:
        writer = BackgroundWriter(handle, piece=16, depth=1)
        with pytest.raises(BrokenPipeError):
            for _ in range(10_000):  # far more pieces than the queue holds
                writer.write(b"x" * 64)
            writer.close()
        writer.abort()  # after the failure: returns, does not wait on a dead thread


def test_abort_stops_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    with path.open("wb") as handle:
        writer = BackgroundWriter(handle, piece=8, depth=1)
        writer.write(b"0123456789" * 10)
        writer.abort()
        with pytest.raises(ValueError, match="closed BackgroundWriter"):
            writer.write(b"more")


@settings(max_examples=30, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=5000), max_size=30),
    release_every=st.integers(min_value=1, max_value=20_000),
)
def test_releasing_written_pages_changes_no_byte(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], release_every: int
) -> None:
    path = tmp_path_factory.mktemp("bw") / "out.bin"
    with path.open("wb") as handle:
        writer = BackgroundWriter(handle, piece=4096, release_every=release_every)
        for chunk in chunks:
            writer.write(chunk)
        digest = writer.close()
        os.fsync(handle.fileno())
    body = b"".join(chunks)
    assert path.read_bytes() == body
    assert digest == hashlib.sha256(body).hexdigest()


def _spy_on_advice(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int, int]]:
    """Every ``posix_fadvise`` call from now on, as (fd, offset, length, advice); each
    is still made."""
    advised: list[tuple[int, int, int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((fd, offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    return advised


def _read_through_advised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, release: bool
) -> list[tuple[int, int, int]]:
    """The advice (offset, length, advice) given while 10,000 bytes are read 1,000 at
    a time through a window of 4,000."""
    advised = _spy_on_advice(monkeypatch)
    path = tmp_path / "in.bin"
    path.write_bytes(b"z" * 10_000)
    with ReadAheadFile(os.open(path, os.O_RDONLY), window=4000, release=release) as handle:
        while handle.read(1000):
            pass
    return [(offset, length, advice) for _, offset, length, advice in advised]


def test_written_pages_are_released_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    advised = _spy_on_advice(monkeypatch)
    path = tmp_path / "out.bin"
    with path.open("wb") as handle:
        writer = BackgroundWriter(handle, piece=1000, release_every=3000)
        for _ in range(10):
            writer.write(b"y" * 1000)
        writer.close()
        fd = handle.fileno()
    # 10,000 bytes in batches of 1,000: advice after 3,000, 6,000 and 9,000 bytes.
    assert advised == [(fd, 0, 0, os.POSIX_FADV_DONTNEED)] * 3
    assert path.read_bytes() == b"y" * 10_000


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=20_000),
    sizes=st.lists(st.integers(min_value=-1, max_value=4000), min_size=1, max_size=30),
    into=st.lists(st.booleans(), min_size=1, max_size=30),
    window=st.integers(min_value=1, max_value=9000),
    release=st.booleans(),
)
def test_a_read_ahead_file_gives_the_files_bytes_in_order(
    tmp_path_factory: pytest.TempPathFactory,
    body: bytes,
    sizes: list[int],
    into: list[bool],
    window: int,
    release: bool,
) -> None:
    path = tmp_path_factory.mktemp("ra") / "in.bin"
    path.write_bytes(body)
    got = bytearray()
    with ReadAheadFile(os.open(path, os.O_RDONLY), window, release=release) as handle:
        for step, size in enumerate(sizes):
            if into[step % len(into)] and size >= 0:
                buffer = bytearray(size)
                count = handle.readinto(buffer)
                got += buffer[:count]
            else:
                got += handle.read(size)
        got += handle.read()
    assert bytes(got) == body
    assert handle.closed


def test_a_read_ahead_file_asks_for_the_next_window_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    advised = _read_through_advised(tmp_path, monkeypatch, release=False)
    will = os.POSIX_FADV_WILLNEED
    # Asked again once half the window is read: each request starts where the last ended.
    assert advised == [
        (0, 4000, will),
        (4000, 2000, will),
        (6000, 2000, will),
        (8000, 2000, will),
        (10000, 2000, will),
        (12000, 2000, will),  # the read that finds the end asks past it: harmless
    ]


def test_a_read_ahead_file_that_releases_drops_what_lies_a_window_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    advised = _read_through_advised(tmp_path, monkeypatch, release=True)
    dropped = [(o, n) for o, n, a in advised if a == os.POSIX_FADV_DONTNEED]
    # Asked at offsets 0, 2000, ... 10000; from 6000 on, everything a window behind.
    assert dropped == [(0, 2000), (0, 4000), (0, 6000)]
