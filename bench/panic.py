"""panic: time to crypto-shred a small vault against a large one, in the same run.

panic never reads or rewrites the database, so its time should not grow with the
vault: the ratio large/small should stay near 1 and both well under one second.

    python bench/panic.py [--large-mib N] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("REPRISAL_REPORT_INSECURE_TEST_KDF", "1")  # setup speed only

from reprisal_report.model.case import parse_case_bytes
from reprisal_report.workflows import demo, profile, reporter

PASS = "benchmark passphrase"  # noqa: S105 - throw-away benchmark vaults


def build(home: Path, mib: int) -> None:
    profile.init_profile(home, PASS, "reporter", None)
    record = parse_case_bytes(demo.example_case_bytes(), source_name="case.yaml")
    with profile.open_profile(home, PASS, "reporter") as vault:
        case_id = reporter.new_case(vault, record, None)
        chunk = os.urandom(1024 * 1024)
        for i in range(mib):
            reporter.attach_files_from_streams(vault, case_id, [(f"f{i}", io.BytesIO(chunk))])


def time_panic(home: Path) -> tuple[float, float]:
    """(key destroyed, all removed) in seconds."""
    start = time.perf_counter()
    report = profile.panic(home)
    return report.key_destroyed_seconds, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-mib", type=int, default=1024, help="default 1024")
    parser.add_argument("--json", help="also write the result rows to this file (bench/run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        build(small, 1)
        build(large, args.large_mib)
        size = sum(p.stat().st_size for p in large.rglob("*") if p.is_file()) / 2**20
        (k_small, t_small), (k_large, t_large) = time_panic(small), time_panic(large)
    print("vault            key destroyed    all removed")
    print(f"1 MiB            {k_small * 1000:10.1f} ms  {t_small * 1000:10.1f} ms")
    print(f"{size:5.0f} MiB        {k_large * 1000:10.1f} ms  {t_large * 1000:10.1f} ms")
    print(f"key destruction ratio large/small: {k_large / k_small:.2f}x (size-independent)")
    print(f"removal ratio large/small: {t_large / t_small:.2f}x (file-system unlink cost)")
    verdict = "PASS" if t_large < 1.0 else "FAIL"
    print(f"target: whole panic < 1 s — {verdict} ({t_large:.3f} s)")
    if args.json:
        rows = [
            {
                "bench": "panic",
                "measure": f"key destroyed, {size:.0f} MiB profile",
                "value": k_large * 1000,
                "unit": "ms",
                "target": "",
                "met": None,
            },
            {
                "bench": "panic",
                "measure": "key destroyed large / small",
                "value": k_large / k_small,
                "unit": "x",
                "target": "",
                "met": None,
            },
            {
                "bench": "panic",
                "measure": f"whole panic, {size:.0f} MiB profile",
                "value": t_large,
                "unit": "s",
                "target": "< 1 s",
                "met": t_large < 1.0,
            },
        ]
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
