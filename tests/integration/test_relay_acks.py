"""Acknowledgements are per coordinator; the relay deletes bytes when all have them.

Flaw 10 of issue 8: one coordinator's ack used to delete a bundle for every other
coordinator of the org. Real relay on 127.0.0.1, real org cards, the real client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from reprisal_report import clock
from reprisal_report.errors import RelayFailed
from tests.integration.relay_fixtures import (
    RunningRelay,
    TestOrg,
    bundle,
    make_relay_dir,
    start_relay_thread,
)


@pytest.fixture(name="two")
def two_coordinators(tmp_path: Path) -> Iterator[RunningRelay]:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card, coordinators=2)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card(expires_in_days=90))
    running = start_relay_thread(data_dir, card_path, org)
    try:
        yield running
    finally:
        running.stop()
        clock.set_clock(None)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_one_coordinators_ack_leaves_the_bundle_to_the_other(two: RunningRelay) -> None:
    first, second = two.org.coordinators
    with two.client(two.org.reporter) as reporter:
        reporter.upload(bundle(1))
    digest = sha(bundle(1))
    with two.client(first) as a, two.client(second) as b:
        entry = a.ack(digest)
        assert (entry.acknowledged, entry.held) == (True, True)
        assert [(e.acknowledged, e.held) for e in a.list()] == [(True, True)]
        # The other coordinator still sees it as not collected, and still gets it.
        assert [(e.acknowledged, e.held) for e in b.list()] == [(False, True)]
        assert b.fetch(digest) == bundle(1)
        assert two.stored_files() == [digest]
        entry = b.ack(digest)
        assert (entry.acknowledged, entry.held) == (True, False)
        assert two.stored_files() == []
        with pytest.raises(RelayFailed, match="410: bundle was acknowledged by every coordinator"):
            a.fetch(digest)
        assert [(e.acknowledged, e.held) for e in a.list()] == [(True, False)]


def test_a_revoked_coordinator_does_not_hold_bundles_back(two: RunningRelay) -> None:
    first, second = two.org.coordinators
    with two.client(two.org.reporter) as reporter:
        reporter.upload(bundle(2))
    with two.client(first) as a:
        a.ack(sha(bundle(2)))
        assert two.stored_files() == [sha(bundle(2))]
        two.org.revoke(second)
        a.update_org_card(two.org.card(expires_in_days=90))
        assert [(e.acknowledged, e.held) for e in a.list()] == [(True, False)]
    assert two.stored_files() == []


def test_uncollected_bundles_are_deleted_after_the_retention_period(two: RunningRelay) -> None:
    first, _ = two.org.coordinators
    with two.client(two.org.reporter) as reporter:
        reporter.upload(bundle(3))
    start = clock.now()
    clock.set_clock(lambda: start + timedelta(days=29, hours=23))
    with two.client(first) as a:
        assert [e.held for e in a.list()] == [True]
    clock.set_clock(lambda: start + timedelta(days=30, seconds=1))
    with two.client(first) as a:
        assert [(e.acknowledged, e.held) for e in a.list()] == [(False, False)]
    assert two.stored_files() == []


def test_retention_is_a_setting(tmp_path: Path) -> None:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card())
    running = start_relay_thread(data_dir, card_path, org, retention_seconds=3600)
    try:
        with running.client(org.reporter) as reporter:
            reporter.upload(bundle(4))
        start = clock.now()
        clock.set_clock(lambda: start + timedelta(hours=1, seconds=1))
        with running.client(org.coordinator) as coordinator:
            assert [e.held for e in coordinator.list()] == [False]
    finally:
        clock.set_clock(None)
        running.stop()
