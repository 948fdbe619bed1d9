"""`audit verify-receipts` and the custody log over a real relay on loopback."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reprisal_report.crashpoints import CRASH_ENV, POINTS
from reprisal_report.protocol.receipts import TreeHead, sign_tree_head
from reprisal_report.relay.keys import load_relay_key
from reprisal_report.workflows.profile import open_profile
from tests.conftest import PASSPHRASE, Cli, run_subprocess
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


# --- receipts a coordinator keeps when it pulls ------------------------------------------


def _pull(world: World) -> dict[str, object]:
    out = world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    doc: dict[str, object] = json.loads(out)
    return doc


def _pulled(world: World) -> dict[str, dict[str, Any]]:
    """The receipts the coordinator's vault keeps, by bundle SHA-256."""
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_sha256, relay_url, receipt FROM inbox_receipts")
        out = {}
        for sha256, url, text in rows.fetchall():
            assert url == world.relay.url
            out[str(sha256)] = json.loads(text)
        return out


def test_a_pull_keeps_a_receipt_per_bundle_and_verify_receipts_checks_them(world: World) -> None:
    _push(world, 3)
    sent = {json.loads(text)["bundle_sha256"] for _, text in _receipts(world)}
    doc = _pull(world)
    assert (doc["imported"], doc["receipts"]) == (3, 3)
    # A pull with nothing new keeps nothing twice.
    assert _pull(world)["receipts"] == 0
    pulled = _pulled(world)
    # The delivered file, the relay's receipts and the retained file: one hash each.
    kept = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (world.coordinator.home / "evidence").glob("*.rrb")
    }
    assert set(pulled) == sent == kept
    assert all(r["bundle_sha256"] == sha for sha, r in pulled.items())

    report = json.loads(world.coordinator.ok("audit", "verify-receipts", "--json").stdout)
    assert report["ok"] is True
    items = sorted((i["kind"], i["status"], i["reason"] or "") for i in report["items"])
    assert items == [
        *[("evidence", "kept unchanged", "the relay receipt of this bundle covers it")] * 3,
        *[("receipt", "verified", "")] * 3,
        ("tree head", "verified", ""),
    ]
    assert report["notes"] == []

    # triage show names the receipt of the bundle, triage evidence hands it on.
    listing = json.loads(world.coordinator.ok("triage", "list", "--json").stdout)
    case_id = listing[0]["id"]
    shown = json.loads(world.coordinator.ok("triage", "show", case_id, "--json").stdout)
    (bundle,) = shown["bundles"]
    assert bundle["receipt"] == {"relay": world.relay.url, **pulled[bundle["sha256"]]}
    out = world.dir / "evidence-out"
    out.mkdir()
    world.coordinator.ok("triage", "evidence", case_id, "--out", str(out), "--purpose", "court")
    manifest = json.loads(next(out.glob("*.json")).read_text())
    assert manifest["files"][0]["receipt"] == bundle["receipt"]

    # Each receipt is a signed custody event, which verify-log accepts for a coordinator.
    log = world.dir / "coordinator.jsonl"
    world.coordinator.ok("audit", "log", "--out", str(log))
    history = world.dir / "history"
    world.coordinator.ok("org", "history", "--out", str(history))
    result = Cli(world.dir / "nobody")("audit", "verify-log", str(log), "--org", str(history))
    assert result.exit_code == 0, result.stdout
    assert "relay-receipt 3" in result.stdout


def test_a_changed_pulled_receipt_fails_verify_receipts(world: World) -> None:
    _push(world, 2)
    _pull(world)
    (sha, receipt), _ = sorted(_pulled(world).items())
    assert len(receipt["inclusion_proof"]) == 1  # two leaves: the other one's hash
    changed = {**receipt, "inclusion_proof": ["00" * 32]}
    with open_profile(world.coordinator.home, PASSPHRASE) as vault, vault.transaction():
        vault.conn.execute(
            "UPDATE inbox_receipts SET receipt = ? WHERE bundle_sha256 = ?",
            (json.dumps(changed, sort_keys=True, separators=(",", ":")), sha),
        )
    result = world.coordinator("audit", "verify-receipts", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    failed = [(i["kind"], i["reason"]) for i in doc["items"] if i["status"] == "failed"]
    assert failed == [("receipt", "relay receipt: the inclusion proof does not verify")]
    # The kept file is unchanged, but its receipt no longer vouches for it.
    reasons = sorted(i["reason"] for i in doc["items"] if i["kind"] == "evidence")
    assert reasons == [
        "its relay receipt is not verified (above)",
        "the relay receipt of this bundle covers it",
    ]


def test_a_pull_killed_before_its_receipts_keeps_them_on_the_next_pull(world: World) -> None:
    _push(world, 2)
    assert "pull.before-receipts" in POINTS
    env = {**world.coordinator.env, CRASH_ENV: "pull.before-receipts"}
    killed = run_subprocess(["sync", "pull", "--from", world.relay.url, "--json"], env)
    assert killed.returncode == -9, killed.stderr.decode()
    # Imported and acknowledged, but no receipt yet.
    assert len(world.inbox_ids()) == 2 and _pulled(world) == {}
    doc = _pull(world)
    assert (doc["imported"], doc["receipts"]) == (0, 2)
    assert len(_pulled(world)) == 2
