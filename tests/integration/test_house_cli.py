"""The profile write lock for coordinator commands, and flag advice given by the cli.

Every command that changes a profile, whatever its role, takes the profile's write
lock before it asks for the passphrase; a held lock makes it refuse at once with the
ProfileBusy line (exit 1) and change nothing. Core and workflow errors never name a
flag: where a flag is the way out, the cli's hint names it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reprisal_report.vault.lock import profile_lock
from tests.conftest import Cli

ERR = "reprisal-report: error: "
BUSY = [
    f"{ERR}profile is busy: another reprisal-report command is writing to it",
    "hint: wait for it to finish, then run this command again",
]


@pytest.fixture
def coordinator(make_cli: Callable[[str], Cli]) -> Cli:
    cli = make_cli("coordinator")
    cli.ok("init", "--role", "coordinator")
    cli.ok("org", "create", "--name", "Org A")
    return cli


def _card_version(cli: Cli) -> int:
    return int(json.loads(cli.ok("org", "show", "--json").stdout)["version"])


def test_coordinator_writing_commands_refuse_a_busy_profile(
    coordinator: Cli, reporter: Cli, tmp_path: Path
) -> None:
    courier = tmp_path / "usb-stick"
    courier.mkdir()
    card = tmp_path / "org.json"
    coordinator.ok("org", "card", "--out", str(card))
    id_card = tmp_path / "reporter-id.json"
    reporter.ok("id", "card", "--out", str(id_card))
    new_pass = tmp_path / "new-pass"
    new_pass.write_text("a different passphrase\n")
    before = _card_version(coordinator)
    with profile_lock(coordinator.home):
        for args in (
            ("inbox", "import", str(courier)),
            ("sync", "pull", "--from", str(courier)),
            ("org", "create", "--name", "Org B"),
            ("org", "enroll", str(id_card), "--role", "reporter", "--fingerprint", "x" * 8),
            ("org", "revoke", "0123456789abcdef"),
            ("org", "renew"),
            ("org", "rotate-root"),
            ("org", "update", str(card)),
            ("org", "join", str(card), "--fingerprint", "x" * 8),
            ("settings", "purge-after-delivery", "on"),
            ("passphrase", "change", "--new-passphrase-file", str(new_pass)),
        ):
            result = coordinator(*args)
            assert (result.exit_code, result.stderr.splitlines()) == (1, BUSY), args
            assert result.stdout == "", args
        # Reading is not blocked.
        assert _card_version(coordinator) == before
        coordinator.ok("triage", "list")
        coordinator.ok("settings", "show")
    # Released: the lock file is gone and the same commands work again.
    assert not (coordinator.home / "write.lock").exists()
    coordinator.ok("inbox", "import", str(courier))
    coordinator.ok("sync", "pull", "--from", str(courier))
    coordinator.ok("org", "renew")
    assert _card_version(coordinator) == before + 1
    coordinator.ok("settings", "purge-after-delivery", "on")
    assert json.loads(coordinator.ok("settings", "show", "--json").stdout) == {
        "purge_after_delivery": True
    }


def test_a_member_joining_an_org_takes_the_lock(
    coordinator: Cli, reporter: Cli, tmp_path: Path
) -> None:
    card = tmp_path / "org.json"
    coordinator.ok("org", "card", "--out", str(card))
    fingerprint = json.loads(coordinator.ok("org", "show", "--json").stdout)["root_fingerprint"]
    with profile_lock(reporter.home):
        result = reporter("org", "join", str(card), "--fingerprint", fingerprint)
        assert (result.exit_code, result.stderr.splitlines()) == (1, BUSY)
    assert json.loads(reporter.ok("org", "show", "--json").stdout) == []
    reporter.ok("org", "join", str(card), "--fingerprint", fingerprint)


# --- flag advice comes from the cli ----------------------------------------------------


def test_wrong_role_hint_names_home(reporter: Cli) -> None:
    result = reporter("triage", "list")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{ERR}this is a reporter profile; the command needs a coordinator profile",
        "hint: select the right profile with --home",
    ]


def test_missing_profile_hint_names_init_and_home(make_cli: Callable[[str], Cli]) -> None:
    nobody = make_cli("nobody")
    result = nobody("case", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{ERR}no profile in {nobody.home}",
        "hint: create one with 'reprisal-report init --role ROLE', or pass --home",
    ]


def test_existing_profile_hint_names_home(reporter: Cli) -> None:
    result = reporter("init", "--role", "reporter")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{ERR}a profile already exists in {reporter.home}",
        "hint: choose another --home; 'panic' destroys a profile you no longer need",
    ]


def test_seal_with_nothing_named_says_all(reporter: Cli) -> None:
    result = reporter("seal")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{ERR}name the cases to seal, or pass --all"]


def test_relay_serve_with_half_a_tls_pair_prints_only_the_error(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    cli = make_cli("relay-operator")
    cert = tmp_path / "cert.pem"
    cert.write_text("not used\n")
    result = cli(
        "relay",
        "serve",
        "--data",
        str(tmp_path / "relay"),
        "--org",
        str(tmp_path / "org.json"),
        "--tls-cert",
        str(cert),
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"{ERR}--tls-cert and --tls-key go together"]
