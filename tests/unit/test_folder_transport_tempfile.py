"""The folder transport's temporary copy on a shared folder (issue 8: every temp file is
created O_EXCL|O_NOFOLLOW, mode 0600, under a random name)."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

import pytest

from reprisal_report.transport import folder as folder_transport
from reprisal_report.vault.files import temp_name


def _bundle(tmp_path: Path) -> tuple[Path, str]:
    source = tmp_path / "outbox" / "b1.rrb"
    source.parent.mkdir()
    source.write_bytes(b"ciphertext" * 100)
    return source, hashlib.sha256(source.read_bytes()).hexdigest()


def test_a_link_planted_at_the_temp_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, sha = _bundle(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    # Another user of the shared folder who can predict the temp name plants links at
    # every name the copy could use (the old ".NAME.TOKEN.partial" and vault.files').
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "00" * (n or 16))
    for name in (
        f".{source.name}.00000000.partial",
        temp_name(shared / source.name).name,
    ):
        (shared / name).symlink_to(victim)
    with pytest.raises(FileExistsError):
        folder_transport.deliver(source, shared, sha)
    assert victim.read_bytes() == b"keep me"
    assert not (shared / source.name).exists()


def test_the_delivered_copy_is_readable_as_the_umask_allows(tmp_path: Path) -> None:
    source, sha = _bundle(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    old = os.umask(0o022)
    try:
        assert folder_transport.deliver(source, shared, sha) is True
    finally:
        os.umask(old)
    target = shared / source.name
    assert target.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in shared.iterdir()) == [source.name]
