"""Case commands through the real CLI against a real vault."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_CASE, Cli

ERR = "reprisal-report: error: "


def example(**changes: object) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE_CASE.read_text())
    doc["incident_date"] = "2026-03"
    doc["cooperation"][0]["date"] = "2026-02"
    doc.update(changes)
    return doc


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def case_count(cli: Cli) -> int:
    return len(json.loads(cli.ok("case", "list", "--json").stdout))


MALFORMED = [
    ("bad.yaml", "title: [unclosed\n", "file: not valid YAML"),
    ("unknown-key.json", json.dumps(example(mood="sad")), "mood: unknown key"),
    ("unknown-act.json", json.dumps(example(acts=["threat", "tickling"])), "acts[1]: unknown term"),
    ("country.json", json.dumps(example(country="XX")), "country: "),
    ("month.json", json.dumps(example(incident_date="2026-13")), "incident_date: "),
    ("missing.json", json.dumps({k: v for k, v in example().items() if k != "risk"}), "risk: "),
]


@pytest.mark.parametrize(("name", "text", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_case_files_exit_2_name_the_field_store_nothing(
    reporter: Cli, tmp_path: Path, name: str, text: str, expected: str
) -> None:
    result = reporter("case", "new", "--from", str(write(tmp_path, name, text)))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(ERR + expected), lines
    assert len(lines) <= 2 and all(not line.startswith("Traceback") for line in lines)
    assert result.stdout == ""
    assert case_count(reporter) == 0


def test_missing_case_file_is_exit_1(reporter: Cli, tmp_path: Path) -> None:
    result = reporter("case", "new", "--from", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no such file: {tmp_path / 'nope.yaml'}"


def test_new_show_list_json_shapes(reporter: Cli) -> None:
    created = json.loads(reporter.ok("case", "new", "--from", str(EXAMPLE_CASE), "--json").stdout)
    case_id = created["id"]
    listed = json.loads(reporter.ok("case", "list", "--json").stdout)
    assert [(c["id"], c["title"], c["country"]) for c in listed] == [
        (case_id, example()["title"], "BI")
    ]
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["id"] == case_id and shown["attachments"] == []
    for key, value in example().items():
        assert shown[key] == value
    # A unique prefix is accepted.
    assert json.loads(reporter.ok("case", "show", case_id[:8], "--json").stdout)["id"] == case_id


def test_any_script_round_trips_unchanged(reporter: Cli, tmp_path: Path) -> None:
    texts = {
        "title": "اعتقال مدافعة بعد الإحاطة — 拘留 — Задержание",
        "narrative": "Она дала показания.\n她作证了。\nشهدت أمام اللجنة.\n🕊️ e\u0301 (decomposed)",
    }
    doc = example(**texts)
    doc["victims"][0]["name"] = "Ана Пример 例子 مثال"
    path = write(tmp_path, "scripts.yaml", yaml.safe_dump(doc, allow_unicode=True))
    case_id = reporter.ok("case", "new", "--from", str(path)).stdout.strip()
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["title"] == texts["title"]
    assert shown["narrative"] == texts["narrative"]
    assert shown["victims"][0]["name"] == "Ана Пример 例子 مثال"


def test_edit_replaces_record_and_bumps_revision(reporter: Cli, tmp_path: Path) -> None:
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    path = write(tmp_path, "edit.json", json.dumps(example(risk="critical")))
    done = json.loads(reporter.ok("case", "edit", case_id, "--from", str(path), "--json").stdout)
    assert done == {"id": case_id, "revision": 2, "state": "ready", "org_id": None}
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["risk"] == "critical"
    bad = write(tmp_path, "bad.json", json.dumps(example(risk="extreme")))
    result = reporter("case", "edit", case_id, "--from", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{ERR}risk: unknown term")
    assert json.loads(reporter.ok("case", "show", case_id, "--json").stdout)["risk"] == "critical"


def test_unknown_case_id(reporter: Cli) -> None:
    result = reporter("case", "show", "doesnotexist")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no case doesnotexist"


def test_attach_streams_files_and_records_hashes(reporter: Cli, tmp_path: Path) -> None:
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    small = tmp_path / "statement.txt"
    small.write_bytes(b"statement\n")
    big = tmp_path / "recording.bin"
    big.write_bytes(bytes(range(256)) * (3 * 4096 + 7))  # about 3 MiB, not chunk-aligned
    result = reporter("case", "attach", case_id, str(small), str(big), "--keep-metadata", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    got = {(a["name"], a["size"], a["sha256"]) for a in shown["attachments"]}
    assert got == {
        (p.name, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in (small, big)
    }


def test_attach_missing_file_stores_nothing(reporter: Cli, tmp_path: Path) -> None:
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    real = tmp_path / "real.txt"
    real.write_text("x")
    result = reporter(
        "case", "attach", case_id, str(real), str(tmp_path / "gone.txt"), "--keep-metadata"
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no such file: {tmp_path / 'gone.txt'}"
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["attachments"] == []


def test_reporter_commands_refuse_other_roles(make_cli: object) -> None:
    cli = make_cli("coord")  # type: ignore[operator]
    cli.ok("init", "--role", "coordinator")
    result = cli("case", "list")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{ERR}this is a coordinator profile; the command needs a reporter profile"
    )


INTERACTIVE_ANSWERS = [
    "Interactive case",  # title
    "2026-13",  # incident date: rejected, asked again
    "2026-04",
    "XX",  # country: rejected
    "bi",
    "",  # location skipped
    "upr",
    "UPR-4",
    "submission",
    "",  # first cooperation entry
    "n",  # no more cooperation
    "threat, surveillance",
    "y",
    "police",
    "",  # one perpetrator without a name
    "n",
    "Имя Фамилия",
    "",
    "journalist",
    "",
    "",  # one victim
    "n",
    "Она рассказала.",
    "Second line.",
    ".",  # narrative
    ".",  # no public summary
    "internal_only",
    "high",
]


def test_interactive_case_new(reporter: Cli) -> None:
    result = reporter("case", "new", "--json", input="\n".join(INTERACTIVE_ANSWERS) + "\n")
    assert result.exit_code == 0, result.stderr
    case_id = json.loads(result.stdout)["id"]
    assert "not accepted: incident_date" in result.stderr
    assert "not accepted: country" in result.stderr
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["state"] == "ready"
    assert shown["country"] == "BI"
    assert shown["incident_date"] == "2026-04"
    assert shown["cooperation"] == [{"mechanism": "upr", "body": "UPR-4", "mode": "submission"}]
    assert shown["acts"] == ["threat", "surveillance"]
    assert shown["perpetrators"] == [{"type": "police"}]
    assert shown["victims"] == [{"name": "Имя Фамилия", "kind": "journalist"}]
    assert shown["narrative"] == "Она рассказала.\nSecond line."
    assert "public_summary" not in shown
    assert (shown["consent"], shown["risk"]) == ("internal_only", "high")


def test_interrupted_interactive_session_keeps_the_draft(reporter: Cli) -> None:
    result = reporter("case", "new", input="Half-written case\n2026-04\n")
    assert result.exit_code == 1
    first = result.stderr.splitlines()
    error_line = next(line for line in first if line.startswith(ERR))
    assert error_line.startswith(f"{ERR}interrupted; the draft is saved as case ")
    listed = json.loads(reporter.ok("case", "list", "--json").stdout)
    assert [(c["title"], c["state"]) for c in listed] == [("Half-written case", "draft")]
    shown = json.loads(reporter.ok("case", "show", listed[0]["id"], "--json").stdout)
    assert shown["incident_date"] == "2026-04"
