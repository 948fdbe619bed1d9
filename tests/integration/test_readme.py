"""The README's tours run exactly as written (docs that cannot rot).

Every ``sh`` block of every ``## Tour: …`` section runs, in the README's order, in one
bash process (``-euo pipefail``), so a block may use what an earlier one made. The
stock ``minisign`` must be on PATH: the auditor's tour calls it, unguarded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("Tour: field defender", "Tour: coordinator", "Tour: auditor")
PUBLIC_TITLE = "Passport seized before a Human Rights Council session"
UN_TITLE = "Travel ban after briefing the Committee against Torture"
CRITICAL_TITLE = "Detained after testifying to a UN Special Rapporteur"


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of every ``## `` section, in order."""
    parts = re.split(r"^## (.+)\n", text, flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def tour_blocks() -> list[tuple[str, str]]:
    """(heading, block) of every sh block of the tour sections, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        (heading, block)
        for heading, body in sections(text)
        if heading.startswith("Tour: ")
        for block in re.findall(r"^```sh\n(.*?)^```$", body, flags=re.DOTALL | re.MULTILINE)
    ]


def test_each_role_has_a_tour_in_order() -> None:
    headings = list(dict.fromkeys(heading for heading, _ in tour_blocks()))
    assert [h for h in headings if h in ROLES] == list(ROLES)


def test_the_tours_run_as_written(tmp_path: Path) -> None:
    script = "\n".join(block for _, block in tour_blocks())
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path),
        TMPDIR=str(tmp_path),
        NO_COLOR="1",
        COLUMNS="200",
        # The Argon2id cost is the only thing the tours do not need to pay.
        REPRISAL_REPORT_INSECURE_TEST_KDF="1",
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out, err = done.stdout, done.stderr
    [workdir] = [p for p in tmp_path.iterdir() if p.is_dir() and (p / "coord").is_dir()]

    # Field defender: three cases sealed and carried; panic destroyed the profile.
    assert len(list((workdir / "usb").glob("*.rrb"))) == 3
    assert "delivered 3, skipped 0, failed 0" in err
    assert not (workdir / "field" / "keyfile.json").exists()
    assert not (workdir / "field" / "vault.db").exists()

    # Coordinator: imported, triaged, searched, the refusal shown, the session ended.
    assert "imported 3, skipped 0, failed 0" in err
    for title in (PUBLIC_TITLE, UN_TITLE, CRITICAL_TITLE):
        assert title in out
    assert "exit 4: lowering protection needs --reason" in out
    assert "Seizure confirmed by the «lawyer»." in out
    assert not (workdir / "coord" / "session.json").exists()

    # The exports: each signed; the critical case in none; the UN-only case not public.
    exports = workdir / "exports"
    names = ["public.json", "un.json", "un-annex.md", "stats.json"]
    for name in names:
        assert (exports / name).is_file()
        assert (exports / f"{name}.minisig").is_file()
        assert CRITICAL_TITLE not in (exports / name).read_text(encoding="utf-8")
    public = json.loads((exports / "public.json").read_text(encoding="utf-8"))
    assert [case["title"] for case in public["cases"]] == [PUBLIC_TITLE]
    assert public["withheld"]["consent"] == 2
    un = json.loads((exports / "un.json").read_text(encoding="utf-8"))
    assert sorted(case["title"] for case in un["cases"]) == sorted([PUBLIC_TITLE, UN_TITLE])
    assert un["withheld"]["risk"] == 1
    stats = json.loads((exports / "stats.json").read_text(encoding="utf-8"))
    assert stats["profile"] == "stats" and stats["tables"]

    # Auditor: the log and four exports verify, stock minisign agrees, the change fails.
    assert "custody log reprisal-report/custody/" in out
    assert out.splitlines().count("OK") == 5
    assert err.count("signature: verified, by coordinator") == 4
    assert "Signature and comment signature verified" in out
    assert out.splitlines()[-2:] == ["FAIL", "exit 3"]

    # The only errors are the two the tours provoke on purpose.
    assert [line for line in err.splitlines() if line.startswith("reprisal-report: error:")] == [
        "reprisal-report: error: changing risk from critical to medium lowers the protection"
        " of the people in this case; give the reason",
        "reprisal-report: error: the export does not verify: the signature does not verify"
        " (the signature does not match the file and key)",
    ]
