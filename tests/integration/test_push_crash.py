"""``sync push`` killed at its named crash points, then run again (issue 8).

A real reporter, coordinator and relay on 127.0.0.1; ``sync push`` runs in a subprocess
that SIGKILLs itself at ``push.after-upload`` (a bundle is on the relay, its receipt not
yet recorded) or ``push.before-purge`` (receipts recorded, plaintext not yet purged).
The rerun must deliver every bundle exactly once (one log entry each), lose nothing,
and the coordinator's pull must import each bundle once.
"""

from __future__ import annotations

import json
import signal

import pytest

from reprisal_report.crashpoints import CRASH_ENV, POINTS
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, run_subprocess
from tests.integration.test_sync_cli import World, world  # noqa: F401 (fixture)


def _push(w: World, crash_at: str | None = None) -> tuple[int, str, str]:
    env = dict(w.reporter.env)
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    done = run_subprocess(["sync", "push", "--to", w.relay.url, "--json"], env)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _outbox(w: World) -> dict[str, tuple[str, int | None]]:
    """bundle id -> (state, log index of its receipt)."""
    with open_profile(w.reporter.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_id, state, receipt FROM outbox").fetchall()
    return {
        str(bundle_id): (str(state), json.loads(receipt)["index"] if receipt else None)
        for bundle_id, state, receipt in rows
    }


def _states(w: World) -> set[str]:
    listed = json.loads(w.reporter.ok("case", "list", "--json").stdout)
    return {str(case["state"]) for case in listed}


@pytest.mark.parametrize("point", ["push.after-upload", "push.before-purge"])
def test_push_killed_at_a_crash_point_delivers_each_bundle_once_on_rerun(
    world: World,  # noqa: F811 (the fixture imported above)
    point: str,
) -> None:
    assert point in POINTS
    ids = world.new_sealed_cases(3)

    code, out, err = _push(world, point)
    assert code == -signal.SIGKILL, err
    assert out == ""
    after_crash = _outbox(world)
    assert sorted(after_crash) == sorted(ids)
    if point == "push.after-upload":
        # Killed after the first upload: nothing recorded, every case still here.
        assert {state for state, _ in after_crash.values()} == {"pending"}
    else:
        # Killed after the receipts were committed, before any purge.
        assert sorted(index for _, index in after_crash.values() if index is not None) == [
            0,
            1,
            2,
        ]
    assert _states(world) != {"purged"}

    code, out, err = _push(world)
    assert code == 0, err
    rerun = json.loads(out)
    assert rerun["failed"] == []
    delivered_now = 3 if point == "push.after-upload" else 0
    assert rerun["delivered"] == delivered_now
    final = _outbox(world)
    assert {state for state, _ in final.values()} == {"delivered"}
    # One log entry per bundle: the upload the crash interrupted was not logged twice.
    assert sorted(-1 if index is None else index for _, index in final.values()) == [0, 1, 2]
    # Nothing lost, and the rerun finishes the purge the killed run never reached.
    assert _states(world) == {"purged"}

    pulled = json.loads(
        world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    )
    assert (pulled["imported"], pulled["failed"]) == (3, [])
    again = json.loads(
        world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    )
    assert (again["imported"], again["skipped"]) == (0, 0)
    assert world.inbox_ids() == sorted(ids)


def test_a_push_killed_before_its_purge_purges_on_the_rerun(
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    world.new_sealed_cases(2)
    code, _, err = _push(world, "push.before-purge")
    assert code == -signal.SIGKILL, err
    code, _, err = _push(world)
    assert code == 0, err
    assert _states(world) == {"purged"}


def test_a_case_edited_after_an_unpurged_delivery_is_kept_by_the_rerun(
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    world.new_sealed_cases(2)
    code, _, err = _push(world, "push.before-purge")
    assert code == -signal.SIGKILL, err
    listed = json.loads(world.reporter.ok("case", "list", "--json").stdout)
    edited = listed[0]["id"]
    world.reporter.ok("case", "edit", edited, "--from", str(EXAMPLE_CASE))
    code, _, err = _push(world)
    assert code == 0, err
    listed = json.loads(world.reporter.ok("case", "list", "--json").stdout)
    after = {c["id"]: c["state"] for c in listed}
    assert after[edited] != "purged"
    assert sorted(after.values()).count("purged") == 1


def test_a_pull_killed_between_import_and_ack_imports_nothing_twice(
    world: World,  # noqa: F811 (the fixture imported above)
) -> None:
    ids = world.new_sealed_cases(2)
    code, _, err = _push(world)
    assert code == 0, err
    env = {**world.coordinator.env, CRASH_ENV: "pull.after-import"}
    killed = run_subprocess(["sync", "pull", "--from", world.relay.url, "--json"], env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert world.inbox_ids() == sorted(ids)  # imported and committed, never acknowledged
    rerun = json.loads(
        world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    )
    assert (rerun["imported"], rerun["skipped"], rerun["failed"]) == (0, 2, [])
    assert world.inbox_ids() == sorted(ids)
    again = json.loads(
        world.coordinator.ok("sync", "pull", "--from", world.relay.url, "--json").stdout
    )
    assert (again["imported"], again["skipped"]) == (0, 0)
