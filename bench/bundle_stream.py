"""Attach, seal and import a large random file, against stock age on the same file.

In one run, on one file (default 1 GiB, ``--size-mib``), each command a child process
whose wall time and own peak RSS (``ru_maxrss`` via ``os.wait4``) are taken:

  - ``case attach`` (sanitise-free: ``--keep-metadata``) vs ``age -r RECIPIENT -o F``;
  - ``seal`` of the case vs the same ``age -r`` (what sealing must at least do);
  - ``inbox import`` of the bundle vs ``age -d -o FILE`` (the stock tool doing the
    equivalent job, decrypting to a file) and vs ``age -d -o /dev/null``.

Targets: attach <= 1.5x, seal <= 1.75x ``age -r``; import <= 1.25x ``age -d -o FILE``;
peak RSS <= 64 MiB each. Profiles use the test KDF so the Argon2id cost does not count.

Where the time goes: each of the three commands is run once more under cProfile on a
smaller file (``--profile-mib``, default min(size, 256)), and the profile's own time is
grouped into imports, age (pyrage), SHA-256 (hashlib), SQLCipher, fsync, file writes,
file reads, and the rest (Python). cProfile adds overhead to Python-level calls, so the
"rest" share is an upper bound; the C-level shares are what the machine pays.

    python bench/bundle_stream.py [--size-mib 1024] [--profile-mib N] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pstats
import shutil
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
IMPORTING = {
    "<built-in method builtins.compile>",
    "<built-in method builtins.exec>",
    "<built-in method marshal.loads>",
    "<built-in method _imp.create_dynamic>",
    "<built-in method builtins.__build_class__>",
}
CATEGORIES = (
    "imports",
    "age (pyrage)",
    "SHA-256",
    "SQLCipher",
    "fsync",
    "write",
    "read",
    "rest (Python)",
)


def category(key: tuple[str, int, str]) -> str:
    file, _, name = key
    text = f"{file}:{name}".lower()
    if file.startswith("<frozen importlib") or name in IMPORTING:
        return "imports"
    if "pyrage" in text or "crypt_io" in text:
        return "age (pyrage)"
    if "_hashlib" in text or "sha256" in text or "openssl_" in text:
        return "SHA-256"
    if "sqlcipher" in text or "sqlite" in text:
        return "SQLCipher"
    if file == "~" and "fsync" in name:
        return "fsync"
    if file == "~" and ("write" in name or "rename" in name):
        return "write"
    if file == "~" and ("read" in name or "seek" in name):
        return "read"
    return "rest (Python)"


def phases(prof: Path) -> dict[str, float]:
    """Seconds of own time per category in one cProfile output file."""
    stats = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    out = dict.fromkeys(CATEGORIES, 0.0)
    for key, (_cc, _nc, tottime, _ct, _callers) in stats.items():
        out[category(key)] += tottime
    return out


def random_file(path: Path, mib: int) -> None:
    with path.open("wb") as handle:
        for _ in range(mib):
            handle.write(os.urandom(MIB))


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

    def rr(self, home: str, *args: str, profile: Path | None = None) -> Child:
        head = (
            RR
            if profile is None
            else [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "reprisal_report"]
        )
        return run_child([*head, "--home", str(self.t / home), *args], self.env)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", "--mib", type=int, default=1024, help="default 1024")
    parser.add_argument("--profile-mib", type=int, help="default min(size, 256)")
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    size = args.size_mib
    prof_size = args.profile_mib or min(size, 256)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        t = Path(tmp)
        b = Bench(t)
        recipient = b.world()
        big = t / "big.bin"
        random_file(big, size)
        case_id = b.new_case()
        age_r = run_child([b.age, "-r", recipient, "-o", str(t / "ref.age"), str(big)], b.env)
        (t / "ref.age").unlink()
        attach = b.rr("r", "case", "attach", case_id, str(big), "--keep-metadata")
        seal = b.rr("r", "seal", case_id, "--json")
        bundle = b.bundle_of(seal)
        bundle_mib = bundle.stat().st_size / MIB
        dec = t / "dec.bin"
        age_d = run_child(
            [b.age, "-d", "-i", str(t / "id.age"), "-o", str(dec), str(bundle)], b.env
        )
        dec.unlink()
        age_null = run_child(
            [b.age, "-d", "-i", str(t / "id.age"), "-o", os.devnull, str(bundle)], b.env
        )
        imp = b.rr("c", "inbox", "import", str(bundle), "--json")
        if json.loads(imp.stdout).get("imported") != 1:
            sys.exit(f"bench: error: import did not import the bundle: {imp.stdout[:300]!r}")
        sha = sha256_seconds(big)
        cp = run_child(["cp", str(big), str(t / "copy.bin")], b.env)
        (t / "copy.bin").unlink()
        profile_sizes = {"reporter": tree_size(t / "r"), "coordinator": tree_size(t / "c")}

        # where the time goes: the same three commands under cProfile, smaller file
        small = t / "small.bin"
        random_file(small, prof_size)
        big.unlink()
        case2 = b.new_case()
        profs = {name: t / f"{name}.prof" for name in TARGETS}
        b.rr("r", "case", "attach", case2, str(small), "--keep-metadata", profile=profs["attach"])
        seal2 = b.rr("r", "seal", case2, "--json", profile=profs["seal"])
        b.rr("c", "inbox", "import", str(b.bundle_of(seal2)), profile=profs["import"])
        split = {name: phases(path) for name, path in profs.items()}

    measured = {
        "attach": (attach, age_r, "age -r"),
        "seal": (seal, age_r, "age -r"),
        "import": (imp, age_d, "age -d -o FILE"),
    }
    print(
        f"{size} MiB random file (bundle {bundle_mib:.0f} MiB), {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}, profiles with the test KDF"
    )
    print(f"{'command':32} {'seconds':>8} {'peak RSS':>9}")
    for name, child in (
        ("age -r (reference)", age_r),
        ("reprisal-report case attach", attach),
        ("reprisal-report seal", seal),
        ("age -d -o FILE (reference)", age_d),
        ("age -d -o /dev/null (reference)", age_null),
        ("reprisal-report inbox import", imp),
    ):
        print(f"{name:32} {child.seconds:8.2f} {child.rss_mib:6.0f} MiB")
    print(f"floors in this process: hashlib SHA-256 {sha:.2f} s, cp {cp.seconds:.2f} s")
    print(
        f"profile folders after import: reporter {profile_sizes['reporter'] / MIB:.0f} MiB, "
        f"coordinator {profile_sizes['coordinator'] / MIB:.0f} MiB"
    )
    print()
    rows: list[Row] = []
    for name, (child, ref, ref_name) in measured.items():
        ratio = child.seconds / ref.seconds
        met = ratio <= TARGETS[name] if size >= JUDGED_FROM_MIB else None
        judged = verdict(met) if met is not None else f"not judged below {JUDGED_FROM_MIB} MiB"
        print(f"target: {name} <= {TARGETS[name]}x {ref_name} — {judged} ({ratio:.2f}x)")
        rows.append(Row("stream", f"{name} / {ref_name}", ratio, "x", f"<= {TARGETS[name]}x", met))
    null_ratio = imp.seconds / age_null.seconds
    print(f"(import / age -d -o /dev/null: {null_ratio:.2f}x, no target)")
    rows.append(Row("stream", "import / age -d -o /dev/null", null_ratio, "x", "", None))
    for name, (child, _, _) in measured.items():
        met = child.rss_mib <= RSS_LIMIT_MIB
        print(
            f"target: {name} peak RSS <= {RSS_LIMIT_MIB:.0f} MiB — {verdict(met)} "
            f"({child.rss_mib:.0f} MiB)"
        )
        rows.append(
            Row(
                "stream",
                f"{name} peak RSS",
                child.rss_mib,
                "MiB",
                f"<= {RSS_LIMIT_MIB:.0f} MiB",
                met,
            )
        )
    print()
    print(f"where the time goes (own time under cProfile, {prof_size} MiB file):")
    print(f"{'command':8} " + " ".join(f"{c:>13}" for c in CATEGORIES))
    for name, parts in split.items():
        total = sum(parts.values()) or 1.0
        cells = " ".join(f"{parts[c]:7.2f}s {100 * parts[c] / total:3.0f}%" for c in CATEGORIES)
        print(f"{name:8} {cells}")
    print("(imports: interpreter start-up and module loading, paid once per command)")
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
