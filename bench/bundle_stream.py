"""Seal and import a large attachment, against the stock age binary on the same file.

Runs, in one script, on one file:
  - ``reprisal-report seal`` of a case holding the file (reads the encrypted vault,
    signs, pads, encrypts to the org's coordinators) vs ``age -r RECIPIENT``;
  - ``reprisal-report inbox import`` of the bundle (decrypts, verifies, stores into the
    encrypted vault) vs ``age -d -i IDENTITY``.
Each command is a child process; its wall time and peak RSS (``ru_maxrss``) are taken.

    python bench/bundle_stream.py [--mib 1024]

Setup uses the library-minimum Argon2id cost so key derivation (0.5 s by design) does
not blur the streaming figures; attaching the file is setup, not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "src" / "reprisal_report" / "examples" / "case-example.yaml"


def run(
    args: list[str], env: dict[str, str], stdout: int | IO[bytes] = subprocess.PIPE
) -> tuple[float, float, bytes]:
    """(seconds, peak RSS in MiB, stdout) of one child, measured by /usr/bin/time."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "RSS_KB=%M", *args],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{args[:3]} failed: {done.stderr.decode()[-500:]}")
    rss_line = [x for x in done.stderr.decode().splitlines() if x.startswith("RSS_KB=")][-1]
    out = done.stdout if isinstance(done.stdout, bytes) else b""
    return seconds, int(rss_line.split("=")[1]) / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    age = shutil.which("age")
    if age is None:
        sys.exit("the stock age binary is needed (apt-get install age)")
    rr = [sys.executable, "-m", "reprisal_report"]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        t = Path(tmp)
        env = {
            **os.environ,
            "REPRISAL_REPORT_PASSPHRASE": "benchmark passphrase",
            "REPRISAL_REPORT_INSECURE_TEST_KDF": "1",
            "NO_COLOR": "1",
        }

        def cli(home: str, *a: str) -> bytes:
            return run([*rr, "--home", str(t / home), *a], env)[2]

        cli("c", "init", "--role", "coordinator")
        cli("r", "init", "--role", "reporter")
        fpr = json.loads(cli("c", "org", "create", "--name", "Bench", "--json"))["root_fingerprint"]
        cli("r", "id", "card", "--out", str(t / "r.id"))
        from reprisal_report.identity.idcard import parse_card

        ident = parse_card((t / "r.id").read_bytes())
        enrol = ["--role", ident.role, "--fingerprint", ident.fingerprint]
        cli("c", "org", "enroll", str(t / "r.id"), *enrol)
        cli("c", "org", "card", "--out", str(t / "org.json"))
        cli("r", "org", "join", str(t / "org.json"), "--fingerprint", fpr)
        case_id = cli("r", "case", "new", "--from", str(EXAMPLE)).decode().strip()
        big = t / "big.bin"
        with big.open("wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(1024 * 1024))
        cli("r", "case", "attach", case_id, str(big), "--keep-metadata")
        cli("c", "id", "export-age", "--out", str(t / "id.age"))
        recipient = json.loads(cli("c", "id", "show", "--json"))["age_recipient"]

        with (t / "ref.age").open("wb") as out:
            age_enc = run([age, "-r", recipient, "-o", str(t / "ref.age"), str(big)], env, out)
        seal = run([*rr, "--home", str(t / "r"), "seal", case_id, "--json"], env)
        bundle = next((t / "r" / "outbox").glob("*.rrb"))
        age_dec = run([age, "-d", "-i", str(t / "id.age"), "-o", os.devnull, str(bundle)], env)
        imp = run([*rr, "--home", str(t / "c"), "inbox", "import", str(bundle)], env)

    print(f"{args.mib} MiB attachment, {os.cpu_count()} cores")
    print(f"{'step':34} {'seconds':>8} {'ratio to age':>13}")
    print(f"{'age -r (reference)':34} {age_enc[0]:8.2f} {1:13.2f}")
    print(f"{'reprisal-report seal':34} {seal[0]:8.2f} {seal[0] / age_enc[0]:13.2f}")
    print(f"{'age -d (reference)':34} {age_dec[0]:8.2f} {1:13.2f}")
    print(f"{'reprisal-report inbox import':34} {imp[0]:8.2f} {imp[0] / age_dec[0]:13.2f}")
    print(
        f"peak RSS: age -r {age_enc[1]:.0f} MiB, seal {seal[1]:.0f} MiB, "
        f"age -d {age_dec[1]:.0f} MiB, import {imp[1]:.0f} MiB"
    )
    for name, rss in (("seal", seal[1]), ("import", imp[1])):
        print(
            f"target: {name} peak RSS <= 64 MiB — {'PASS' if rss <= 64 else 'FAIL'} ({rss:.0f} MiB)"
        )
    for name, ratio in (("seal", seal[0] / age_enc[0]), ("import", imp[0] / age_dec[0])):
        print(f"target: {name} <= 0.75x age — {'PASS' if ratio <= 0.75 else 'FAIL'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
