"""A fresh clone must test itself with nothing beside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not match itself.
SHARED_PATHS = ("../" + "shared", 'parent / "' + 'shared"')


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_tracked_file_reads_the_shared_folder_beside_the_clone() -> None:
    offenders = []
    for path in tracked_files():
        if "tests/vectors/age/" in str(path.relative_to(ROOT)) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if any(marker in text for marker in SHARED_PATHS):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_age_vectors_are_vendored_with_their_licence() -> None:
    folder = ROOT / "tests" / "vectors" / "age"
    vectors = [p for p in folder.iterdir() if p.suffix == "" and p.is_file()]
    assert len(vectors) == 124
    assert "0BSD" in (folder / "SOURCE.md").read_text(encoding="utf-8")
    assert (folder / "README.upstream.md").is_file()
