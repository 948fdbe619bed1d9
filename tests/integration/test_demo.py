"""`demo` end to end through the README's main-job command path (`make demo` runs the
installed `reprisal-report demo`), checked by its outcomes and by the files it leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_demo_target_runs_the_console_script() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\t$(BIN)/reprisal-report demo\n" in makefile
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme


def test_demo_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    script = Path(sys.executable).parent / "reprisal-report"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    env.update(NO_COLOR="1", TMPDIR=str(tmp_path), HOME=str(tmp_path))
    done = subprocess.run(
        [str(script), "demo", "--dir", str(work), "--json"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    doc = json.loads(done.stdout)
    assert [s["title"] for s in doc["steps"]] == [
        "Profiles",
        "Organisation",
        "Cases written and sealed",
        "Delivery",
        "Import and triage",
        "Exports",
        "Audit",
        "Panic",
    ]
    assert doc["imported"] == 3
    assert {k: v["cases"] for k, v in doc["exports"].items()} == {
        "public": 1,
        "un-confidential": 2,
        "stats": 3,
    }
    assert doc["exports"]["public"]["withheld"] == {
        "status": 0,
        "consent": 1,
        "risk": 1,
        "profile": 0,
    }
    critical = doc["case_ids"]["critical"]
    for name in ("public", "un-confidential", "stats"):
        text = (work / "exports" / f"{name}.json").read_text(encoding="utf-8")
        assert critical not in text
        assert "Witness Example-Two" not in text and "+960" not in text
        assert (work / "exports" / f"{name}.json.minisig").exists()
    public = json.loads((work / "exports" / "public.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in public["cases"]] == [doc["case_ids"]["named"]]
    assert doc["gps_removed"] is True
    assert doc["log_verified"] is True and doc["log_entries"] > 10
    assert doc["exports_verified"] is True and doc["disclosures_verified"] > 0
    assert doc["receipts_verified"] is True
    # The relay's bundle (defender 1's) came with a receipt the auditor checked.
    assert doc["relay_receipts_kept"] == doc["coordinator_receipts_verified"] >= 1
    assert doc["relay_files"] == 2 and doc["relay_plaintext_found"] is False
    # What the relay kept on disk is ciphertext: no case text in any of its files.
    relay_bytes = b"".join(p.read_bytes() for p in (work / "relay").rglob("*") if p.is_file())
    for canary in ("Aminath Example", "Travel ban", "Lawyer summoned", "Gitega"):
        assert canary.encode() not in relay_bytes
    # Every profile was destroyed at the end.
    for home in ("coordinator", "reporter-1", "reporter-2", "auditor"):
        assert not (work / home / "keyfile.json").exists()


def test_demo_human_output_narrates_each_step(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "reprisal-report"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    env.update(NO_COLOR="1", TMPDIR=str(tmp_path), HOME=str(tmp_path), COLUMNS="100")
    done = subprocess.run(
        [str(script), "demo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "The critical-risk case was withheld" in done.stdout
    assert "ciphertext only" in done.stdout
    assert "Protected:" in done.stdout
    assert done.stderr.strip() == "demo finished"
    # Without --dir nothing is left behind.
    assert [p for p in tmp_path.iterdir() if p.name.startswith("reprisal-report-demo-")] == []
