"""Attach, seal and import a large random file, against stock age on the same file.

In one run, on one file (default 1 GiB, ``--size-mib``), ``--rounds`` times (default
3), each command a child process whose wall time, CPU seconds and peak RSS (GNU
``/usr/bin/time``) are taken, the references and our commands interleaved round by
round so a slow spell of the machine hits both sides:

  - ``case attach`` (sanitise-free: ``--keep-metadata``) vs ``age -r RECIPIENT -o F``;
  - ``seal`` of the case vs the same ``age -r`` (what sealing must at least do);
  - ``inbox import`` of the bundle vs ``age -d -o FILE`` (the stock tool doing the
    equivalent job, decrypting to a file) and vs ``age -d -o /dev/null``.

Each round gives a ratio per command (to the reference of the same round); the median
of the rounds is judged. Targets: attach <= 1.5x, seal <= 1.75x ``age -r``; import <=
1.25x ``age -d -o FILE``; peak RSS <= 64 MiB each (the highest of the rounds).

Where the time goes: the floors of the work each command must do, measured in this
process on the same file (pyrage encryption and decryption, hashlib SHA-256, ``cp``
for writing a file of that size, one fsync of it), and each command's CPU seconds
(user, system) beside its wall time. The commands spread their work over a forked
decrypting process and a writing thread, so a profile of one thread would no longer
say where the time goes; the floors and the CPU seconds do.

    python bench/bundle_stream.py [--size-mib 1024] [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    EXAMPLE,
    MIB,
    RR,
    Child,
    Row,
    bench_env,
    run_child,
    tree_size,
    verdict,
    write_rows,
)

TARGETS = {"attach": 1.5, "seal": 1.75, "import": 1.25}
RSS_LIMIT_MIB = 64.0
JUDGED_FROM_MIB = 256  # below, start-up (about 1 s a command) is most of the time


def random_file(path: Path, mib: int) -> None:
    with path.open("wb") as handle:
        for _ in range(mib):
            handle.write(os.urandom(MIB))


def floors(path: Path, bundle: Path, identity: str) -> dict[str, float]:
    """Seconds of the work the commands cannot avoid, in this process, on this file."""
    import pyrage

    key = pyrage.x25519.Identity.from_str(identity)
    out: dict[str, float] = {"SHA-256": sha256_seconds(path)}

    class Null:
        def write(self, data: bytes) -> int:
            return len(data)

        def flush(self) -> None:
            return None

    start = time.perf_counter()
    with path.open("rb") as handle:
        pyrage.encrypt_io(handle, Null(), [key.to_public()])
    out["pyrage encrypt"] = time.perf_counter() - start
    start = time.perf_counter()
    with bundle.open("rb") as handle:
        pyrage.decrypt_io(handle, Null(), [key])
    out["pyrage decrypt"] = time.perf_counter() - start
    copy = path.with_name("floor-copy.bin")
    start = time.perf_counter()
    shutil.copyfile(path, copy)
    out["write (copy)"] = time.perf_counter() - start
    start = time.perf_counter()
    fd = os.open(copy, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    out["fsync"] = time.perf_counter() - start
    copy.unlink()
    return out


def sha256_seconds(path: Path) -> float:
    """The floor for hashing: hashlib over the file, 1 MiB at a time, in this process."""
    start = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return time.perf_counter() - start


class Bench:
    def __init__(self, t: Path) -> None:
        self.t = t
        self.env = bench_env()
        self.age = shutil.which("age") or sys.exit("bench: error: the stock age binary is needed")
        from typer.testing import CliRunner

        self.runner = CliRunner()

    def setup_cli(self, home: str, *args: str) -> str:
        """Setup steps run in-process through the real CLI (not timed)."""
        from reprisal_report.cli.app import app

        res = self.runner.invoke(app, ["--home", str(self.t / home), *args], env=self.env)
        if res.exit_code != 0:
            sys.exit(f"bench: error: setup {args[:2]} failed: {res.stderr[-400:]}")
        return res.stdout

    def rr(self, home: str, *args: str) -> Child:
        return run_child([*RR, "--home", str(self.t / home), *args], self.env)

    def world(self) -> str:
        """Coordinator ``c`` and reporter ``r`` in one org; returns the age recipient."""
        os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"
        self.setup_cli("c", "init", "--role", "coordinator")
        self.setup_cli("r", "init", "--role", "reporter")
        org = json.loads(self.setup_cli("c", "org", "create", "--name", "Bench", "--json"))
        card = self.t / "r.id"
        self.setup_cli("r", "id", "card", "--out", str(card))
        from reprisal_report.identity.idcard import parse_card

        ident = parse_card(card.read_bytes())
        self.setup_cli(
            "c",
            "org",
            "enroll",
            str(card),
            "--role",
            ident.role,
            "--fingerprint",
            ident.fingerprint,
        )
        self.setup_cli("c", "org", "card", "--out", str(self.t / "org.json"))
        self.setup_cli(
            "r",
            "org",
            "join",
            str(self.t / "org.json"),
            "--fingerprint",
            org["root_fingerprint"],
        )
        self.setup_cli("c", "id", "export-age", "--out", str(self.t / "id.age"))
        return str(json.loads(self.setup_cli("c", "id", "show", "--json"))["age_recipient"])

    def new_case(self) -> str:
        return self.setup_cli("r", "case", "new", "--from", str(EXAMPLE)).strip()

    def bundle_of(self, seal: Child) -> Path:
        bundle_id = json.loads(seal.stdout)["bundles"][0]["id"]
        return self.t / "r" / "outbox" / f"{bundle_id}.rrb"


def one_round(b: Bench, t: Path, big: Path, recipient: str) -> dict[str, Child]:
    """age -r, attach, seal, age -d (file, /dev/null), import: one case, one file."""
    case_id = b.new_case()
    out: dict[str, Child] = {}
    out["age -r"] = run_child([b.age, "-r", recipient, "-o", str(t / "ref.age"), str(big)], b.env)
    (t / "ref.age").unlink()
    out["attach"] = b.rr("r", "case", "attach", case_id, str(big), "--keep-metadata")
    out["seal"] = b.rr("r", "seal", case_id, "--json")
    bundle = b.bundle_of(out["seal"])
    dec = t / "dec.bin"
    identity = ["-i", str(t / "id.age")]
    out["age -d -o FILE"] = run_child([b.age, "-d", *identity, "-o", str(dec), str(bundle)], b.env)
    dec.unlink()
    out["age -d -o /dev/null"] = run_child(
        [b.age, "-d", *identity, "-o", os.devnull, str(bundle)], b.env
    )
    out["import"] = b.rr("c", "inbox", "import", str(bundle), "--json")
    if json.loads(out["import"].stdout).get("imported") != 1:
        sys.exit(f"bench: error: import did not import the bundle: {out['import'].stdout[:300]!r}")
    return out


REFERENCE = {"attach": "age -r", "seal": "age -r", "import": "age -d -o FILE"}
# The passes over the whole file each command cannot avoid (floor names).
UNAVOIDABLE = {
    "attach": ("pyrage encrypt", "SHA-256"),
    "seal": ("pyrage decrypt", "pyrage encrypt", "SHA-256", "SHA-256"),
    "import": ("pyrage decrypt", "SHA-256", "SHA-256"),
}
SHOWN = (
    ("age -r (reference)", "age -r"),
    ("reprisal-report case attach", "attach"),
    ("reprisal-report seal", "seal"),
    ("age -d -o FILE (reference)", "age -d -o FILE"),
    ("age -d -o /dev/null (reference)", "age -d -o /dev/null"),
    ("reprisal-report inbox import", "import"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", "--mib", type=int, default=1024, help="default 1024")
    parser.add_argument("--rounds", type=int, default=3, help="default 3")
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    size = args.size_mib
    if args.rounds < 1:
        sys.exit("bench: error: --rounds must be at least 1")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        t = Path(tmp)
        b = Bench(t)
        recipient = b.world()
        big = t / "big.bin"
        random_file(big, size)
        rounds = [one_round(b, t, big, recipient) for _ in range(args.rounds)]
        last_bundle = b.bundle_of(rounds[-1]["seal"])
        bundle_mib = last_bundle.stat().st_size / MIB
        floor = floors(big, last_bundle, (t / "id.age").read_text().split()[-1])
        profile_sizes = {"reporter": tree_size(t / "r"), "coordinator": tree_size(t / "c")}

    print(
        f"{size} MiB random file (bundle {bundle_mib:.0f} MiB), {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}, profiles with the test KDF, {args.rounds} rounds"
    )
    print(f"{'command':32} {'seconds per round':>24} {'user':>6} {'sys':>6} {'peak RSS':>9}")
    for label, key in SHOWN:
        runs = [r[key] for r in rounds]
        secs = " ".join(f"{c.seconds:6.2f}" for c in runs)
        print(
            f"{label:32} {secs:>24} {statistics.median(c.user for c in runs):6.2f} "
            f"{statistics.median(c.system for c in runs):6.2f} "
            f"{max(c.rss_mib for c in runs):6.0f} MiB"
        )
    print(
        "floors in this process (seconds): "
        + ", ".join(f"{name} {value:.2f}" for name, value in floor.items())
    )
    print(
        f"profile folders after {args.rounds} rounds: reporter "
        f"{profile_sizes['reporter'] / MIB:.0f} MiB, coordinator "
        f"{profile_sizes['coordinator'] / MIB:.0f} MiB"
    )
    print()
    rows: list[Row] = []
    for name, ref_name in REFERENCE.items():
        ratios = [r[name].seconds / r[ref_name].seconds for r in rounds]
        ratio = statistics.median(ratios)
        met = ratio <= TARGETS[name] if size >= JUDGED_FROM_MIB else None
        judged = verdict(met) if met is not None else f"not judged below {JUDGED_FROM_MIB} MiB"
        each = ", ".join(f"{x:.2f}x" for x in ratios)
        print(
            f"target: {name} <= {TARGETS[name]}x {ref_name} — {judged} "
            f"(median {ratio:.2f}x; rounds {each})"
        )
        rows.append(Row("stream", f"{name} / {ref_name}", ratio, "x", f"<= {TARGETS[name]}x", met))
    null_ratio = statistics.median(
        r["import"].seconds / r["age -d -o /dev/null"].seconds for r in rounds
    )
    print(f"(import / age -d -o /dev/null: median {null_ratio:.2f}x, no target)")
    rows.append(Row("stream", "import / age -d -o /dev/null", null_ratio, "x", "", None))
    for name in REFERENCE:
        rss = max(r[name].rss_mib for r in rounds)
        met = rss <= RSS_LIMIT_MIB
        limit = f"{RSS_LIMIT_MIB:.0f} MiB"
        print(f"target: {name} peak RSS <= {limit} — {verdict(met)} ({rss:.0f} MiB)")
        rows.append(
            Row("stream", f"{name} peak RSS", rss, "MiB", f"<= {RSS_LIMIT_MIB:.0f} MiB", met)
        )
    print()
    print("where the time goes: each command's wall time against the floors above")
    for name in REFERENCE:
        runs = [r[name] for r in rounds]
        wall = statistics.median(c.seconds for c in runs)
        cpu = statistics.median(c.user + c.system for c in runs)
        print(
            f"  {name:7} wall {wall:6.2f} s, CPU {cpu:6.2f} s "
            f"({cpu / wall:.1f} cores busy on average)"
        )
    print(
        "  (attach must encrypt, hash and write; seal decrypt, encrypt, hash twice and "
        "write; import write, hash twice and decrypt)"
    )
    cores = os.cpu_count() or 1
    print(f"the limit of each: its unavoidable passes on {cores} cores, writes not counted")
    for name, passes in UNAVOIDABLE.items():
        work = [floor[p] for p in passes]
        best = max(sum(work) / cores, max(work))  # one pass runs on one core
        ref = statistics.median(r[REFERENCE[name]].seconds for r in rounds)
        reachable = "within" if best / ref <= TARGETS[name] else "ABOVE"
        print(
            f"  {name:7} {' + '.join(passes)}: at best {best:.2f} s, "
            f"{best / ref:.2f}x the median {REFERENCE[name]} ({reachable} the "
            f"{TARGETS[name]}x target before any write)"
        )
    print(
        "  (the references leave their output in the page cache; each command here also "
        f"waits until its file is on disk before the vault commits: fsync floor "
        f"{floor['fsync']:.2f} s, partly overlapped with the work)"
    )
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
