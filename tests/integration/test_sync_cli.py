"""Delivery through the real CLI: folder and relay round trips, purge, crash recovery.

The relay is the real ``reprisal-report relay serve`` in a child process on a free
loopback port; the crash test kills pushers, pullers and the relay with SIGKILL at
random moments and then checks that every bundle arrived exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli
from tests.integration.enrolment import enroll_args

ERR = "reprisal-report: error: "


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RelayProcess:
    def __init__(self, data: Path, card: Path, port: int, env: dict[str, str]) -> None:
        self.args = [
            sys.executable,
            "-m",
            "reprisal_report",
            "relay",
            "serve",
            "--data",
            str(data),
            "--org",
            str(card),
            "--port",
            str(port),
        ]
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("relay did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class World:
    coordinator: Cli
    reporter: Cli
    dir: Path
    relay: RelayProcess
    env: dict[str, str]

    def new_sealed_cases(self, n: int) -> list[str]:
        for _ in range(n):
            self.reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))
        out = json.loads(self.reporter.ok("seal", "--all", "--json").stdout)
        return [b["id"] for b in out["bundles"]]

    def outbox_ids(self) -> list[str]:
        with open_profile(self.reporter.home, PASSPHRASE) as vault:
            return sorted(r[0] for r in vault.conn.execute("SELECT bundle_id FROM outbox"))

    def inbox_ids(self) -> list[str]:
        with open_profile(self.coordinator.home, PASSPHRASE) as vault:
            return sorted(r[0] for r in vault.conn.execute("SELECT bundle_id FROM inbox_bundles"))

    def cli_process(self, cli: Cli, *args: str) -> subprocess.Popen[bytes]:
        env = {**self.env, **cli.env}
        return subprocess.Popen(
            [sys.executable, "-m", "reprisal_report", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}


@pytest.fixture
def world(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[World]:
    coordinator, reporter = make_cli("coord"), make_cli("rep")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    coordinator.ok(
        "relay", "init", "--data", str(tmp_path / "relay"), "--card-out", str(tmp_path / "relay.id")
    )
    fpr = json.loads(
        coordinator.ok("org", "create", "--name", "Org", "--relay", url, "--json").stdout
    )["root_fingerprint"]
    reporter.ok("id", "card", "--out", str(tmp_path / "rep.id"))
    coordinator.ok("org", "enroll", *enroll_args(tmp_path / "rep.id"))
    coordinator.ok("org", "enroll", *enroll_args(tmp_path / "relay.id"))
    card = tmp_path / "org.json"
    coordinator.ok("org", "card", "--out", str(card))
    reporter.ok("org", "join", str(card), "--fingerprint", fpr)
    relay = RelayProcess(tmp_path / "relay", card, port, _env())
    relay.start()
    try:
        yield World(coordinator, reporter, tmp_path, relay, _env())
    finally:
        relay.kill()


def test_folder_round_trip_is_idempotent(world: World) -> None:
    ids = world.new_sealed_cases(3)
    usb = world.dir / "usb"
    usb.mkdir()
    first = json.loads(world.reporter.ok("sync", "push", "--to", str(usb), "--json").stdout)
    assert (first["delivered"], first["skipped"], first["failed"]) == (3, 0, [])
    assert sorted(p.stem for p in usb.iterdir()) == sorted(ids)
    again = json.loads(world.reporter.ok("sync", "push", "--to", str(usb), "--json").stdout)
    assert (again["delivered"], again["skipped"]) == (0, 3)
    pulled = json.loads(world.coordinator.ok("sync", "pull", "--from", str(usb), "--json").stdout)
    assert (pulled["imported"], pulled["skipped"]) == (3, 0)
    pulled = json.loads(
        world.coordinator.ok(
            "sync", "pull", "--from", str(usb), "--remove-after-import", "--json"
        ).stdout
    )
    assert (pulled["imported"], pulled["skipped"]) == (0, 3)
    assert list(usb.iterdir()) == []
    assert world.inbox_ids() == sorted(ids)
    # A folder gives no receipt: nothing was purged.
    states = {c["state"] for c in json.loads(world.reporter.ok("case", "list", "--json").stdout)}
    assert states == {"sealed"}


def test_missing_folder_is_exit_1(world: World) -> None:
    result = world.reporter("sync", "push", "--to", str(world.dir / "not-mounted"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no such folder: {world.dir / 'not-mounted'}"


def test_relay_round_trip_with_receipts_and_purge(world: World) -> None:
    ids = world.new_sealed_cases(2)
    pushed = world.reporter("sync", "push", "--to", world.relay.url, "--json")
    assert pushed.exit_code == 0, pushed.stderr
    doc = json.loads(pushed.stdout)
    assert (doc["delivered"], doc["failed"]) == (2, [])
    assert len(doc["purged"]) == 2
    assert "its plaintext was purged from this device" in pushed.stderr
    listed = json.loads(world.reporter.ok("case", "list", "--json").stdout)
    assert {c["state"] for c in listed} == {"purged"}
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        receipts = [json.loads(r[0]) for r in vault.conn.execute("SELECT receipt FROM outbox")]
    assert sorted(r["index"] for r in receipts) == [0, 1]
    pulled = json.loads(
        world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    )
    assert (pulled["imported"], pulled["failed"]) == (2, [])
    again = json.loads(
        world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    )
    assert (again["imported"], again["skipped"]) == (0, 0)
    assert world.inbox_ids() == sorted(ids)


def test_relay_unknown_to_the_card_gets_bundles_but_no_purge(world: World, tmp_path: Path) -> None:
    other = RelayProcess(tmp_path / "other-relay", tmp_path / "org.json", free_port(), _env())
    world.coordinator.ok(
        "relay",
        "init",
        "--data",
        str(tmp_path / "other-relay"),
        "--card-out",
        str(tmp_path / "other.id"),
    )
    other.start()
    try:
        world.new_sealed_cases(1)
        result = world.reporter("sync", "push", "--to", other.url, "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["purged"] == []
        assert "receipts cannot be verified" in result.stderr
    finally:
        other.kill()


def test_unreachable_relay_is_exit_1(world: World) -> None:
    world.new_sealed_cases(1)
    url = f"http://127.0.0.1:{free_port()}"
    result = world.reporter("sync", "push", "--to", url)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"{ERR}")
    assert "relay" in result.stderr.splitlines()[0]


def _crash_runs(world: World, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(runs):
        world.new_sealed_cases(rng.choice([1, 2]))
        victim = rng.choice(["push", "pull", "relay"])
        push = world.cli_process(world.reporter, "sync", "push", "--to", world.relay.url)
        if victim == "push":
            time.sleep(rng.uniform(0.0, 1.2))
            push.send_signal(signal.SIGKILL)
        elif victim == "relay":
            time.sleep(rng.uniform(0.3, 1.2))
            world.relay.kill()
        push.wait(timeout=120)
        if victim == "relay":
            world.relay.start()
        pull = world.cli_process(world.coordinator, "sync", "pull", "--from", world.relay.url)
        if victim == "pull":
            time.sleep(rng.uniform(0.0, 1.2))
            pull.send_signal(signal.SIGKILL)
        pull.wait(timeout=120)
    # Finish the job: whatever was interrupted is completed by ordinary reruns.
    for _ in range(2):
        world.reporter.ok("sync", "push", "--to", world.relay.url)
        world.coordinator.ok("sync", "pull", "--from", world.relay.url)
    outbox, inbox = world.outbox_ids(), world.inbox_ids()
    assert inbox == outbox  # every bundle arrived, and exactly once
    assert len(set(inbox)) == len(inbox)
    world.reporter.ok("case", "list")
    world.coordinator.ok("triage", "list")


@pytest.mark.slow
def test_crash_anywhere_loses_and_duplicates_nothing(world: World) -> None:
    # Random kills take about a minute; the named crash points cover the same ground
    # deterministically in the default run.
    _crash_runs(world, runs=30, seed=1)


@pytest.mark.slow
def test_crash_anywhere_loses_and_duplicates_nothing_100_runs(world: World) -> None:
    _crash_runs(world, runs=100, seed=2)


def test_purge_removes_plaintext_attachments_and_the_bundle_file(world: World) -> None:
    evidence = world.dir / "evidence.txt"
    evidence.write_bytes(b"attachment that must leave the device")
    case_id = world.reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    world.reporter.ok("case", "attach", case_id, str(evidence), "--keep-metadata")
    [bundle_id] = [
        b["id"] for b in json.loads(world.reporter.ok("seal", case_id, "--json").stdout)["bundles"]
    ]
    world.reporter.ok("sync", "push", "--to", world.relay.url)
    shown = json.loads(world.reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["state"] == "purged" and shown["attachments"] == []
    assert "title" not in shown and "victims" not in shown
    assert not (world.reporter.home / "outbox" / f"{bundle_id}.rrb").exists()
    assert list((world.reporter.home / "blobs").iterdir()) == []
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        chunks = vault.conn.execute("SELECT count(*) FROM attachment_chunks").fetchone()[0]
        receipt = vault.conn.execute(
            "SELECT receipt FROM outbox WHERE bundle_id = ?", (bundle_id,)
        ).fetchone()[0]
    assert chunks == 0 and json.loads(receipt)["bundle_sha256"]


def test_purge_can_be_switched_off(world: World) -> None:
    world.reporter.ok("settings", "purge-after-delivery", "off")
    assert json.loads(world.reporter.ok("settings", "show", "--json").stdout) == {
        "purge_after_delivery": False
    }
    world.new_sealed_cases(1)
    pushed = json.loads(world.reporter.ok("sync", "push", "--to", world.relay.url, "--json").stdout)
    assert (pushed["delivered"], pushed["purged"]) == (1, [])
    states = {c["state"] for c in json.loads(world.reporter.ok("case", "list", "--json").stdout)}
    assert states == {"sealed"}


def test_plain_http_to_a_remote_host_is_refused(world: World) -> None:
    world.new_sealed_cases(1)
    result = world.reporter("sync", "push", "--to", "http://relay.example.org:8787")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{ERR}refusing plain http to relay.example.org: the network would see this "
        "device's key id",
        "hint: use an https:// relay URL, a .onion address over --proxy, or --allow-http",
    ]


def test_org_publish_tells_the_relay_about_a_revocation(world: World) -> None:
    world.new_sealed_cases(1)
    world.coordinator.ok(
        "org", "revoke", json.loads(world.reporter.ok("id", "show", "--json").stdout)["key_id"]
    )
    published = world.coordinator("org", "publish", world.relay.url)
    assert published.exit_code == 0, published.stderr
    assert "now serves card version" in published.stderr
    refused = world.reporter("sync", "push", "--to", world.relay.url)
    assert refused.exit_code == 3
    assert refused.stderr.splitlines()[0] == (
        f"{ERR}relay 127.0.0.1 refused the request: key is not enrolled in this org or is revoked"
    )


class Socks5Proxy:
    """A minimal SOCKS5 CONNECT proxy on 127.0.0.1 (no auth), standing in for Tor.

    It records the host names it was asked to resolve: with ``socks5h://`` the client
    must hand the name to the proxy rather than resolve it itself.
    """

    def __init__(self) -> None:
        import threading

        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.requested: list[str] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        import threading

        with client:
            greeting = client.recv(2)
            client.recv(greeting[1])
            client.sendall(b"\x05\x00")
            head = client.recv(4)
            if head[3] == 3:  # a domain name: resolved here, as Tor would
                host = client.recv(client.recv(1)[0]).decode()
            else:
                host = socket.inet_ntoa(client.recv(4))
            port = int.from_bytes(client.recv(2), "big")
            self.requested.append(host)
            upstream = socket.create_connection(("127.0.0.1", port), timeout=30)
            client.sendall(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")

            def pump(src: socket.socket, dst: socket.socket) -> None:
                try:
                    while data := src.recv(65536):
                        dst.sendall(data)
                except OSError:
                    pass
                finally:
                    dst.close()

            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
            pump(client, upstream)

    def close(self) -> None:
        self.running = False
        self.server.close()


def test_push_and_pull_through_a_socks5h_proxy(world: World) -> None:
    proxy = Socks5Proxy()
    try:
        ids = world.new_sealed_cases(1)
        port = world.relay.url.rsplit(":", 1)[1]
        # A name only the proxy can resolve, as with an onion service.
        url = f"http://localhost:{port}"
        via = f"socks5h://127.0.0.1:{proxy.port}"
        pushed = world.reporter("sync", "push", "--to", url, "--proxy", via, "--json")
        assert pushed.exit_code == 0, pushed.stderr
        assert json.loads(pushed.stdout)["delivered"] == 1
        pulled = world.coordinator("sync", "pull", "--from", url, "--proxy", via, "--json")
        assert pulled.exit_code == 0, pulled.stderr
        assert world.inbox_ids() == ids
        assert proxy.requested and set(proxy.requested) == {"localhost"}
    finally:
        proxy.close()


def test_a_missing_bundle_file_fails_alone(world: World) -> None:
    first, second = world.new_sealed_cases(2)
    (world.reporter.home / "outbox" / f"{first}.rrb").unlink()
    usb = world.dir / "usb2"
    usb.mkdir()
    result = world.reporter("sync", "push", "--to", str(usb), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["delivered"] == 1
    assert doc["failed"] == [{"id": first, "reason": "bundle file is missing from the outbox"}]
    assert [p.stem for p in usb.iterdir()] == [second]


def test_pull_refuses_plain_http_to_a_remote_host_unless_allowed(world: World) -> None:
    result = world.coordinator("sync", "pull", "--from", "http://relay.example.org:8787")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{ERR}refusing plain http to relay.example.org: the network would see this device's key id"
    )
    # 127.0.0.2 is not on the client's list of local hosts, yet stays on this machine.
    # Refused without the flag; with it the client tries, and finds no relay there.
    url = f"http://127.0.0.2:{free_port()}"
    refused = world.coordinator("sync", "pull", "--from", url)
    assert refused.exit_code == 2
    allowed = world.coordinator("sync", "pull", "--from", url, "--allow-http")
    assert allowed.exit_code == 1
    assert "refusing plain http" not in allowed.stderr
