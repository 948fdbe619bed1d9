#!/usr/bin/env python3
"""Export speed: every profile and format on a generated vault, with and without the
leak gate, and the same export from a larger vault (the gate scans every sensitive
value of the vault, exported or not).

    python bench/export_speed.py [--cases 10000] [--large 100000] [--json FILE]

The vault comes from ``triage_queries.generate`` (cases written through the vault
layer, as an import stores them). "Without the gate" runs the same export with a gate
over no values, so the difference is the gate's own cost.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PASS, Row, verdict, write_rows
from triage_queries import generate


def _verified(home: Path) -> None:
    """Move most cases to verified, so that the case profiles export something."""
    from reprisal_report.workflows import profile

    with profile.open_profile(home, PASS) as vault, vault.transaction():
        vault.conn.execute("UPDATE triage_cases SET status = 'verified' WHERE (rowid % 5) <> 0")


@contextlib.contextmanager
def no_gate() -> Iterator[None]:
    from reprisal_report.workflows import export

    real = export._gate
    export._gate = lambda forbidden, allowed, data, public=(): real([], allowed, data, public)
    try:
        yield
    finally:
        export._gate = real


def run_export(home: Path, out: Path, name: str, fmt: str) -> tuple[float, int]:
    from reprisal_report.workflows import export, profile

    with profile.open_profile(home, PASS) as vault:
        start = time.perf_counter()
        done = export.export(vault, export.ExportRequest(profile=name, format=fmt, out=out))
        return time.perf_counter() - start, done.gate_values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rr-bench-export-") as tmp:
        for size, target in ((args.cases, 5.0), (args.large, 10.0)):
            home = Path(tmp) / f"c{size}"
            print(f"generating {size:,} cases ...", flush=True)
            generate(home, size, seed=size)
            _verified(home)
            combos = [
                (p, f)
                for p in ("public", "un-confidential", "stats")
                for f in ("json", "csv", "md")
            ]
            if size == args.large:
                combos = [("public", "json"), ("stats", "json")]
            print(f"\n{size:,} cases: {'export':28} {'with gate':>10} {'no gate':>9} {'values':>8}")
            for name, fmt in combos:
                out = Path(tmp) / f"{name}-{size}.{fmt}"
                seconds, values = run_export(home, out, name, fmt)
                with no_gate():
                    bare, _ = run_export(home, out, name, fmt)
                label = f"{name} {fmt}"
                pad = " " * len(f"{size:,} cases: ")
                print(f"{pad}{label:28} {seconds:9.2f}s {bare:8.2f}s {values:8,}")
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
