"""The relay's org card: pinned on first use, replaced only by newer cards of its root.

Cards arrive by upload (``PUT /v1/org-card``, coordinators) or by a changed ``--org``
file; either way the rules of ``org update`` apply, and a card that breaks them
changes nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nacl.signing
import pytest

from reprisal_report.errors import (
    CardExpired,
    CardInvalid,
    RelayFailed,
    RelayRefused,
    RelaySetupError,
)
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.service import RelayService
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    RunningRelay,
    TestOrg,
    bundle,
    new_device,
    relay_env_fixture,
    relay_fixture,
    start_relay_thread,
)


def enrol_newcomer(org: TestOrg) -> None:
    org.reporters.append(new_device("reporter", "newcomer"))
    org.version += 1


def touch_later(path: Path, data: bytes) -> None:
    """Write a card file with an mtime the relay cannot mistake for the old one."""
    path.write_bytes(data)
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))


def test_uploaded_newer_card_is_accepted_and_used(relay: RunningRelay) -> None:
    org = relay.org
    enrol_newcomer(org)
    newcomer = org.reporters[-1]
    with relay.client(newcomer) as client, pytest.raises(RelayRefused):
        client.upload(bundle(1))
    v2 = org.card()
    with relay.client(org.coordinator) as coordinator:
        assert coordinator.update_org_card(v2) == (2, True)
        assert coordinator.update_org_card(v2) == (2, False)
    with relay.client(newcomer) as client:
        assert client.upload(bundle(1)).index == 0
    assert (relay.data_dir / "org-card.json").read_bytes() == relay.service.members.card.raw


def test_same_card_again_changes_nothing(relay: RunningRelay) -> None:
    with relay.client(relay.org.coordinator) as coordinator:
        assert coordinator.update_org_card(relay.card_path.read_bytes()) == (1, False)


def test_older_card_is_refused_as_rollback(relay: RunningRelay) -> None:
    org = relay.org
    old = org.card()
    victim = org.reporters[1]
    newer = org.revoke(victim)
    with relay.client(org.coordinator) as coordinator:
        assert coordinator.update_org_card(newer) == (2, True)
        with pytest.raises(RelayFailed, match="409: org card version 1 is not newer"):
            coordinator.update_org_card(old)
    with relay.client(victim) as client, pytest.raises(RelayRefused):
        client.upload(bundle(1))


def test_card_of_another_root_is_refused(relay: RunningRelay) -> None:
    org = relay.org
    impostor = nacl.signing.SigningKey.generate()
    org.version += 1
    forged = org.card(signers=[impostor], root_keys=(bytes(impostor.verify_key),))
    coordinator = relay.client(org.coordinator)
    with coordinator, pytest.raises(RelayFailed, match="400: org card: not signed by the pinned"):
        coordinator.update_org_card(forged)
    assert relay.service.members.card.card.version == 1


def test_garbage_card_is_400(relay: RunningRelay) -> None:
    coordinator = relay.client(relay.org.coordinator)
    with coordinator, pytest.raises(RelayFailed, match="400: org card "):
        coordinator.update_org_card(b"\xff not a card")


def test_root_rotation_signed_by_both_roots_moves_the_pin(relay: RunningRelay) -> None:
    org = relay.org
    new_root = nacl.signing.SigningKey.generate()
    org.version = 2
    rotated = org.card(signers=[org.root, new_root], root_keys=(bytes(new_root.verify_key),))
    with relay.client(org.coordinator) as coordinator:
        assert coordinator.update_org_card(rotated) == (2, True)
        org.version = 3
        only_new = org.card(signers=[new_root], root_keys=(bytes(new_root.verify_key),))
        assert coordinator.update_org_card(only_new) == (3, True)
        org.version = 4
        with pytest.raises(RelayFailed, match="not signed by the pinned root"):
            coordinator.update_org_card(org.card())  # the retired root alone


def test_changed_card_file_is_picked_up(relay: RunningRelay) -> None:
    org = relay.org
    enrol_newcomer(org)
    newcomer = org.reporters[-1]
    touch_later(relay.card_path, org.card())
    with relay.client(newcomer) as client:
        assert client.upload(bundle(1)).index == 0
    assert relay.service.members.card.card.version == 2


def test_older_or_foreign_card_file_is_ignored(relay: RunningRelay) -> None:
    org = relay.org
    v1 = org.card()
    victim = org.reporters[1]
    touch_later(relay.card_path, org.revoke(victim))
    with relay.client(org.reporter) as reporter:
        reporter.sth()
    assert relay.service.members.card.card.version == 2

    touch_later(relay.card_path, v1)  # a rollback by file: ignored
    impostor = nacl.signing.SigningKey.generate()
    with relay.client(victim) as client, pytest.raises(RelayRefused):
        client.upload(bundle(1))
    org.version = 7
    touch_later(
        relay.card_path, org.card(signers=[impostor], root_keys=(bytes(impostor.verify_key),))
    )
    with relay.client(victim) as client, pytest.raises(RelayRefused):
        client.upload(bundle(1))
    touch_later(relay.card_path, b"half-written")
    with relay.client(org.reporter) as reporter:
        assert reporter.upload(bundle(2)).index == 0
    assert relay.service.members.card.card.version == 2


def test_restart_keeps_the_newest_card_whatever_the_file_says(
    relay_env: tuple[Path, Path, TestOrg],
) -> None:
    data_dir, card_path, org = relay_env
    running = start_relay_thread(data_dir, card_path, org)
    victim = org.reporters[1]
    try:
        with running.client(org.coordinator) as coordinator:
            coordinator.update_org_card(org.revoke(victim))
    finally:
        running.stop()
    # card_path still holds version 1, which would let the victim back in.
    again = start_relay_thread(data_dir, card_path, org)
    try:
        assert again.service.members.card.card.version == 2
        with again.client(victim) as client, pytest.raises(RelayRefused):
            client.upload(bundle(1))
    finally:
        again.stop()


def test_refuses_to_start_with_another_orgs_card(
    relay_env: tuple[Path, Path, TestOrg], tmp_path: Path
) -> None:
    data_dir, card_path, org = relay_env
    RelayService(RelayConfig(data_dir=data_dir, org_card=card_path)).close()  # pins org
    org.org_id = "another-org"
    org.version = 5
    foreign = tmp_path / "foreign.json"
    foreign.write_bytes(org.card())
    with pytest.raises(CardInvalid, match="belongs to org another-org"):
        RelayService(RelayConfig(data_dir=data_dir, org_card=foreign))


def test_refuses_to_start_with_an_expired_card(
    relay_env: tuple[Path, Path, TestOrg], tmp_path: Path
) -> None:
    data_dir, _, org = relay_env
    expired = tmp_path / "expired.json"
    expired.write_bytes(org.card(expires_in_days=-0.5))
    with pytest.raises(CardExpired, match="org card version 1 expired"):
        RelayService(RelayConfig(data_dir=data_dir, org_card=expired))


def test_expired_card_fails_closed_until_a_newer_one_arrives(
    relay_env: tuple[Path, Path, TestOrg],
) -> None:
    data_dir, card_path, org = relay_env
    card_path.write_bytes(org.card(expires_in_days=2 / 86400))
    running = start_relay_thread(data_dir, card_path, org)
    try:
        time.sleep(3)  # past the card's expiry (card times have one-second steps)
        reporter = running.client(org.reporter)
        with reporter, pytest.raises(RelayRefused, match="org card expired"):
            reporter.upload(bundle(1))
        org.version = 2
        with running.client(org.coordinator) as coordinator:
            assert coordinator.update_org_card(org.card()) == (2, True)
        with running.client(org.reporter) as reporter:
            assert reporter.upload(bundle(1)).index == 0
    finally:
        running.stop()


def test_missing_key_or_card_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(RelaySetupError, match="not a relay directory"):
        RelayService(RelayConfig(data_dir=tmp_path / "nothing", org_card=tmp_path / "x"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RelaySetupError, match="no relay key"):
        RelayService(RelayConfig(data_dir=tmp_path / "empty", org_card=tmp_path / "x"))
