#!/usr/bin/env python3
"""Export speed: every profile and format on a generated vault, with and without the
leak gate, and the same export from a larger vault (the gate scans every sensitive
value of the vault, exported or not).

    python bench/export_speed.py [--cases 10000] [--large 100000] [--keep DIR]
                                 [--runs 1] [--only public:json,...] [--json FILE]

Each figure is a whole ``reprisal-report export`` command in a child process (start,
imports, opening the vault with the test KDF, export, signature, custody event), as a
user runs it; the best of ``--runs``. "Without the gate" runs the same command with
the gate over no values, so the difference is the gate's own cost.

The vault comes from ``triage_queries.generate`` (cases written through the vault
layer, as an import stores them, without the leak gate's forms an import computes
for each case): the first export computes and keeps them all, as it does once in a
vault of an earlier schema after its migration. That first export's time is printed
apart; the figures are those of the exports after it.

``--keep DIR`` keeps the generated vaults in DIR (``DIR/c10000`` ...) and reuses them in
later runs (generating 100,000 cases takes a quarter of an hour); a vault of an earlier
schema is migrated when first opened, as a user's would be.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PASS, RR, Row, bench_env, run_child, verdict, write_rows
from triage_queries import generate

PROFILES = ("public", "un-confidential", "stats")
FORMATS = ("json", "csv", "md")


def _verified(home: Path) -> None:
    """Move most cases to verified, so that the case profiles export something."""
    from reprisal_report.workflows import profile

    with profile.open_profile(home, PASS) as vault, vault.transaction():
        vault.conn.execute("UPDATE triage_cases SET status = 'verified' WHERE (rowid % 5) <> 0")


def child_without_gate(argv: list[str]) -> None:
    """Run the CLI with the gate over no values (the child of a "without" figure)."""
    from reprisal_report.workflows import export

    real = export._leak_gate
    export._leak_gate = lambda forbidden, allowed, public: real([], allowed, public)
    sys.argv = ["reprisal-report", *argv]
    from reprisal_report.cli.app import main

    main()


def prepared(base: Path, size: int) -> Path:
    """The vault of ``size`` cases under ``base``: generated (and mostly verified) once,
    reused when a complete one is already there."""
    home = base / f"c{size}"
    done = base / f"c{size}.ready"
    if done.exists():
        print(f"reusing {size:,} cases in {home}", flush=True)
        return home
    if home.exists():
        shutil.rmtree(home)
    print(f"generating {size:,} cases into {home} ...", flush=True)
    generate(home, size, seed=size)
    _verified(home)
    done.write_text("ready\n")
    return home


def with_forms(base: Path, size: int) -> Path:
    """The vault of ``size`` cases with every case's gate forms kept (computed once
    after a migration, as the first export or each import would)."""
    home = prepared(base, size)
    marker = base / f"c{size}.forms"
    if not marker.exists():
        out = base / f"first-{size}.json"
        seconds, _ = run_export(home, out, "public", "json", gate=True)
        print(f"first export after the migration (computes every case's forms): {seconds:.2f} s")
        marker.write_text(f"{seconds:.2f}\n")
    return home


CPU: list[float] = []  # the CPU time (user + system) of each export child, in order


def run_export(home: Path, out: Path, name: str, fmt: str, gate: bool) -> tuple[float, int]:
    """One whole ``export`` command: its wall time and the number of values gated (its
    CPU time is appended to CPU: on a shared machine the wall time includes waiting)."""
    import json
    import resource

    args = ["--home", str(home), "export", "--profile", name, "--format", fmt]
    args += ["--out", str(out), "--json"]
    head = RR if gate else [sys.executable, __file__, "--child-without-gate"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = run_child([*head, *args], bench_env())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return child.seconds, int(json.loads(child.stdout)["leak_gate_values"])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-without-gate":
        child_without_gate(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--keep", help="keep the generated vaults here and reuse them")
    parser.add_argument("--runs", type=int, default=1, help="best of this many runs")
    parser.add_argument(
        "--only", help="only these exports, e.g. public:json,stats:json (all by default)"
    )
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rr-bench-export-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        for size, target in ((args.cases, 5.0), (args.large, 10.0)):
            if size <= 0:
                continue
            home = with_forms(base, size)
            combos = [(p, f) for p in PROFILES for f in FORMATS]
            if args.only:
                wanted = {tuple(c.split(":", 1)) for c in args.only.split(",")}
                combos = [c for c in combos if c in wanted]
            header = f"{'export':24} {'with gate':>10} {'cpu':>6} {'no gate':>9} {'values':>8}"
            print(f"\n{size:,} cases: {header}", flush=True)
            for name, fmt in combos:
                out = Path(tmp) / f"{name}-{size}.{fmt}"
                seconds = bare = cpu = float("inf")
                values = 0
                for _ in range(max(1, args.runs)):
                    took, values = run_export(home, out, name, fmt, gate=True)
                    if took < seconds:
                        seconds, cpu = took, CPU[-1]
                    bare = min(bare, run_export(home, out, name, fmt, gate=False)[0])
                label = f"{name} {fmt}"
                pad = " " * len(f"{size:,} cases: ")
                met = "met" if seconds <= target else "NOT met"
                print(
                    f"{pad}{label:24} {seconds:9.2f}s {cpu:5.2f}s {bare:8.2f}s {values:8,}  {met}"
                )
                print(flush=True, end="")
                rows.append(
                    Row(
                        "export",
                        f"{size:,} cases {label}",
                        seconds,
                        "s",
                        f"<= {target:.0f} s",
                        seconds <= target,
                    )
                )
                rows.append(
                    Row("export", f"{size:,} cases {label} without the gate", bare, "s", "", None)
                )
    print()
    for r in rows:
        if r.met is False:
            print(f"NOT met: {r.measure}: {r.value:.2f} s (target {r.target})")
    print("verdict:", verdict(all(r.met is not False for r in rows)))
    write_rows(args.json_out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
