"""`org relays`: the relay URLs of the org card change only by a new signed version."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Cli
from tests.integration.enrolment import found_org

ERR = "reprisal-report: error: "


def _show(cli: Cli) -> dict[str, object]:
    doc: dict[str, object] = json.loads(cli.ok("org", "show", "--json").stdout)
    return doc


def test_relays_are_added_and_removed_by_new_card_versions(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    coordinator, reporter = make_cli("coord"), make_cli("rep")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    found_org(coordinator, [reporter], tmp_path, "Org")
    before = _show(coordinator)["version"]
    assert isinstance(before, int)

    result = coordinator.ok("org", "relays", "--add", "https://relay.example.org", "--json")
    assert json.loads(result.stdout) == {
        "version": before + 1,
        "relays": ["https://relay.example.org"],
    }
    result = coordinator.ok(
        "org", "relays", "--add", "http://127.0.0.1:8787", "--remove", "https://relay.example.org"
    )
    assert result.stdout.splitlines() == ["http://127.0.0.1:8787"]
    assert result.stderr.splitlines()[-1] == (
        f"card version {before + 2} lists 1 relay(s); hand it out with "
        "'org card --out FILE' and 'org publish'"
    )
    assert "  relay http://127.0.0.1:8787" in coordinator.ok("org", "show").stdout.splitlines()

    # A reporter learns them with the next card version, as any change.
    card = tmp_path / "newer.json"
    coordinator.ok("org", "card", "--out", str(card))
    reporter.ok("org", "update", str(card))
    assert _show(reporter)["relays"] == ["http://127.0.0.1:8787"]

    # Each change is a signed custody event of a coordinator, which verify-log accepts.
    log, history = tmp_path / "log.jsonl", tmp_path / "history"
    coordinator.ok("audit", "log", "--out", str(log))
    coordinator.ok("org", "history", "--out", str(history))
    verified = Cli(tmp_path / "nobody")("audit", "verify-log", str(log), "--org", str(history))
    assert verified.exit_code == 0, verified.stdout
    assert "org-relays-changed 2" in verified.stdout


def test_a_change_that_changes_nothing_or_names_no_listed_relay_is_refused(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    coordinator = make_cli("coord")
    coordinator.ok("init", "--role", "coordinator")
    coordinator.ok("org", "create", "--name", "Org", "--relay", "https://a.example")
    version = _show(coordinator)["version"]
    cases = [
        ((), 2, "name a relay URL with --add or --remove"),
        (
            ("--add", "https://a.example"),
            2,
            "the card already lists exactly these relays: no new version issued",
        ),
        (("--remove", "https://b.example"), 2, "the card lists no relay https://b.example"),
        (
            ("--add", "ftp://a.example"),
            2,
            "relay URL must start with https:// or http:// and be printable: ftp://a.example",
        ),
        (
            ("--add", "https://a\u202eb"),
            2,
            "relay URL must start with https:// or http:// and be printable: https://a\\u{202E}b",
        ),
    ]
    for args, code, message in cases:
        result = coordinator("org", "relays", *args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.splitlines()[0] == ERR + message
        assert result.stdout == ""
    assert _show(coordinator)["version"] == version
