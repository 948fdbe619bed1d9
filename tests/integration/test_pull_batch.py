"""A folder pull with one bad bundle among good ones: the good ones land, the bad one
is reported by name with its reason, and nothing of it is stored."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLE_CASE
from tests.integration.test_bundle_cli import Setup, setup_fixture  # noqa: F401


def _stick_with_three_bundles(setup: Setup) -> tuple[Path, list[str]]:
    for _ in range(2):
        setup.reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))
    sealed = json.loads(setup.reporter.ok("seal", "--all", "--json").stdout)["bundles"]
    stick = setup.dir / "stick"
    stick.mkdir()
    setup.reporter.ok("sync", "push", "--to", str(stick))
    return stick, sorted(b["id"] for b in sealed)


def test_one_bad_bundle_fails_alone(setup: Setup) -> None:
    stick, ids = _stick_with_three_bundles(setup)
    assert len(ids) == 3
    victim = stick / f"{ids[1]}.rrb"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the payload: the age MAC fails
    victim.write_bytes(bytes(data))
    before = setup.counts()

    result = setup.coordinator("sync", "pull", "--from", str(stick), "--json")

    assert result.exit_code == 3, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == 2
    assert report["skipped"] == 0
    assert [f["id"] for f in report["failed"]] == [f"{ids[1]}.rrb"]
    assert report["failed"][0]["reason"]
    after = setup.counts()
    assert after["inbox_bundles"] == before["inbox_bundles"] + 2

    # A second pull imports nothing new, skips the two, and reports the bad one again.
    again = setup.coordinator("sync", "pull", "--from", str(stick), "--json")
    assert again.exit_code == 3
    report = json.loads(again.stdout)
    assert (report["imported"], report["skipped"], len(report["failed"])) == (0, 2, 1)
    assert setup.counts() == after
