"""``sync push`` and ``sync pull`` with several requests in flight and batch acks.

The real CLI against the real ``relay serve`` child of ``test_sync_cli.World``. Cases
are sealed in-process through the workflows (the CLI would take minutes for 60). Each
test counts what arrived: every bundle logged once by the relay, imported once by the
coordinator, retained once in its evidence store, also after a run killed at a named
crash point in the middle of its batches.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Iterator

import pytest

from reprisal_report.crashpoints import CRASH_ENV
from reprisal_report.model.case import parse_case_bytes
from reprisal_report.workflows import reporter, sealing
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, run_subprocess
from tests.integration.test_relay_batch import start_old_relay
from tests.integration.test_sync_cli import World, world  # noqa: F401 (fixture)


def seal(w: World, n: int) -> list[str]:
    """``n`` sealed cases in the reporter's outbox; their bundle ids."""
    record = parse_case_bytes(EXAMPLE_CASE.read_bytes(), source_name="case.yaml")
    ids = []
    with open_profile(w.reporter.home, PASSPHRASE) as vault:
        for _ in range(n):
            case_id = reporter.new_case(vault, record, None)
            row = reporter.show_case(vault, case_id).row
            ids.append(sealing.seal_case(vault, w.reporter.home, row).bundle_id)
    return sorted(ids)


def relay_log(w: World) -> list[tuple[int, str]]:
    path = w.dir / "relay" / "log.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(int(i), str(s)) for i, s in conn.execute("SELECT idx, sha256 FROM entries")]
    finally:
        conn.close()


def relay_acks(w: World) -> int:
    path = w.dir / "relay" / "log.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM acks").fetchone()[0])
    finally:
        conn.close()


def relay_files(w: World) -> list[str]:
    return sorted(p.name for p in (w.dir / "relay" / "bundles").rglob("*") if p.is_file())


def receipts(w: World) -> dict[str, int | None]:
    with open_profile(w.reporter.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_id, receipt FROM outbox").fetchall()
    return {str(b): json.loads(r)["index"] if r else None for b, r in rows}


def retained(w: World) -> list[str]:
    """Names in the coordinator's evidence folder (temporary copies included)."""
    folder = w.coordinator.home / "evidence"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def inbox_hashes(w: World) -> list[str]:
    with open_profile(w.coordinator.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_sha256, evidence_file FROM inbox_bundles")
        return sorted(f"{sha}.rrb" for sha, name in rows if name == f"{sha}.rrb")


def cli(w: World, who: str, *args: str, crash_at: str | None = None) -> tuple[int, str, str]:
    env = dict((w.reporter if who == "reporter" else w.coordinator).env)
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    done = run_subprocess(list(args), env)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def push(w: World, crash_at: str | None = None) -> tuple[int, str, str]:
    return cli(w, "reporter", "sync", "push", "--to", w.relay.url, "--json", crash_at=crash_at)


def pull(w: World, crash_at: str | None = None) -> tuple[int, str, str]:
    return cli(w, "coordinator", "sync", "pull", "--from", w.relay.url, "--json", crash_at=crash_at)


def counts(out: str, *keys: str) -> tuple[object, ...]:
    doc = json.loads(out)
    return tuple(doc[k] for k in keys)


def test_fifty_bundles_in_flight_arrive_exactly_once(world: World) -> None:  # noqa: F811
    ids = seal(world, 50)
    code, out, err = push(world)
    assert code == 0, err
    assert counts(out, "delivered", "failed") == (50, [])
    log = relay_log(world)
    assert sorted(i for i, _ in log) == list(range(50))
    assert len({s for _, s in log}) == 50
    assert sorted(receipts(world).values()) == list(range(50))  # type: ignore[type-var]

    code, out, err = pull(world)
    assert code == 0, err
    assert counts(out, "imported", "skipped", "failed") == (50, 0, [])
    assert world.inbox_ids() == ids
    assert retained(world) == inbox_hashes(world) == sorted(f"{s}.rrb" for _, s in log)
    # One coordinator collected everything: the relay holds no bundle any more.
    assert relay_acks(world) == 50
    assert relay_files(world) == []
    code, out, err = pull(world)
    assert code == 0, err
    assert counts(out, "imported", "skipped") == (0, 0)


def test_a_push_killed_with_uploads_in_flight_delivers_each_once(world: World) -> None:  # noqa: F811
    ids = seal(world, 50)
    code, out, err = push(world, "push.after-upload")
    assert code == -signal.SIGKILL, err
    assert out == ""
    # Killed at the first receipt: none recorded, though the relay may hold several.
    assert set(receipts(world).values()) == {None}
    assert 1 <= len(relay_log(world)) <= 50

    code, out, err = push(world)
    assert code == 0, err
    assert counts(out, "delivered", "failed") == (50, [])
    # The bundles the killed run uploaded were not logged a second time.
    assert sorted(receipts(world).values()) == list(range(50))  # type: ignore[type-var]
    assert len(relay_log(world)) == 50
    code, out, err = pull(world)
    assert code == 0, err
    assert counts(out, "imported", "failed") == (50, [])
    assert world.inbox_ids() == ids


def test_a_pull_killed_between_two_batches_imports_each_once(world: World) -> None:  # noqa: F811
    ids = seal(world, 60)
    assert push(world)[0] == 0
    code, out, err = pull(world, "pull.after-import")
    assert code == -signal.SIGKILL, err
    # The first batch (50) committed, nothing acknowledged, the second never started.
    assert len(world.inbox_ids()) == 50
    assert relay_acks(world) == 0
    assert len(relay_files(world)) == 60
    assert retained(world) == inbox_hashes(world)

    code, out, err = pull(world)
    assert code == 0, err
    assert counts(out, "imported", "skipped", "failed") == (10, 50, [])
    assert world.inbox_ids() == ids
    assert retained(world) == inbox_hashes(world)
    assert len(retained(world)) == 60
    assert relay_acks(world) == 60
    assert relay_files(world) == []
    code, out, err = pull(world)
    assert code == 0, err
    assert counts(out, "imported", "skipped") == (0, 0)


@pytest.mark.parametrize("point", ["import.after-evidence-file", "import.before-commit"])
def test_a_pull_killed_inside_a_batch_leaves_no_row_and_reruns_clean(
    world: World,  # noqa: F811
    point: str,
) -> None:
    ids = seal(world, 12)
    assert push(world)[0] == 0
    code, _, err = pull(world, point)
    assert code == -signal.SIGKILL, err
    assert world.inbox_ids() == []  # the batch never committed
    assert relay_acks(world) == 0
    code, out, err = pull(world)
    assert code == 0, err
    assert counts(out, "imported", "failed") == (12, [])
    assert world.inbox_ids() == ids
    # What the killed run left in the evidence folder was removed; each bundle once.
    assert retained(world) == inbox_hashes(world)
    assert len(retained(world)) == 12


# --- a relay from before batch acknowledgements --------------------------------------


@pytest.fixture(name="old_relay_on_same_port")
def old_relay_on_same_port_fixture(world: World) -> Iterator[World]:  # noqa: F811
    """Swap the world's relay for the same data directory served without the batch
    endpoint (an older release), on the same port."""
    world.relay.kill()
    port = int(world.relay.url.rsplit(":", 1)[1])
    _, _, stop = start_old_relay(world.dir / "relay", world.dir / "org.json", port)
    try:
        yield world
    finally:
        stop()


def test_a_pull_from_an_older_relay_acknowledges_one_by_one(
    world: World,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    ids = seal(world, 3)
    assert push(world)[0] == 0
    request.getfixturevalue("old_relay_on_same_port")
    result = world.coordinator("sync", "pull", "--from", world.relay.url)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "reprisal-report: warning: the relay does not take batch acknowledgements (it is "
        "older than this client): bundles were acknowledged one by one"
    )
    assert world.inbox_ids() == ids
    assert relay_acks(world) == 3
    assert relay_files(world) == []
    # Inclusion proofs were asked one by one too: three receipts kept, each verifies.
    assert "kept 3 relay receipts (tree head and inclusion proof)" in result.stderr
    doc = json.loads(world.coordinator.ok("audit", "verify-receipts", "--json").stdout)
    assert sorted(i["status"] for i in doc["items"] if i["kind"] == "receipt") == ["verified"] * 3
