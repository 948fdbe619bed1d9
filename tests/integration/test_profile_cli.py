"""Profiles through the real CLI: init, wrong passphrase, passphrase change, panic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli

ERR = "reprisal-report: error: "


def snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir())}


def test_init_creates_private_profile_and_prints_fingerprint(
    make_cli: Callable[[str], Cli],
) -> None:
    cli = make_cli("p")
    result = cli("init", "--role", "reporter", "--name", "laptop", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["role"] == "reporter" and doc["label"] == "laptop"
    assert len(doc["fingerprint"].split()) == 8
    assert sorted(p.name for p in cli.home.iterdir()) == ["keyfile.json", "vault.db"]
    assert cli.home.stat().st_mode & 0o777 == 0o700
    for name in ("keyfile.json", "vault.db"):
        assert (cli.home / name).stat().st_mode & 0o777 == 0o600
    assert b"SQLite format 3" not in (cli.home / "vault.db").read_bytes()[:16]


def test_init_refuses_to_overwrite(reporter: Cli) -> None:
    before = snapshot(reporter.home)
    result = reporter("init", "--role", "coordinator")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{ERR}a profile already exists in ")
    assert snapshot(reporter.home) == before


def test_init_rejects_unknown_role_and_short_passphrase(make_cli: Callable[[str], Cli]) -> None:
    cli = make_cli("p")
    result = cli("init", "--role", "spy")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{ERR}unknown role 'spy'"
    result = cli("init", "--role", "reporter", env={"REPRISAL_REPORT_PASSPHRASE": "short"})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{ERR}passphrase too short: at least 8 characters"
    assert not cli.home.exists() or not any(cli.home.iterdir())


def test_missing_profile_is_operational_error(make_cli: Callable[[str], Cli]) -> None:
    cli = make_cli("nothing-here")
    result = cli("case", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no profile in {cli.home}"


def test_no_passphrase_source_is_usage_error(reporter: Cli) -> None:
    result = reporter("case", "list", env={"REPRISAL_REPORT_PASSPHRASE": None})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{ERR}no passphrase given"


def test_wrong_passphrase_exit_3_changes_nothing(reporter: Cli) -> None:
    reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))
    before = snapshot(reporter.home)
    for args in (("case", "list"), ("case", "new", "--from", str(EXAMPLE_CASE))):
        result = reporter(*args, env={"REPRISAL_REPORT_PASSPHRASE": "not the passphrase"})
        assert result.exit_code == 3
        assert result.stderr.splitlines() == [
            f"{ERR}wrong passphrase",
            "hint: nothing was changed; check the keyboard layout",
        ]
        assert result.stdout == ""
    assert snapshot(reporter.home) == before


def test_passphrase_file_takes_first_line(reporter: Cli, tmp_path: Path) -> None:
    good = tmp_path / "pw"
    good.write_text(PASSPHRASE + "\nignored second line\n")
    result = reporter(
        "--passphrase-file",
        str(good),
        "case",
        "list",
        "--json",
        env={"REPRISAL_REPORT_PASSPHRASE": None},
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []
    result = reporter("case", "list", "--passphrase-file", str(tmp_path / "absent"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no such passphrase file: {tmp_path / 'absent'}"


def test_passphrase_change_keeps_cases_and_old_fails(reporter: Cli) -> None:
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    db_before = (reporter.home / "vault.db").read_bytes()
    new = "a completely different passphrase"
    result = reporter("passphrase", "change", env={"REPRISAL_REPORT_NEW_PASSPHRASE": new})
    assert result.exit_code == 0, result.stderr
    # The database is not rewritten: only the wrapped key changed.
    assert (reporter.home / "vault.db").read_bytes() == db_before
    old = reporter("case", "list")
    assert old.exit_code == 3
    shown = reporter("case", "show", case_id, "--json", env={"REPRISAL_REPORT_PASSPHRASE": new})
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["title"].startswith("Travel ban")


def test_passphrase_change_with_wrong_old_passphrase_changes_nothing(reporter: Cli) -> None:
    before = snapshot(reporter.home)
    result = reporter(
        "passphrase",
        "change",
        env={
            "REPRISAL_REPORT_PASSPHRASE": "wrong old one",
            "REPRISAL_REPORT_NEW_PASSPHRASE": "x" * 12,
        },
    )
    assert result.exit_code == 3
    assert snapshot(reporter.home) == before


def test_tampered_keyfile_reads_as_wrong_passphrase(reporter: Cli) -> None:
    keyfile = reporter.home / "keyfile.json"
    doc = json.loads(keyfile.read_text())
    doc["kdf"]["opslimit"] = doc["kdf"]["opslimit"] + 1
    keyfile.write_text(json.dumps(doc))
    result = reporter("case", "list")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"{ERR}wrong passphrase"


def test_damaged_keyfile_is_named(reporter: Cli) -> None:
    (reporter.home / "keyfile.json").write_bytes(b"\x00garbage")
    result = reporter("case", "list")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"{ERR}keyfile is damaged or not a reprisal-report keyfile"
    )


def test_panic_needs_confirmation_without_yes(reporter: Cli) -> None:
    before = snapshot(reporter.home)
    result = reporter("panic")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}panic needs confirmation"
    assert snapshot(reporter.home) == before


def test_panic_destroys_key_and_database(reporter: Cli, tmp_path: Path) -> None:
    reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))
    stolen = tmp_path / "copy-of-db"
    stolen.write_bytes((reporter.home / "vault.db").read_bytes())
    result = reporter("panic", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["removed"][:2] == ["keyfile.json", "vault.db"]
    assert not reporter.home.exists()
    again = reporter("case", "list")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == f"{ERR}no profile in {reporter.home}"
    # A copy of the database taken before panic is useless without the wrapped key.
    assert b"Travel ban" not in stolen.read_bytes()


def test_version_and_help(make_cli: Callable[[str], Cli]) -> None:
    cli = make_cli("p")
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("reprisal-report ")
    result = cli("--bogus")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{ERR}no such option: --bogus",
        "hint: see 'reprisal-report --help'",
    ]


def test_panic_shreds_leftover_keyfile_temp_copies(reporter: Cli) -> None:
    leftover = reporter.home / ".keyfile.json.tmp-4242"
    leftover.write_bytes((reporter.home / "keyfile.json").read_bytes())
    result = reporter("panic", "--yes")
    assert result.exit_code == 0, result.stderr
    assert not reporter.home.exists()
