"""`audit verify-receipts` and the custody log over a real relay on loopback."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reprisal_report.protocol.receipts import TreeHead, sign_tree_head
from reprisal_report.relay.keys import load_relay_key
from reprisal_report.workflows.profile import open_profile
from tests.conftest import PASSPHRASE, Cli
from tests.integration import test_sync_cli as sync
from tests.integration.enrolment import enroll_args
from tests.integration.test_sync_cli import World

ERR = "reprisal-report: error: "


@pytest.fixture
def world(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[World]:
    """As in test_sync_cli: a coordinator, a reporter and the relay their card enrols."""
    coordinator, reporter = make_cli("coord"), make_cli("rep")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    port = sync.free_port()
    url = f"http://127.0.0.1:{port}"
    coordinator.ok(
        "relay", "init", "--data", str(tmp_path / "relay"), "--card-out", str(tmp_path / "relay.id")
    )
    created = coordinator.ok("org", "create", "--name", "Org", "--relay", url, "--json")
    fpr = json.loads(created.stdout)["root_fingerprint"]
    reporter.ok("id", "card", "--out", str(tmp_path / "rep.id"))
    coordinator.ok("org", "enroll", *enroll_args(tmp_path / "rep.id"))
    coordinator.ok("org", "enroll", *enroll_args(tmp_path / "relay.id"))
    card = tmp_path / "org.json"
    coordinator.ok("org", "card", "--out", str(card))
    reporter.ok("org", "join", str(card), "--fingerprint", fpr)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    relay = sync.RelayProcess(tmp_path / "relay", card, port, env)
    relay.start()
    try:
        yield World(coordinator, reporter, tmp_path, relay, env)
    finally:
        relay.kill()


def _push(world: World, n: int) -> None:
    world.new_sealed_cases(n)
    world.reporter.ok("sync", "push", "--to", world.relay.url)


def _receipts(world: World) -> list[tuple[str, str]]:
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_id, receipt FROM outbox ORDER BY bundle_id")
        return [(str(r[0]), str(r[1])) for r in rows.fetchall()]


def _set_receipt(world: World, bundle_id: str, text: str) -> None:
    with open_profile(world.reporter.home, PASSPHRASE) as vault, vault.transaction():
        vault.conn.execute("UPDATE outbox SET receipt = ? WHERE bundle_id = ?", (text, bundle_id))


def test_stored_receipts_and_the_kept_head_verify(world: World) -> None:
    _push(world, 2)
    doc = json.loads(world.reporter.ok("audit", "verify-receipts", "--json").stdout)
    assert doc["ok"] is True
    statuses = sorted((i["kind"], i["status"]) for i in doc["items"])
    assert statuses == [
        ("receipt", "verified"),
        ("receipt", "verified"),
        ("tree head", "verified"),
    ]
    # The reporter's log of sealing, delivering and purging verifies too.
    log = world.dir / "reporter.jsonl"
    world.reporter.ok("audit", "log", "--out", str(log))
    history = world.dir / "history"
    world.coordinator.ok("org", "history", "--out", str(history))
    result = Cli(world.dir / "nobody")("audit", "verify-log", str(log), "--org", str(history))
    assert result.exit_code == 0, result.stdout
    assert "delivered 2" in result.stdout and "purged 2" in result.stdout


def test_a_receipt_for_another_bundle_fails(world: World) -> None:
    _push(world, 2)
    (first, _), (_, second_receipt) = _receipts(world)
    _set_receipt(world, first, second_receipt)
    result = world.reporter("audit", "verify-receipts")
    assert result.exit_code == 3
    assert result.stdout.splitlines()[-1] == (
        f"FAIL: receipt {first}: relay receipt names another bundle"
    )
    assert result.stderr.splitlines() == [
        f"{ERR}1 check(s) failed, first: receipt {first}: relay receipt names another bundle"
    ]


def test_two_signed_roots_for_one_size_are_a_fork(world: World) -> None:
    _push(world, 1)
    ((bundle_id, text),) = _receipts(world)
    size = json.loads(text)["sth"]["tree_size"]
    forged = sign_tree_head(TreeHead(size, b"\x07" * 32, 1), load_relay_key(world.dir / "relay"))
    with open_profile(world.reporter.home, PASSPHRASE) as vault, vault.transaction():
        vault.set_meta(f"relay-sth:{world.relay.url}", json.dumps(forged.to_json(), sort_keys=True))
    doc = json.loads(world.reporter("audit", "verify-receipts", "--json").stdout)
    failed = [i for i in doc["items"] if i["status"] == "failed"]
    assert [(i["kind"], i["reason"]) for i in failed] == [
        (
            "tree head",
            f"relay {forged.relay_key_id} signed two different trees of size {size} "
            f"(see bundle {bundle_id}): a forked log",
        )
    ]
