"""Every benchmark runs to its end, at a tiny size, so none can rot.

Each runs through ``bench/run --tiny --only NAME`` (so the runner and its table are
exercised too) as a real child: real profiles with the test KDF, a real ``relay serve``
on 127.0.0.1, the stock ``age`` binary. Timings are not asserted (benchmarks are
reports; see bench/README.md), only that each finishes and prints its figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(name: str, tmp_path: Path) -> str:
    env = {**os.environ, "BENCH_DIR": str(tmp_path), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run"), "--tiny", "--only", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert f"=== {name}: " in done.stdout
    return done.stdout


def table(out: str) -> list[str]:
    return out.split("\nbench    measure")[1].splitlines()


def test_startup_and_panic(tmp_path: Path) -> None:
    out = run_bench("startup", tmp_path) + run_bench("panic", tmp_path)
    assert "reprisal-report --help / typer hello-world" in out
    assert "whole panic, " in out


def test_bundle_stream(tmp_path: Path) -> None:
    if shutil.which("age") is None:
        # CI installs the stock tools (.ci/run); there a missing one is a failure.
        if os.environ.get("CI") == "true":
            pytest.fail("the stock age binary is not installed")
        pytest.skip("needs the stock age binary")
    out = run_bench("stream", tmp_path)
    rows = table(out)
    for measure in ("attach / age -r", "seal / age -r", "import / age -d -o FILE"):
        assert any(measure in row and "<= 1." in row for row in rows), measure
    for name in ("attach", "seal", "import"):
        rss = next(row for row in rows if f"{name} peak RSS" in row)
        assert rss.rstrip().endswith(("met", "NOT met")), rss
        assert "nan" not in rss
    assert "where the time goes" in out
    assert "pyrage decrypt" in out and "cores busy" in out
    assert "not judged below 256 MiB" in out  # tiny ratios are start-up, not streaming


def test_relay_throughput(tmp_path: Path) -> None:
    out = run_bench("relay", tmp_path)
    assert "3 bundles," in out
    assert any("push + pull, 3 x 64 KiB" in row for row in table(out))


def test_latency_proxy(tmp_path: Path) -> None:
    out = run_bench("latency", tmp_path)
    assert "20 ms each way" in out
    assert "proxy: " in out and "chunks delayed" in out
    assert any("push + pull / cp" in row for row in table(out))


def test_session(tmp_path: Path) -> None:
    out = run_bench("session", tmp_path)
    rows = table(out)
    assert "3 received cases" in out and "in this process: vault opened with the session" in out
    rss = next(row for row in rows if "triage list with a session, peak RSS" in row)
    assert rss.rstrip().endswith(("met", "NOT met")) and "nan" not in rss
    assert any("without / with a session" in row for row in rows)


def test_triage_queries(tmp_path: Path) -> None:
    out = run_bench("triage", tmp_path)
    assert "generated 300 cases" in out and "vault size" in out
    rows = table(out)
    assert any("list --country BI --limit 50 / plain SQLite" in row for row in rows)
    assert any("stats --by country,act (median)" in row for row in rows)
    assert any("search" in row and "(median)" in row for row in rows)


def test_export_speed(tmp_path: Path) -> None:
    out = run_bench("export", tmp_path)
    rows = table(out)
    for label in ("public json", "un-confidential csv", "stats md"):
        assert any(f"200 cases {label}" in row and "<= 5 s" in row for row in rows), label
    assert any("300 cases public json" in row and "<= 10 s" in row for row in rows)
