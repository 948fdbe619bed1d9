"""The folder transport on real files: atomic, idempotent, verified, nothing else listed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from reprisal_report.errors import NotFound, OperationalError
from reprisal_report.transport import folder


def _bundle(tmp_path: Path, name: str = "b1.rrb", size: int = 5000) -> tuple[Path, str]:
    source = tmp_path / "outbox" / name
    source.parent.mkdir(exist_ok=True)
    data = os.urandom(size)
    source.write_bytes(data)
    return source, hashlib.sha256(data).hexdigest()


def test_deliver_copies_once_and_leaves_no_temp_file(tmp_path: Path) -> None:
    source, sha = _bundle(tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    assert folder.deliver(source, stick, sha) is True
    assert (stick / source.name).read_bytes() == source.read_bytes()
    assert folder.deliver(source, stick, sha) is False
    assert sorted(p.name for p in stick.iterdir()) == [source.name]


def test_a_damaged_copy_on_the_stick_is_replaced(tmp_path: Path) -> None:
    source, sha = _bundle(tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / source.name).write_bytes(b"half a file")
    assert folder.deliver(source, stick, sha) is True
    assert (stick / source.name).read_bytes() == source.read_bytes()


def test_a_copy_that_does_not_read_back_is_an_error(tmp_path: Path) -> None:
    source, _ = _bundle(tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    with pytest.raises(OperationalError, match="does not read back correctly"):
        folder.deliver(source, stick, "0" * 64)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such folder"):
        folder.require_folder(tmp_path / "not-mounted")


def test_only_bundle_files_are_listed(tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "a.rrb").write_bytes(b"x")
    (stick / "notes.txt").write_bytes(b"x")
    (stick / "dir.rrb").mkdir()
    assert [p.name for p in folder.bundles_in(stick)] == ["a.rrb"]
