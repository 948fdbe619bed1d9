"""Real relays on 127.0.0.1 for the integration tests, and a real org around them.

- ``TestOrg``: a root key, coordinators, reporters, an auditor, and org cards signed
  with the real ``sign_card``; the relay's own key comes from the real ``init_relay``.
- ``start_relay_thread``: uvicorn in a background thread of the test process (the test
  can reach into ``RunningRelay.service``, e.g. to build a dishonest relay).
- ``start_relay_process``: uvicorn in a child process (true parallelism; kill -9).

Nothing listens beyond 127.0.0.1, every wait is bounded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.signing
import pyrage
import pytest

from reprisal_report.identity import encoding as enc
from reprisal_report.identity import idcard
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.identity.orgcard import Member, OrgCard, Revoked, sign_card
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.keys import init_relay
from reprisal_report.transport.relay_client import RelayClient

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Device:
    role: str
    label: str
    key: nacl.signing.SigningKey = field(repr=False)
    age_recipient: str | None = None

    @property
    def public(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def member(self) -> Member:
        return Member(
            self.key_id, self.role, self.label, self.public, self.age_recipient, _time(-1)
        )

    def revoked(self) -> Revoked:
        return Revoked(self.key_id, self.role, self.label, self.public, _time(0))


def _time(days: float) -> str:
    return enc.format_time(datetime.now(UTC) + timedelta(days=days))


def new_device(role: str, label: str) -> Device:
    recipient = None
    if role == "coordinator":
        recipient = str(pyrage.x25519.Identity.generate().to_public())
    return Device(role, label, nacl.signing.SigningKey.generate(), recipient)


class TestOrg:
    """An organisation with real keys; ``card()`` signs a version of its org card."""

    __test__ = False  # not a test class, despite the name

    def __init__(
        self,
        relay_card: bytes,
        *,
        reporters: int = 3,
        coordinators: int = 1,
        org_id: str = "org-relay-test",
    ):
        self.org_id = org_id
        self.root = nacl.signing.SigningKey.generate()
        self.coordinators = [
            new_device("coordinator", f"coordinator {i}") for i in range(coordinators)
        ]
        self.coordinator = self.coordinators[0]
        self.reporters = [new_device("reporter", f"reporter {i}") for i in range(reporters)]
        self.auditor = new_device("auditor", "auditor")
        identity = idcard.parse_card(relay_card)
        self.relay_public_key = identity.signing_key
        self.relay_member = Member(
            identity.key_id, "relay", identity.label, identity.signing_key, None, _time(-1)
        )
        self.stranger = new_device("reporter", "never enrolled")
        self.revoked: list[Device] = []
        self.version = 1

    @property
    def reporter(self) -> Device:
        return self.reporters[0]

    def devices(self) -> list[Device]:
        return [*self.coordinators, *self.reporters, self.auditor]

    def card(
        self,
        version: int | None = None,
        *,
        expires_in_days: float = 30,
        signers: list[nacl.signing.SigningKey] | None = None,
        root_keys: tuple[bytes, ...] | None = None,
    ) -> bytes:
        revoked_ids = {d.key_id for d in self.revoked}
        members = tuple(d.member() for d in self.devices() if d.key_id not in revoked_ids)
        card = OrgCard(
            org_id=self.org_id,
            name="Relay test org",
            version=self.version if version is None else version,
            issued=_time(-1),
            expires=_time(expires_in_days),
            root_keys=root_keys or (bytes(self.root.verify_key),),
            members=(*members, self.relay_member),
            revoked=tuple(d.revoked() for d in self.revoked),
            relays=("http://127.0.0.1/",),
        )
        return sign_card(card, signers or [self.root])

    def revoke(self, device: Device) -> bytes:
        """The next card version, with ``device`` revoked."""
        self.revoked.append(device)
        self.version += 1
        return self.card()


@dataclass
class RunningRelay:
    url: str
    data_dir: Path
    card_path: Path
    org: TestOrg
    service: Any = None
    _stop: Callable[[], None] | None = None
    process: subprocess.Popen[bytes] | None = None

    def client(self, device: Device, *, verify: bool = True, **options: Any) -> RelayClient:
        return RelayClient(
            self.url,
            device.key,
            device.key_id,
            self.org.relay_public_key if verify else None,
            **options,
        )

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def log_size(self) -> int:
        """Entries in the log, read from disk (works whatever runs the relay)."""
        import sqlite3

        conn = sqlite3.connect(f"file:{self.data_dir / 'log.sqlite3'}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        finally:
            conn.close()

    def stored_files(self) -> list[str]:
        bundles = self.data_dir / "bundles"
        return sorted(p.name for p in bundles.rglob("*") if p.is_file())


def make_relay_dir(tmp_path: Path) -> tuple[Path, bytes]:
    data_dir = tmp_path / "relay-data"
    return data_dir, init_relay(data_dir, label="test relay")


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    return sock


def start_relay_thread(
    data_dir: Path, card_path: Path, org: TestOrg, **settings: Any
) -> RunningRelay:
    from reprisal_report.relay.server import build_server
    from reprisal_report.relay.service import RelayService

    config = RelayConfig(data_dir=data_dir, org_card=card_path, **settings)
    service = RelayService(config)
    sock = _bind()
    port = sock.getsockname()[1]
    server = build_server(config, service, "127.0.0.1", port, log_level="error")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("relay thread did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        sock.close()
        service.close()

    return RunningRelay(f"http://127.0.0.1:{port}", data_dir, card_path, org, service, stop)


def start_relay_process(
    data_dir: Path, card_path: Path, org: TestOrg, **settings: Any
) -> RunningRelay:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.integration.relay_fixtures import serve_main; serve_main()",
            str(data_dir),
            str(card_path),
            json.dumps(settings),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    port = _read_port(process)
    _wait_listening(port, process)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=START_TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    return RunningRelay(f"http://127.0.0.1:{port}", data_dir, card_path, org, None, stop, process)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """The port is printed before uvicorn listens on it: wait (bounded) until it does."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("relay process did not start listening")


def _read_port(process: subprocess.Popen[bytes]) -> int:
    result: list[bytes] = []
    reader = threading.Thread(
        target=lambda: result.append(process.stdout.readline() if process.stdout else b""),
        daemon=True,
    )
    reader.start()
    reader.join(timeout=START_TIMEOUT)
    line = result[0].strip() if result else b""
    if not line.isdigit():
        process.kill()
        _, err = process.communicate(timeout=START_TIMEOUT)
        raise RuntimeError(f"relay process did not start: {err.decode(errors='replace')[-2000:]}")
    return int(line)


def serve_main() -> None:
    """Child-process entry: serve DATA_DIR with CARD, print the port, run until killed."""
    from reprisal_report.relay.server import build_server
    from reprisal_report.relay.service import RelayService

    data_dir, card_path, settings = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    config = RelayConfig(data_dir=data_dir, org_card=card_path, **settings)
    service = RelayService(config)
    sock = _bind()
    server = build_server(config, service, "127.0.0.1", sock.getsockname()[1], log_level="error")
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    server.run(sockets=[sock])


@pytest.fixture(name="relay_env")
def relay_env_fixture(tmp_path: Path) -> tuple[Path, Path, TestOrg]:
    """A relay directory (key created by ``init_relay``) and an org card file enrolling it."""
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card())
    return data_dir, card_path, org


@pytest.fixture(name="relay")
def relay_fixture(relay_env: tuple[Path, Path, TestOrg]) -> Iterator[RunningRelay]:
    running = start_relay_thread(*relay_env)
    try:
        yield running
    finally:
        running.stop()


def bundle(i: int, size: int = 300) -> bytes:
    """Stand-in for a sealed bundle: the relay sees opaque bytes either way."""
    seed = f"bundle {i} ".encode()
    return (seed * (size // len(seed) + 1))[:size]
