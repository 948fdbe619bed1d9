"""`case attach` through the real CLI: stripped on the way in, refusals with exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CASE, Cli
from tests.unit.test_sanitize_samples import jpeg_with_metadata, leaked, pdf_with_metadata

ERR = "reprisal-report: error: "
HINT = (
    "hint: pass --keep-metadata to store it as it is; "
    "it may carry names, places, device serials or timestamps"
)

pytestmark = pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")


def new_case(reporter: Cli) -> str:
    return reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()


def attachments(reporter: Cli, case_id: str) -> list[dict[str, object]]:
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    return list(shown["attachments"])


def test_attach_strips_and_records_the_original_hash(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_with_metadata())
    report = tmp_path / "report.pdf"
    report.write_bytes(pdf_with_metadata())
    result = reporter("case", "attach", case_id, str(photo), str(report), "--json")
    assert result.exit_code == 0, result.stderr
    got = {a["name"]: a for a in attachments(reporter, case_id)}
    for path, kind in ((photo, "jpeg"), (report, "pdf")):
        row = got[path.name]
        assert row["metadata"] == f"stripped:{kind}"
        assert row["original_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row["sha256"] != row["original_sha256"]
        assert leaked(json.dumps(row).encode()) == []


def test_attach_refuses_an_unknown_kind_with_exit_4_and_stores_nothing(
    reporter: Cli, tmp_path: Path
) -> None:
    case_id = new_case(reporter)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_with_metadata())
    notes = tmp_path / "notes.txt"
    notes.write_text("what the witness said\n")
    result = reporter("case", "attach", case_id, str(photo), str(notes))
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        f"{ERR}notes.txt is a file of an unrecognised kind; this tool cannot strip its metadata",
        HINT,
    ]
    assert attachments(reporter, case_id) == []  # one transaction: the photo is not in either


def test_attach_keep_metadata_stores_an_unknown_kind_unchanged(
    reporter: Cli, tmp_path: Path
) -> None:
    case_id = new_case(reporter)
    notes = tmp_path / "notes.txt"
    notes.write_text("what the witness said\n")
    result = reporter("case", "attach", case_id, str(notes), "--keep-metadata", "--json")
    assert result.exit_code == 0, result.stderr
    [row] = attachments(reporter, case_id)
    digest = hashlib.sha256(notes.read_bytes()).hexdigest()
    assert (row["metadata"], row["sha256"], row["original_sha256"]) == ("kept", digest, digest)


def test_attach_damaged_photo_exits_2_with_one_line(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    data = jpeg_with_metadata()
    photo = tmp_path / "cut.jpg"
    photo.write_bytes(data[: len(data) // 2])
    result = reporter("case", "attach", case_id, str(photo))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{ERR}cut.jpg is a damaged jpeg file: ")
    assert len(lines) == 2 and lines[1].startswith("hint: ")
    assert "Traceback" not in result.stderr and leaked(result.stderr.encode()) == []
