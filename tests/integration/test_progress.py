"""Progress bars appear on a terminal for long work, and never on a pipe."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE_CASE, run_subprocess


def _run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; return the exit code and what it showed."""
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    full_env.update(env, TERM="xterm", COLUMNS="100")
    full_env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "reprisal_report", *args],
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=60), shown.decode("utf-8", "replace")


def test_attach_shows_progress_on_a_terminal_only(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    env = subprocess_env
    assert run_subprocess(["init", "--role", "reporter"], env).returncode == 0
    created = run_subprocess(["case", "new", "--from", str(EXAMPLE_CASE), "--json"], env)
    case_id = json.loads(created.stdout)["id"]
    big = tmp_path / "recording.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    code, shown = _run_on_terminal(["case", "attach", case_id, str(big), "--keep-metadata"], env)
    assert code == 0, shown
    assert "attaching" in shown
    piped = run_subprocess(["case", "attach", case_id, str(big), "--keep-metadata"], env)
    assert piped.returncode == 0
    assert b"attaching" not in piped.stderr
