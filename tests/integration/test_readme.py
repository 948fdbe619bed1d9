"""The README's command blocks run exactly as written (docs that cannot rot)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sh_blocks(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    following = text.find("\n## ", start + 1)
    body = text[start : following if following != -1 else None]
    return re.findall(r"```sh\n(.*?)```", body, flags=re.DOTALL)


def test_the_quick_tour_runs_as_written(tmp_path: Path) -> None:
    [tour] = sh_blocks("Quick tour")
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path),
        TMPDIR=str(tmp_path),
        NO_COLOR="1",
        COLUMNS="200",
        # The Argon2id cost is the only thing the tour does not need to pay.
        REPRISAL_REPORT_INSECURE_TEST_KDF="1",
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", tour],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # triage list shows the one case the tour delivered; panic destroyed the field profile.
    assert "Travel ban after briefing the Committee against Torture" in done.stdout
    assert "reprisal-report: error:" not in done.stderr
    [workdir] = [p for p in tmp_path.iterdir() if p.is_dir() and (p / "coord").is_dir()]
    assert not (workdir / "field" / "keyfile.json").exists()
