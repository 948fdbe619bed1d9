"""vault.files.BackgroundWriter: every byte in order, its hash, and the first error."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.vault.files import BackgroundWriter


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
