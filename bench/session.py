"""``triage list --json`` with a working session against the same without one.

Without a session every command pays the Argon2id KDF (0.5 s and 256 MiB by design,
docs/vault.md); with ``REPRISAL_REPORT_SESSION`` set it unwraps the master key from
``session.json`` instead. Setup (not timed) makes a coordinator that has imported N
received cases (``make_world`` then ``inbox import``), then re-wraps its keyfile at the
real KDF cost (``passphrase change`` without the test KDF), so "without a session" is
what a user pays. Timed, as child processes interleaved round by round, each with its
own wall time and peak RSS (GNU ``/usr/bin/time``): ``triage list --json`` with the
session and no passphrase, the same with the passphrase and no session, and
``reprisal-report --version`` as the floor (interpreter, typer and our imports). The
children write their bytecode to a private cache (``PYTHONPYCACHEPREFIX``) and a first
round warms it, as an installed package would have it. Each child's CPU time (user +
system, from ``getrusage``) is shown beside its wall time: on a machine shared with
other work it moves far less than the wall time. Targets (issue 10): with a session
<= 0.3 s wall and <= 64 MiB peak RSS for the whole process.

``--compare PATH`` (repeatable) adds the same listing with ``PATH`` first on
``PYTHONPATH``, in the same rounds: the ``src`` of an older commit (``git archive``) for
a before/after under the same load, or another typer (``pip install --target``).

    python bench/session.py [--cases 100] [--runs 11] [--compare PATH]... [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from _common import PASS, RR, Child, Row, bench_env, make_world, run_child, verdict, write_rows

if TYPE_CHECKING:
    from reprisal_report.vault.store import Vault

TARGET_S = 0.3
TARGET_MIB = 64.0
WARMUP = 1


def child_env(base: dict[str, str], pycache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in base.items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("REPRISAL_REPORT_")
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def build(t: Path, cases: int) -> Path:
    """A coordinator profile holding ``cases`` received cases, keyfile at the real cost."""
    make_world(t, cases, "http://127.0.0.1:9")  # the relay in the card is never reached
    coordinator = t / "c"
    env = bench_env()
    run_child([*RR, "--home", str(coordinator), "inbox", "import", str(t / "r" / "outbox")], env)
    real = {k: v for k, v in env.items() if k != "REPRISAL_REPORT_INSECURE_TEST_KDF"}
    real["REPRISAL_REPORT_NEW_PASSPHRASE"] = PASS
    run_child([*RR, "--home", str(coordinator), "passphrase", "change"], real)
    kdf = json.loads((coordinator / "keyfile.json").read_text())["kdf"]
    print(f"keyfile: Argon2id opslimit {kdf['opslimit']}, memlimit {kdf['memlimit'] >> 20} MiB")
    return coordinator


def cpu_child(argv: list[str], env: dict[str, str]) -> tuple[Child, float]:
    """``run_child`` and the child's CPU seconds (user + system, its own children too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = run_child(argv, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return child, cpu


def summary(label: str, runs: list[Child], cpu: list[float]) -> tuple[float, float]:
    wall = statistics.median(c.seconds for c in runs)
    rss = max(c.rss_mib for c in runs)
    low = min(c.seconds for c in runs)
    print(
        f"{label:44} {wall * 1000:9.0f} {low * 1000:9.0f} "
        f"{statistics.median(cpu) * 1000:9.0f} {rss:9.1f}"
    )
    return wall, rss


def in_process(home: Path, token: str) -> tuple[float, float]:
    """Median seconds to open and close the vault in this process: with the session
    (the file's read, AEAD and rewrite, SQLCipher's open) and with the passphrase."""
    from reprisal_report.workflows import profile, session

    def timed(opening: Callable[[], Vault], runs: int) -> float:
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            vault = opening()
            seconds.append(time.perf_counter() - start)
            vault.close()
        return statistics.median(seconds)

    with_session = timed(lambda: session.open_vault(home, token, "coordinator"), 9)
    with_pass = timed(lambda: profile.unlock(home, PASS, "coordinator"), 3)
    return with_session, with_pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100, help="received cases (default 100)")
    parser.add_argument("--runs", type=int, default=11, help="timed rounds (default 11)")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="PATH",
        help="also time the listing with PATH first on PYTHONPATH (repeatable)",
    )
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        t = Path(tmp)
        home = build(t, args.cases)
        base = child_env(os.environ.copy(), t / "pycache")
        base["NO_COLOR"] = "1"
        with_pass = {**base, "REPRISAL_REPORT_PASSPHRASE": PASS}
        # A profile with no session: 'lock' there parses its options and opens nothing.
        idle = t / "idle"
        run_child([*RR, "--home", str(idle), "init", "--role", "reporter"], bench_env())
        listing = [*RR, "--home", str(home), "triage", "list", "--json"]
        unlock = run_child([*RR, "--home", str(home), "unlock", "--json"], with_pass)
        token = json.loads(unlock.stdout)["token"]
        with_session = {**base, "REPRISAL_REPORT_SESSION": token}
        plans = {
            "session": (listing, with_session),
            "passphrase": (listing, with_pass),
            "version": ([*RR, "--version"], base),
            "lock": ([*RR, "--home", str(idle), "lock", "--json"], base),
        }
        for path in args.compare:
            paths = [path, *filter(None, [os.environ.get("PYTHONPATH")])]
            plans[f"session, PYTHONPATH={path}"] = (
                listing,
                {**with_session, "PYTHONPATH": os.pathsep.join(paths)},
            )
        timed: dict[str, list[Child]] = {name: [] for name in plans}
        cpu: dict[str, list[float]] = {name: [] for name in plans}
        load_before = os.getloadavg()[0]
        for round_no in range(WARMUP + args.runs):
            for name, (argv, env) in plans.items():
                child, seconds = cpu_child(argv, env)
                if round_no >= WARMUP:
                    timed[name].append(child)
                    cpu[name].append(seconds)
        compared = [name for name in plans if name.startswith("session, ")]
        for name in ("session", "passphrase", *compared):
            listed = json.loads(timed[name][-1].stdout)
            if len(listed) != args.cases:
                raise SystemExit(f"bench: error: {name}: {len(listed)} of {args.cases} cases")
        load_after = os.getloadavg()[0]
        open_session, open_pass = in_process(home, token)
        lock = run_child([*RR, "--home", str(home), "lock", "--json"], base)
        if json.loads(lock.stdout) != {"ended": True} or (home / "session.json").exists():
            raise SystemExit("bench: error: lock did not end the session")
    print(
        f"{args.cases} received cases, {args.runs} rounds, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before and {load_after:.1f} after the rounds"
    )
    print(
        f"{'command (a whole process)':44} {'median ms':>9} {'min ms':>9} {'CPU ms':>9} "
        f"{'peak MiB':>9}"
    )
    print(
        f"{'unlock (the KDF, once)':44} {unlock.seconds * 1000:9.0f} {'':9} {'':9} "
        f"{unlock.rss_mib:9.1f}"
    )
    s_wall, s_rss = summary("triage list --json with a session", timed["session"], cpu["session"])
    p_wall, p_rss = summary(
        "triage list --json with the passphrase", timed["passphrase"], cpu["passphrase"]
    )
    v_wall, _ = summary("--version (imports only)", timed["version"], cpu["version"])
    l_wall, _ = summary("lock, no session (options parsed, no vault)", timed["lock"], cpu["lock"])
    for name in compared:
        print(f"  {name.removeprefix('session, ')}:")
        summary("  the same listing with a session", timed[name], cpu[name])
    print(
        f"without / with a session: {p_wall / s_wall:.1f}x the time, {p_rss / s_rss:.1f}x the RSS"
    )
    print(
        f"with a session / lock with nothing to open: {s_wall / l_wall:.2f}x the time "
        f"({(s_wall - l_wall) * 1000:.0f} ms for the session, the vault and the listing)"
    )
    print(
        f"in this process: vault opened with the session in {open_session * 1000:.1f} ms, "
        f"with the passphrase in {open_pass * 1000:.0f} ms"
    )
    met_s, met_rss = s_wall <= TARGET_S, s_rss <= TARGET_MIB
    print(f"target: with a session <= {TARGET_S} s wall — {verdict(met_s)} ({s_wall:.3f} s)")
    print(
        f"target: with a session <= {TARGET_MIB:.0f} MiB peak RSS — "
        f"{verdict(met_rss)} ({s_rss:.1f} MiB)"
    )
    write_rows(
        args.json,
        [
            Row("session", "triage list with a session", s_wall, "s", f"<= {TARGET_S} s", met_s),
            Row(
                "session",
                "triage list with a session, peak RSS",
                s_rss,
                "MiB",
                f"<= {TARGET_MIB:.0f} MiB",
                met_rss,
            ),
            Row("session", "triage list with the passphrase", p_wall, "s", "", None),
            Row("session", "triage list with the passphrase, peak RSS", p_rss, "MiB", "", None),
            Row("session", "without / with a session", p_wall / s_wall, "x", "", None),
            Row("session", "lock, nothing to open (floor)", l_wall, "s", "", None),
            Row("session", "--version (imports only)", v_wall, "s", "", None),
            Row("session", "vault open with a session, in-process", open_session, "s", "", None),
            Row(
                "session",
                "triage list with a session, CPU",
                statistics.median(cpu["session"]),
                "s",
                "",
                None,
            ),
        ],
    )


if __name__ == "__main__":
    main()
