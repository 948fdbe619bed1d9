"""What the benchmarks share: timed children with their own peak RSS, result rows for
``bench/run``, and the loopback world (profiles, org, relay) of the delivery benchmarks.

Nothing here listens beyond 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import copy
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "src" / "reprisal_report" / "examples" / "case-example.yaml"
PASS = "benchmark passphrase"  # noqa: S105 - throw-away benchmark vaults
RR = [sys.executable, "-m", "reprisal_report"]
MIB = 1024 * 1024


def bench_env() -> dict[str, str]:
    """The environment of every child: throw-away passphrase, the test KDF (so the
    Argon2id cost, 0.5 s by design, does not blur the figures), no colour."""
    return {
        **os.environ,
        "REPRISAL_REPORT_PASSPHRASE": PASS,
        "REPRISAL_REPORT_INSECURE_TEST_KDF": "1",
        "NO_COLOR": "1",
    }


@dataclass(frozen=True)
class Child:
    seconds: float
    rss_mib: float
    stdout: bytes
    user: float = float("nan")  # CPU seconds of the child and its own children
    system: float = float("nan")


TIME = "/usr/bin/time"


def run_child(
    args: list[str], env: dict[str, str], stdout: int | IO[bytes] = subprocess.PIPE
) -> Child:
    """Run one child; its wall time and its own peak RSS. Exits the benchmark if the
    child fails.

    The RSS comes from GNU ``/usr/bin/time -f %M`` when it is installed (the figure
    ``time -v`` prints as "Maximum resident set size"), with the CPU seconds (``%U``,
    ``%S``: the child's and those of its children it waited for). ``ru_maxrss`` of ``os.wait4``
    on our own child would be wrong: the forked child starts as a copy of this
    benchmark process (50 MiB with the app imported), and the high-water mark survives
    the ``exec``. Without GNU time the RSS is reported as NaN."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        head = [TIME, "-f", "%U %S %M", "-o", str(rss_file)] if os.path.exists(TIME) else []
        with (Path(tmp) / "err").open("w+b") as err:
            start = time.perf_counter()
            done = subprocess.run(
                [*head, *args], env=env, stdout=stdout, stderr=err, check=False, timeout=3600
            )
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace")[-600:]
                sys.exit(f"bench: error: {' '.join(args[:7])} failed ({done.returncode}): {tail}")
        words = rss_file.read_text().split() if rss_file.exists() else []
        figures = _figures(words[-3:]) if len(words) >= 3 else None
    out = done.stdout if isinstance(done.stdout, bytes) else b""
    if figures is None:
        return Child(seconds, float("nan"), out)
    user, system, rss_kib = figures
    return Child(seconds, rss_kib / 1024, out, user, system)


def _figures(words: list[str]) -> tuple[float, float, float] | None:
    """GNU time's ``%U %S %M`` (the last line it wrote), or None."""
    try:
        user, system, rss = (float(w) for w in words)
    except ValueError:
        return None
    return user, system, rss


@dataclass(frozen=True)
class Row:
    """One line of the table ``bench/run`` prints."""

    bench: str
    measure: str
    value: float
    unit: str
    target: str
    met: bool | None  # None: a figure shown for context, no target

    @property
    def verdict(self) -> str:
        return "—" if self.met is None else ("met" if self.met else "NOT met")


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def write_rows(path: str | None, rows: list[Row]) -> None:
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- the loopback world of the delivery benchmarks -------------------------------------


COUNTRIES = ("BI", "CD", "RW", "UG", "KE", "TZ", "ET", "SD", "CM", "NG", "ML", "BF")


def distinct_case(record: dict[str, Any], i: int) -> dict[str, Any]:
    """The example case made the ``i``-th of many different ones: its own victim, and a
    country and month shared with few others, so the coordinator's triage sees a few
    possible duplicates per case rather than every case duplicating every other (1,000
    copies of one case would measure duplicate detection at its worst, not delivery)."""
    case = copy.deepcopy(record)
    country, month = COUNTRIES[i % len(COUNTRIES)], i // len(COUNTRIES)
    case["country"] = country
    case["incident_date"] = f"{2010 + month // 12}-{month % 12 + 1:02d}"
    for cooperation in case.get("cooperation") or []:
        cooperation["date"] = "2009-06"
    for victim in case.get("victims") or []:
        victim["name"] = f"Person Number {i}"
        victim["aliases"] = [f"PN{i:06d}"]
    return case


def make_world(t: Path, bundles: int, relay_url: str, *, distinct: bool = False) -> None:
    """A coordinator (``t/c``), a reporter (``t/r``) and a relay key (``t/relay``) in
    one org, and ``bundles`` sealed cases of one 64 KiB random attachment each in the
    reporter's outbox. In-process through the workflows: 1,000 CLI runs would take
    minutes of setup that is not what is measured. With ``distinct`` each case is
    another one (``distinct_case``), otherwise all are the example case."""
    os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"
    from reprisal_report.model.case import parse_case_bytes
    from reprisal_report.relay.keys import init_relay
    from reprisal_report.workflows import coordinator, demo, membership, profile, reporter, sealing

    profile.init_profile(t / "c", PASS, "coordinator", None)
    profile.init_profile(t / "r", PASS, "reporter", None)
    relay_card = init_relay(t / "relay")
    with profile.open_profile(t / "c", PASS) as v:
        card = coordinator.create_org(v, "Bench", [relay_url], 90)
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
        for i in range(bundles):
            case_id = reporter.new_case(v, distinct_case(record, i) if distinct else record, None)
            blob = io.BytesIO(os.urandom(64 * 1024))
            reporter.attach_files_from_streams(v, case_id, [("evidence.bin", blob)])
            sealing.seal_case(v, t / "r", reporter.show_case(v, case_id).row)


class Relay:
    """``reprisal-report relay serve`` as a child on 127.0.0.1; killed on exit."""

    def __init__(self, t: Path, port: int, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        args = [*RR, "relay", "serve", "--data", str(t / "relay"), "--org", str(t / "org.json")]
        args += ["--host", "127.0.0.1", "--port", str(port), "--quota-mib", "4096"]
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def __enter__(self) -> Relay:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit("bench: error: relay serve exited at start")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        sys.exit("bench: error: relay serve did not answer /health within 30 s")

    def __exit__(self, *_: object) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def push_pull(t: Path, url: str, env: dict[str, str]) -> tuple[float, float, int, int]:
    """Time ``sync push --to URL`` then ``sync pull --from URL``; (push s, pull s,
    delivered, imported), checking that every bundle went through."""
    push = run_child([*RR, "--home", str(t / "r"), "sync", "push", "--to", url, "--json"], env)
    pull = run_child([*RR, "--home", str(t / "c"), "sync", "pull", "--from", url, "--json"], env)
    delivered = int(json.loads(push.stdout)["delivered"])
    imported = int(json.loads(pull.stdout)["imported"])
    return push.seconds, pull.seconds, delivered, imported


def copy_reference(t: Path, env: dict[str, str]) -> tuple[float, int, int]:
    """``cp`` of the outbox bundles into a fresh folder: (seconds, files, bytes). Run
    before ``sync push``, which purges delivered bundles from the outbox."""
    bundles = sorted((t / "r" / "outbox").glob("*.rrb"))
    (t / "copy").mkdir()
    cp = run_child(["cp", *map(str, bundles), str(t / "copy")], env)
    return cp.seconds, len(bundles), sum(b.stat().st_size for b in bundles)
