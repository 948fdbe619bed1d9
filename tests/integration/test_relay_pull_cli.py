# ruff: noqa: F811 - the world fixture is imported, then named as a test argument
"""``sync pull`` from a relay through the real CLI: issue 8 low items and flaw 10.

The relay is the real ``relay serve`` in a child process (the ``world`` of
test_sync_cli): a log that shrank is a verification failure, an onion name is never
resolved without a proxy, and a stored blob that cannot be imported is quarantined
instead of being downloaded by every pull.
"""

from __future__ import annotations

import json
import sqlite3

from reprisal_report.identity.keys import public_identity, signing_key
from reprisal_report.transport.relay_client import RelayClient
from reprisal_report.workflows.profile import open_profile
from tests.conftest import PASSPHRASE
from tests.integration.test_sync_cli import ERR, World, world  # noqa: F401 - fixture


def _pull(world: World) -> tuple[int, dict[str, object], str]:
    result = world.coordinator("sync", "pull", "--from", world.relay.url, "--json")
    return result.exit_code, json.loads(result.stdout or "{}"), result.stderr


def test_pull_lists_skipped_entries_with_their_reason(world: World) -> None:
    world.new_sealed_cases(1)
    world.reporter.ok("settings", "purge-after-delivery", "off")
    world.reporter.ok("sync", "push", "--to", world.relay.url)
    code, doc, _ = _pull(world)
    assert (code, doc["imported"], doc["skipped"], doc["skipped_entries"]) == (0, 1, 0, [])
    code, doc, _ = _pull(world)
    assert (code, doc["imported"], doc["failed"], doc["skipped_entries"]) == (0, 0, [], [])


def test_a_relay_log_that_shrank_is_a_verification_failure(world: World) -> None:
    world.new_sealed_cases(2)
    world.reporter.ok("sync", "push", "--to", world.relay.url)
    assert _pull(world)[0] == 0
    world.relay.kill()
    conn = sqlite3.connect(world.dir / "relay" / "log.sqlite3")
    with conn:
        conn.execute("DELETE FROM entries WHERE idx = 1")
    conn.close()
    world.relay.start()
    result = world.coordinator("sync", "pull", "--from", world.relay.url)
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"{ERR}relay log shrank from 2 to 1 entries",
        "hint: the relay dropped accepted bundles; keep both tree heads as evidence",
    ]


def test_an_onion_relay_without_a_proxy_is_refused_before_any_lookup(world: World) -> None:
    onion = "http://" + "a" * 56 + ".onion"
    for cli, args in (
        (world.coordinator, ("sync", "pull", "--from", onion)),
        (world.reporter, ("sync", "push", "--to", onion)),
    ):
        result = cli(*args)
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"{ERR}refusing to reach {'a' * 56}.onion without a Tor proxy that resolves the"
            " name itself: the system resolver would see it",
            "hint: reach onion relays through Tor's SOCKS port, e.g. socks5h://127.0.0.1:9050",
        ]
    refused = world.coordinator("sync", "pull", "--from", onion, "--proxy", "socks5://127.0.0.1:9")
    assert refused.exit_code == 2


def test_garbage_on_the_relay_is_quarantined_not_fetched_by_every_pull(world: World) -> None:
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        key, kid = signing_key(vault), public_identity(vault).key_id
    with RelayClient(world.relay.url, key, kid, None) as reporter:
        reporter.upload(b"not a bundle at all" * 20)
    code, doc, stderr = _pull(world)
    assert code == 3
    failed = doc["failed"]
    assert isinstance(failed, list) and len(failed) == 1
    assert "was quarantined: it is acknowledged and will not be fetched again" in stderr
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT value FROM meta WHERE key LIKE 'quarantine:%'").fetchall()
    assert [json.loads(r[0])["reason"] for r in rows] == [failed[0]["reason"]]
    code, doc, _ = _pull(world)
    assert (code, doc["imported"], doc["failed"]) == (0, 0, [])
