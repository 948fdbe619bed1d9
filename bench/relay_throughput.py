"""1,000 bundles of 64 KiB pushed and pulled through a loopback relay, against cp.

Setup (not timed) creates a coordinator, a reporter and a relay, and seals N cases each
carrying a 64 KiB attachment. Timed, as child processes: ``sync push --to URL`` and
``sync pull --from URL`` through a real ``relay serve`` child on 127.0.0.1, and ``cp``
of the same bundle files into a fresh folder as the reference (taken before the push,
which purges delivered bundles from the outbox). Target: push + pull <= 10 s.

    python bench/relay_throughput.py [--bundles 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import (
    Relay,
    Row,
    bench_env,
    copy_reference,
    free_port,
    make_world,
    push_pull,
    verdict,
    write_rows,
)

TARGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=1000, help="bundles (default 1000)")
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    n = args.bundles
    env = bench_env()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        t = Path(tmp)
        port = free_port()
        make_world(t, n, f"http://127.0.0.1:{port}", distinct=True)
        cp, files, size = copy_reference(t, env)
        with Relay(t, port, env) as relay:
            push, pull, delivered, imported = push_pull(t, relay.url, env)
    if (files, delivered, imported) != (n, n, n):
        raise SystemExit(
            f"bench: error: {n} sealed, {files} files, {delivered} pushed, {imported} pulled"
        )
    total = push + pull
    print(
        f"{n} bundles, {size / 2**20:.1f} MiB in all, {os.cpu_count()} cores "
        "(client and relay share them)"
    )
    print(f"{'step':22} {'seconds':>8} {'bundles/s':>10} {'ratio to cp':>12}")
    for name, sec in (("cp (reference)", cp), ("sync push", push), ("sync pull", pull)):
        print(f"{name:22} {sec:8.2f} {n / sec:10.0f} {sec / cp:12.1f}")
    print(f"{'push + pull':22} {total:8.2f} {n / total:10.0f} {total / cp:12.1f}")
    met = total <= TARGET_S if n == 1000 else None
    judged = "not judged (the target is for 1,000)" if met is None else verdict(met)
    print(f"target: 1,000 bundles push + pull <= {TARGET_S:.0f} s — {judged} ({total:.1f} s)")
    write_rows(
        args.json,
        [
            Row("relay", f"sync push, {n} x 64 KiB", push, "s", "", None),
            Row("relay", f"sync pull, {n} x 64 KiB", pull, "s", "", None),
            Row("relay", f"push + pull, {n} x 64 KiB", total, "s", f"<= {TARGET_S:.0f} s", met),
            Row("relay", "push + pull / cp", total / cp, "x", "", None),
        ],
    )


if __name__ == "__main__":
    main()
