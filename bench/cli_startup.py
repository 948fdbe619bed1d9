"""CLI start-up time: reprisal-report against a bare typer app, measured in the same run.

A field defender types a command and waits for the interpreter to import our code; a
slow start-up is felt on every command. Absolute timings depend on the machine and its
load, so this script compares ``reprisal-report --version`` and ``--help`` with the
``--help`` of a hello-world typer app written to a temporary file, run by the same
interpreter, interleaved round by round so that drift in load hits every command alike.

    python bench/cli_startup.py [--runs N] [--target RATIO] [--check] [--json FILE]

It prints a table and one ``target:`` line per command. It exits 0 (it is a report,
not a test) unless ``--check`` is given; then any FAIL exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

WARMUP_RUNS = 2
DEFAULT_RUNS = 15
DEFAULT_TARGET = 1.5
REPO_SRC = Path(__file__).resolve().parent.parent / "src"

HELLO_APP = '''\
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
'''


@dataclass
class Command:
    label: str
    argv: list[str]
    seconds: list[float] = field(default_factory=list)
    failure: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def minimum(self) -> float:
        return min(self.seconds)


def bench_env(home: Path) -> dict[str, str]:
    """The same environment for every command: no colour, fixed width, a throwaway home."""
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "100"
    env["TERM"] = "dumb"
    env["REPRISAL_REPORT_HOME"] = str(home / "profile")
    # Measure the working tree when run from a checkout, even if the package is not
    # installed; the extra path entry is given to the reference command as well.
    if REPO_SRC.is_dir():
        parts = [str(REPO_SRC), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env


def run_once(command: Command, env: dict[str, str]) -> float | None:
    """Time one run; on a non-zero exit record why and return None."""
    start = time.perf_counter()
    result = subprocess.run(command.argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1] if lines else "(no output)"
        command.failure = f"exit {result.returncode}: {last}"
        return None
    return elapsed


def measure(commands: list[Command], runs: int, env: dict[str, str]) -> None:
    """Warm up, then run every command once per round, ``runs`` rounds."""
    for round_no in range(WARMUP_RUNS + runs):
        for command in commands:
            if command.failure is not None:
                continue
            elapsed = run_once(command, env)
            if elapsed is not None and round_no >= WARMUP_RUNS:
                command.seconds.append(elapsed)


def report(reference: Command, subjects: list[Command], target: float) -> bool:
    """Print the table and the target lines; return True if every subject passed."""
    print(f"python {sys.version.split()[0]} on {sys.platform}; {len(reference.seconds)} runs each")
    print()
    header = f"{'command':<34} {'median ms':>10} {'min ms':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    ref_median = reference.median
    print(
        f"{reference.label:<34} {ref_median * 1000:>10.1f} "
        f"{reference.minimum * 1000:>8.1f} {'1.00x':>7}"
    )
    verdicts: list[tuple[Command, float | None]] = []
    for command in subjects:
        if command.failure is not None or not command.seconds:
            print(f"{command.label:<34} {'error':>10}")
            verdicts.append((command, None))
            continue
        ratio = command.median / ref_median
        print(
            f"{command.label:<34} {command.median * 1000:>10.1f} "
            f"{command.minimum * 1000:>8.1f} {ratio:>6.2f}x"
        )
        verdicts.append((command, ratio))
    print()
    all_passed = True
    for command, measured in verdicts:
        if measured is None:
            all_passed = False
            print(f"target: <= {target}x — FAIL ({command.label}: {command.failure})")
            continue
        passed = measured <= target
        all_passed = all_passed and passed
        verdict = "PASS" if passed else "FAIL"
        print(f"target: <= {target}x — {verdict} ({command.label}: {measured:.2f}x)")
    return all_passed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help="measured runs per command (default 15)"
    )
    parser.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help="highest acceptable ratio to the reference median (default 1.5)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if any command fails")
    parser.add_argument("--json", help="also write the result rows to this file (bench/run)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
        tmp_path = Path(tmp)
        hello = tmp_path / "hello_typer.py"
        hello.write_text(HELLO_APP, encoding="utf-8")
        env = bench_env(tmp_path)
        reference = Command("typer hello-world --help", [sys.executable, str(hello), "--help"])
        subjects = [
            Command(
                "reprisal-report --version",
                [sys.executable, "-m", "reprisal_report", "--version"],
            ),
            Command("reprisal-report --help", [sys.executable, "-m", "reprisal_report", "--help"]),
        ]
        measure([reference, *subjects], args.runs, env)
    if reference.failure is not None or not reference.seconds:
        print(
            f"bench: error: reference app failed ({reference.failure}); is typer installed?",
            file=sys.stderr,
        )
        return 1 if args.check else 0
    for command in subjects:
        if command.failure is not None:
            print(f"bench: error: {command.label} failed ({command.failure})", file=sys.stderr)
    passed = report(reference, subjects, args.target)
    if args.json:
        rows = [
            {
                "bench": "startup",
                "measure": f"{c.label} / typer hello-world",
                "value": c.median / reference.median if c.seconds else float("nan"),
                "unit": "x",
                "target": f"<= {args.target}x",
                "met": bool(c.seconds) and c.median / reference.median <= args.target,
            }
            for c in subjects
        ]
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 1 if args.check and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
