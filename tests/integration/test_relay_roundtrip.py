"""The relay's happy paths against a real uvicorn on 127.0.0.1.

Upload, list, fetch, acknowledge; receipts that verify; tree heads that stay
consistent; idempotent re-uploads; and durability across a restart and a kill -9.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import nacl.signing
import pytest

from reprisal_report.errors import (
    RelayAnswerInvalid,
    RelayFailed,
    RelayRefused,
    RelaySetupError,
    RelayUnreachable,
)
from reprisal_report.identity import idcard
from reprisal_report.protocol.receipts import Receipt, check_consistency, verify_receipt
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.keys import KEY_FILE, init_relay, load_relay_key
from reprisal_report.relay.service import RelayService
from reprisal_report.transport.relay_client import RelayClient, find_relay_key
from tests.conftest import Cli
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    RunningRelay,
    TestOrg,
    bundle,
    relay_env_fixture,
    relay_fixture,
    start_relay_process,
    start_relay_thread,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_init_relay_creates_a_private_key_and_a_relay_card(tmp_path: Path) -> None:
    data_dir = tmp_path / "r"
    card = idcard.parse_card(init_relay(data_dir, label="relay one"))
    assert card.role == "relay"
    assert card.label == "relay one"
    assert card.age_recipient is None
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / KEY_FILE).stat().st_mode) == 0o600
    assert bytes(load_relay_key(data_dir).verify_key) == card.signing_key
    with pytest.raises(RelaySetupError, match="already holds a relay key"):
        init_relay(data_dir)
    os.chmod(data_dir / KEY_FILE, 0o644)
    with pytest.raises(RelaySetupError, match="accessible to other users"):
        load_relay_key(data_dir)


def test_health_reveals_nothing(relay: RunningRelay) -> None:
    answer = httpx.get(f"{relay.url}/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"
    assert "server" not in answer.headers


def test_upload_list_fetch_ack_round_trip(relay: RunningRelay) -> None:
    org = relay.org
    bundles = [bundle(i, 200 + i) for i in range(5)]
    with relay.client(org.reporter) as reporter, relay.client(org.coordinator) as coordinator:
        receipts = [reporter.upload(b) for b in bundles]
        for i, (data, receipt) in enumerate(zip(bundles, receipts, strict=True)):
            assert receipt.verified
            assert receipt.index == i
            assert receipt.bundle_sha256 == sha(data)
            assert receipt.sth.tree_size == i + 1
            verify_receipt(receipt, sha(data), org.relay_public_key)

        listed = coordinator.list()
        assert [(e.sha256, e.index, e.size) for e in listed] == [
            (sha(b), i, len(b)) for i, b in enumerate(bundles)
        ]
        assert not any(e.acknowledged for e in listed)
        assert [e.index for e in coordinator.list(after=2)] == [3, 4]
        assert coordinator.list(after=4) == []

        for data in bundles:
            assert coordinator.fetch(sha(data)) == data
        entry = coordinator.ack(sha(bundles[0]))
        assert entry.acknowledged and entry.index == 0
        assert coordinator.ack(sha(bundles[0])).acknowledged  # idempotent

        with pytest.raises(RelayFailed, match="410: bundle was acknowledged"):
            coordinator.fetch(sha(bundles[0]))
        with pytest.raises(RelayFailed, match="404: no such bundle"):
            coordinator.fetch(sha(b"never uploaded"))
        # The log entry outlives the bytes; the file is gone from the relay's disk.
        assert coordinator.list()[0].acknowledged
        assert sha(bundles[0]) not in relay.stored_files()
        assert len(relay.stored_files()) == 4
        assert relay.log_size() == 5


def test_re_upload_returns_the_same_receipt_and_logs_once(relay: RunningRelay) -> None:
    data = bundle(1)
    with relay.client(relay.org.reporter) as reporter:
        first = reporter.upload(data)
        reporter.upload(bundle(2))
        again = reporter.upload(data)
    with relay.client(relay.org.reporters[1]) as other:
        from_another_device = other.upload(data)
    assert first.to_json() == again.to_json() == from_another_device.to_json()
    assert relay.log_size() == 2
    # An acknowledged (deleted) bundle keeps its receipt too.
    with relay.client(relay.org.coordinator) as coordinator:
        coordinator.ack(sha(data))
    with relay.client(relay.org.reporter) as reporter:
        assert reporter.upload(data).to_json() == first.to_json()
    assert relay.log_size() == 2


def test_tree_heads_and_proofs_stay_consistent(relay: RunningRelay) -> None:
    org = relay.org
    heads = []
    with relay.client(org.reporter) as reporter, relay.client(org.auditor) as auditor:
        empty = auditor.sth()
        assert empty.tree_size == 0 and empty.verified
        heads.append(empty)
        for round_ in range(4):
            for i in range(round_ * 3 + 1):
                reporter.upload(bundle(100 * round_ + i))
            heads.append(auditor.sth())
        for old in heads:
            for new in heads:
                if old.tree_size <= new.tree_size:
                    proof = auditor.consistency(old.tree_size, new.tree_size)
                    check_consistency(old, new, proof, relay_public_key=org.relay_public_key)
        last = heads[-1]
        for index in (0, 5, last.tree_size - 1):
            leaf, proof = auditor.inclusion(index, last.tree_size)
            receipt = Receipt.from_json(
                {
                    "bundle_sha256": leaf,
                    "index": index,
                    "sth": last.head.body(),
                    "inclusion_proof": [p.hex() for p in proof],
                    "relay_key_id": last.relay_key_id,
                    "signature": last.to_json()["signature"],
                }
            )
            assert verify_receipt(receipt, leaf, org.relay_public_key).verified
        with pytest.raises(RelayFailed, match="400"):
            auditor.consistency(3, last.tree_size + 1)
        with pytest.raises(RelayFailed, match="400"):
            auditor.inclusion(last.tree_size, last.tree_size)


def test_unknown_relay_key_gives_unverified_receipts(relay: RunningRelay) -> None:
    with relay.client(relay.org.reporter, verify=False) as reporter:
        receipt = reporter.upload(bundle(7))
        head = reporter.sth()
    assert not receipt.verified and not head.verified
    assert verify_receipt(receipt, sha(bundle(7)), relay.org.relay_public_key).verified


def test_a_receipt_checked_against_another_key_fails(relay: RunningRelay) -> None:
    wrong = relay.org.coordinator.public
    with relay.client(relay.org.reporter, verify=False) as reporter:
        receipt = reporter.upload(bundle(8))
    with pytest.raises(RelayAnswerInvalid, match="not by this relay's key"):
        verify_receipt(receipt, sha(bundle(8)), wrong)
    misled = RelayClient(relay.url, relay.org.reporter.key, relay.org.reporter.key_id, wrong)
    with misled, pytest.raises(RelayAnswerInvalid, match="not by this relay's key"):
        misled.upload(bundle(9))


def test_find_relay_key_reads_the_org_card(relay: RunningRelay) -> None:
    from reprisal_report.identity.orgcard import parse_card

    card = parse_card(relay.card_path.read_bytes()).card
    with relay.client(relay.org.auditor, verify=False) as auditor:
        head = auditor.sth()
    assert find_relay_key(card, head.relay_key_id) == relay.org.relay_public_key
    assert find_relay_key(card, relay.org.coordinator.key_id) is None


def test_client_errors_are_one_line_project_errors(relay: RunningRelay, tmp_path: Path) -> None:
    org = relay.org
    closed = RelayClient("http://127.0.0.1:9", org.reporter.key, org.reporter.key_id, None)
    with pytest.raises(RelayUnreachable) as unreachable:
        closed.upload(b"x")
    assert unreachable.value.exit_code == 1 and "\n" not in unreachable.value.message
    with relay.client(org.stranger) as stranger, pytest.raises(RelayRefused) as refused:
        stranger.upload(b"x")
    assert refused.value.exit_code == 3
    assert refused.value.message.endswith("key is not enrolled in this org or is revoked")


def test_restart_keeps_everything_and_stays_consistent(
    relay_env: tuple[Path, Path, TestOrg],
) -> None:
    data_dir, card_path, org = relay_env
    first = start_relay_thread(data_dir, card_path, org)
    try:
        with first.client(org.reporter) as reporter:
            receipts = [reporter.upload(bundle(i)) for i in range(6)]
        with first.client(org.auditor) as auditor:
            before = auditor.sth()
        with pytest.raises(RelaySetupError, match="another relay process"):
            RelayService(RelayConfig(data_dir=data_dir, org_card=card_path)).close()
    finally:
        first.stop()
    second = start_relay_thread(data_dir, card_path, org)
    try:
        with second.client(org.reporter) as reporter:
            assert reporter.upload(bundle(3)).to_json() == receipts[3].to_json()
            reporter.upload(bundle(6))
        with second.client(org.auditor) as auditor:
            after = auditor.sth()
            check_consistency(before, after, auditor.consistency(before.tree_size, 7))
        assert after.tree_size == 7
    finally:
        second.stop()


def test_kill_9_loses_no_accepted_bundle(relay_env: tuple[Path, Path, TestOrg]) -> None:
    data_dir, card_path, org = relay_env
    running = start_relay_process(data_dir, card_path, org)
    try:
        with running.client(org.reporter) as reporter:
            receipts = [reporter.upload(bundle(i, 5000)) for i in range(10)]
        with running.client(org.auditor) as auditor:
            before = auditor.sth()
        # A half-received upload and a bundle file the log never recorded, as a crash
        # in the middle of an upload would leave them.
        (data_dir / "incoming" / ".up-crashed").write_bytes(b"partial")
        orphan = sha(b"orphan")
        (data_dir / "bundles" / orphan[:2]).mkdir(exist_ok=True)
        (data_dir / "bundles" / orphan[:2] / orphan).write_bytes(b"orphan")
        assert running.process is not None
        running.process.send_signal(signal.SIGKILL)
        running.process.wait(timeout=30)
    finally:
        running.stop()
    restarted = start_relay_process(data_dir, card_path, org)
    try:
        assert list((data_dir / "incoming").iterdir()) == []
        assert orphan not in restarted.stored_files()
        with restarted.client(org.coordinator) as coordinator:
            listed = coordinator.list()
            assert [e.sha256 for e in listed] == [r.bundle_sha256 for r in receipts]
            for r in receipts:
                assert sha(coordinator.fetch(r.bundle_sha256)) == r.bundle_sha256
        with restarted.client(org.auditor) as auditor:
            after = auditor.sth()
            check_consistency(
                before,
                after,
                auditor.consistency(before.tree_size, after.tree_size),
                relay_public_key=org.relay_public_key,
            )
    finally:
        restarted.stop()


def test_tree_head_signature_covers_the_documented_bytes(relay: RunningRelay) -> None:
    """docs/relay.md: domain, NUL, canonical JSON of size, root and time; checked by hand."""
    with relay.client(relay.org.reporter) as reporter:
        receipt = reporter.upload(bundle(1))
    head = receipt.to_json()["sth"]
    message = (
        b"reprisal-report/relay-sth/1\x00"
        + f'{{"root_hash":"{head["root_hash"]}","timestamp":{head["timestamp"]},'
        f'"tree_size":{head["tree_size"]}}}'.encode()
    )
    signature = base64.b64decode(receipt.to_json()["signature"])
    nacl.signing.VerifyKey(relay.org.relay_public_key).verify(message, signature)
    leaf = hashlib.sha256(b"\x00" + bytes.fromhex(receipt.bundle_sha256)).digest()
    assert head["tree_size"] == 1 and head["root_hash"] == leaf.hex()


def test_relay_init_names_the_fingerprint_the_coordinator_checks(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    operator = make_cli("operator")
    card = tmp_path / "relay.id"
    result = operator("relay", "init", "--data", str(tmp_path / "r"), "--card-out", str(card))
    assert result.exit_code == 0, result.stderr
    ident = idcard.parse_card(card.read_bytes())
    assert result.stderr.splitlines()[-1] == (
        "read its fingerprint to the coordinator (org enroll --fingerprint): " + ident.fingerprint
    )
    again = operator(
        "relay",
        "init",
        "--data",
        str(tmp_path / "r2"),
        "--card-out",
        str(tmp_path / "2.id"),
        "--json",
    )
    doc = json.loads(again.stdout)
    assert set(doc) == {"key_id", "fingerprint", "card", "data"}
    assert doc["fingerprint"] == idcard.parse_card((tmp_path / "2.id").read_bytes()).fingerprint
