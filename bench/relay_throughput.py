"""1,000 bundles of 64 KiB pushed and pulled through a loopback relay, against cp.

Setup (not timed) creates a coordinator, a reporter and a relay, and seals N cases each
carrying a 64 KiB attachment. Timed, as child processes: ``sync push --to URL`` and
``sync pull --from URL`` through ``relay serve`` on 127.0.0.1, and ``cp`` of the same
bundle files into a fresh folder as the reference. Target: push + pull <= 15 s.

    python bench/relay_throughput.py [--bundles 1000]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"  # setup speed only

from reprisal_report.model.case import parse_case_bytes
from reprisal_report.relay.keys import init_relay
from reprisal_report.workflows import (
    coordinator,
    demo,
    membership,
    profile,
    reporter,
    sealing,
)

PASS = "benchmark passphrase"  # noqa: S105 - throw-away benchmark vaults


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def setup(t: Path, n: int, url: str) -> None:
    profile.init_profile(t / "c", PASS, "coordinator", None)
    profile.init_profile(t / "r", PASS, "reporter", None)
    relay_card = init_relay(t / "relay")
    with profile.open_profile(t / "c", PASS) as v:
        card = coordinator.create_org(v, "Bench", [url], 90)
    with profile.open_profile(t / "r", PASS) as v:
        reporter_card = membership.identity_card(v)
    with profile.open_profile(t / "c", PASS) as v:
        for id_card in (reporter_card, relay_card):
            seen = coordinator.preview_identity_card(id_card)
            coordinator.enroll(v, id_card, 90, role=seen.role, fingerprint=seen.fingerprint)
        (t / "org.json").write_bytes(coordinator.current_card(v))
    record = parse_case_bytes(demo.example_case_bytes(), source_name="case.yaml")
    with profile.open_profile(t / "r", PASS) as v:
        membership.join_org(v, (t / "org.json").read_bytes(), card.root_fingerprint)
        for _ in range(n):
            case_id = reporter.new_case(v, record, None)
            blob = io.BytesIO(os.urandom(64 * 1024))
            reporter.attach_files_from_streams(v, case_id, [("evidence.bin", blob)])
            sealing.seal_case(v, t / "r", reporter.show_case(v, case_id).row)


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{args[3:6]} failed: {done.stderr.decode()[-400:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=1000)
    args = parser.parse_args()
    rr = [sys.executable, "-m", "reprisal_report"]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        setup(t, args.bundles, url)
        env = {**os.environ, "REPRISAL_REPORT_PASSPHRASE": PASS}
        relay = subprocess.Popen(
            [
                *rr,
                "relay",
                "serve",
                "--data",
                str(t / "relay"),
                "--org",
                str(t / "org.json"),
                "--port",
                str(port),
                "--quota-mib",
                "4096",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            bundles = sorted((t / "r" / "outbox").glob("*.rrb"))
            (t / "copy").mkdir()
            cp = timed(["cp", *map(str, bundles), str(t / "copy")], env)
            push = timed([*rr, "--home", str(t / "r"), "sync", "push", "--to", url], env)
            pull = timed([*rr, "--home", str(t / "c"), "sync", "pull", "--from", url], env)
        finally:
            relay.kill()
            relay.wait()
        size = sum(b.stat().st_size for b in bundles) / 2**20
    n = args.bundles
    print(f"{n} bundles, {size:.0f} MiB in all")
    print(f"{'step':22} {'seconds':>8} {'bundles/s':>10} {'ratio to cp':>12}")
    for name, sec in (("cp (reference)", cp), ("sync push", push), ("sync pull", pull)):
        print(f"{name:22} {sec:8.2f} {n / sec:10.0f} {sec / cp:12.1f}")
    total = push + pull
    print(f"target: push + pull <= 15 s — {'PASS' if total <= 15 else 'FAIL'} ({total:.1f} s)")
    shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
