"""Hardening of the command line itself: untrusted text is shown, never interpreted;
panic destroys what it can; private temp files; no core dumps; one-line usage errors,
interrupts and SQLCipher failures."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli, run_subprocess
from tests.integration.test_bundle_cli import (  # noqa: F401 - the fixture is used by name
    Setup,
    setup_fixture,
)
from tests.integration.test_case_cli import example, write

ERR = "reprisal-report: error: "

# Case text as a hostile or careless reporter may write it (the model accepts it all).
MARKUP = "Office raid [/ongoing]"
LINK = "[link=http://evil.example]click[/link] me"
BIDI = "Raid \u202ecod.exe\u202c report"
BIDI_SHOWN = "Raid \\u{202E}cod.exe\\u{202C} report"
TITLES = {MARKUP: MARKUP, LINK: LINK, BIDI: BIDI_SHOWN}


def _new_cases(cli: Cli, tmp_path: Path) -> list[str]:
    ids = []
    for n, title in enumerate(TITLES):
        path = write(tmp_path, f"hostile-{n}.json", json.dumps(example(title=title)))
        ids.append(cli.ok("case", "new", "--from", str(path)).stdout.strip())
    return ids


def _shown_literally(out: str) -> None:
    for shown in TITLES.values():
        assert shown in out, (shown, out)
    assert "\x1b" not in out
    assert "\u202e" not in out and "\u202c" not in out


# --- flaw 5: rich markup and bidi characters in case text --------------------------


def test_case_list_and_show_print_hostile_titles_as_plain_text(
    reporter: Cli, tmp_path: Path
) -> None:
    ids = _new_cases(reporter, tmp_path)
    listed = reporter("case", "list")
    assert listed.exit_code == 0, listed.stderr
    _shown_literally(listed.stdout)
    for case_id, shown in zip(ids, TITLES.values(), strict=True):
        result = reporter("case", "show", case_id)
        assert result.exit_code == 0, result.stderr
        assert f"title: {shown}\n" in result.stdout
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout


def test_json_output_escapes_bidi_characters_and_reads_back_exactly(
    reporter: Cli, tmp_path: Path
) -> None:
    ids = _new_cases(reporter, tmp_path)
    result = reporter("case", "show", ids[2], "--json")
    assert result.exit_code == 0, result.stderr
    assert "\u202e" not in result.stdout
    assert '"title": "Raid \\u202ecod.exe\\u202c report"' in result.stdout
    assert json.loads(result.stdout)["title"] == BIDI


def test_triage_list_and_show_print_hostile_titles_as_plain_text(
    setup: Setup, tmp_path: Path
) -> None:
    ids = _new_cases(setup.reporter, tmp_path)
    bundles = setup.seal(*ids)
    setup.coordinator.ok("inbox", "import", *map(str, bundles))
    listed = setup.coordinator("triage", "list")
    assert listed.exit_code == 0, listed.stderr
    _shown_literally(listed.stdout)
    for case_id, shown in zip(ids, TITLES.values(), strict=True):
        result = setup.coordinator("triage", "show", case_id)
        assert result.exit_code == 0, result.stderr
        assert f"title: {shown}\n" in result.stdout
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout


def test_error_lines_show_control_and_bidi_characters_visibly(
    reporter: Cli, tmp_path: Path
) -> None:
    # A usage error quotes what was typed: an escape sequence in it is not run.
    result = reporter("case", "list", "--a\u202eb")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{ERR}no such option: --a\\u{{202E}}b",
        "hint: see 'reprisal-report case list --help'",
    ]
    # A ReportError quoting a file name (an error line from _report).
    missing = tmp_path / "case\u202elmy\x1b]8;;evil\x07.yaml"
    result = reporter("case", "new", "--from", str(missing))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{ERR}no such file: {tmp_path}/case\\u{{202E}}lmy\\u{{001B}}]8;;evil\\u{{0007}}.yaml"
    ]


# --- flaw 7: panic ------------------------------------------------------------------


@contextlib.contextmanager
def unremovable(path: Path) -> Iterator[None]:
    """Make ``path`` impossible to remove (or overwrite) for this test's user."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: nothing is unremovable")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip("this file system does not support the immutable attribute")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        os.chmod(path.parent, 0o500)
        try:
            yield
        finally:
            os.chmod(path.parent, 0o700)


def _reason_unremovable() -> str:
    return "operation not permitted" if os.geteuid() == 0 else "permission denied"


def test_panic_removes_a_symlinked_keyfile_without_following_it(
    reporter: Cli, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "precious.txt"
    target.write_bytes(b"a file panic must never overwrite\n")
    keyfile = reporter.home / "keyfile.json"
    keyfile.unlink()
    keyfile.symlink_to(target)
    result = reporter("panic", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["removed"][:2] == ["keyfile.json", "vault.db"]
    assert doc["failed"] == [] and doc["key_destroyed"] is True
    assert doc["notes"] == [
        "keyfile.json was a symbolic link: the link was removed and its target was not touched"
    ]
    assert target.read_bytes() == b"a file panic must never overwrite\n"
    assert not reporter.home.exists()
    again = reporter("case", "list")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == f"{ERR}no profile in {reporter.home}"


def test_panic_on_a_dangling_keyfile_link_still_destroys_the_rest(reporter: Cli) -> None:
    keyfile = reporter.home / "keyfile.json"
    keyfile.unlink()
    keyfile.symlink_to(reporter.home / "gone")
    result = reporter("panic", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "reprisal-report: warning: keyfile.json was a symbolic link: the link was removed "
        "and its target was not touched"
    )
    assert not reporter.home.exists()


def test_panic_reports_what_it_could_not_remove_and_destroys_the_rest(setup: Setup) -> None:
    [bundle] = setup.seal(setup.case_id)
    home = setup.reporter.home
    with unremovable(bundle):
        result = setup.reporter("panic", "--yes")
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"{ERR}panic could not destroy 1 item(s): outbox/{bundle.name} "
            f"({_reason_unremovable()})",
            "hint: everything else is destroyed and the vault cannot be opened; "
            "remove the listed items by hand",
        ]
        assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == [
            "outbox",
            f"outbox/{bundle.name}",
        ]
    again = setup.reporter("case", "list")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == f"{ERR}no profile in {home}"


def test_panic_overwrites_the_database_when_the_key_cannot_be_destroyed(
    reporter: Cli, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can make its own file immutable")
    reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))
    keyfile = reporter.home / "keyfile.json"
    saved_key = keyfile.read_bytes()
    with unremovable(keyfile):
        result = reporter("panic", "--yes", "--json")
        assert result.exit_code == 1
        doc = json.loads(result.stdout)
        assert doc["key_destroyed"] is False and doc["key_destroyed_seconds"] is None
        assert doc["failed"] == [
            {
                "name": "keyfile.json",
                "reason": "not overwritten or removed: operation not permitted",
            }
        ]
        assert "vault.db" in doc["removed"]
        assert keyfile.read_bytes() == saved_key
    assert not (reporter.home / "vault.db").exists()
    again = reporter("case", "list")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == f"{ERR}no profile in {reporter.home}"


# --- low: private temporary files ---------------------------------------------------


def test_export_age_never_writes_through_a_planted_temp_file(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    coordinator = make_cli("coord")
    coordinator.ok("init", "--role", "coordinator")
    shared = tmp_path / "shared"
    shared.mkdir()
    out = shared / "coordinator.age"
    # The old temp name was predictable (pid); another user could pre-create it
    # world-readable and read the secret written into it.
    planted = shared / f".{out.name}.tmp-{os.getpid()}"
    planted.write_bytes(b"")
    planted.chmod(0o666)
    result = coordinator("id", "export-age", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert planted.read_bytes() == b""
    assert out.stat().st_ino != planted.stat().st_ino
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("AGE-SECRET-KEY-1")
    assert sorted(p.name for p in shared.iterdir()) == sorted([out.name, planted.name])


# --- low: core dumps ----------------------------------------------------------------

PROBE = """
import ctypes, resource, sys
from reprisal_report.cli.app import main
sys.argv = ["reprisal-report", "--version"]
try:
    main()
except SystemExit:
    pass
dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
print(resource.getrlimit(resource.RLIMIT_CORE), dumpable, file=sys.stderr)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_main_disables_core_dumps_first() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("reprisal-report ")
    assert done.stderr.decode() == "(0, 0) 0\n"


def _at_prompt(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start the CLI on a pseudo-terminal and wait until it asks for the passphrase.

    The test keeps its own copy of the terminal's far end open, so what the process
    wrote just before exiting can still be read after it exited.
    """
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    full_env.update(env)
    full_env.pop("REPRISAL_REPORT_PASSPHRASE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "reprisal_report", *args],
        env=full_env,
        stdin=follower,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        start_new_session=True,
    )
    shown = _read_until(leader, b"Passphrase: ")
    assert shown.endswith(b"Passphrase: "), shown
    return process, leader, follower


def _read_until(leader: int, marker: bytes | None) -> bytes:
    shown = bytearray()
    while marker is None or not shown.endswith(marker):
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    return bytes(shown)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_interrupt_at_a_prompt_exits_130_with_one_line_and_no_core(
    subprocess_env: dict[str, str],
) -> None:
    process, leader, follower = _at_prompt(["init", "--role", "reporter"], subprocess_env)
    try:
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        [core] = [line for line in limits.splitlines() if line.startswith("Max core file size")]
        assert core.split()[4:6] == ["0", "0"]
        os.kill(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
        rest = _read_until(leader, b"step\r\n").decode().replace("\r\n", "\n")
    finally:
        os.close(leader)
        os.close(follower)
    assert code == 130
    assert rest == f"\n{ERR}interrupted; nothing was changed by the unfinished step\n"
    assert not Path(subprocess_env["REPRISAL_REPORT_HOME"]).exists()


# --- low: usage errors, --debug ---------------------------------------------------


def test_debug_after_the_command_is_a_one_line_usage_error(reporter: Cli) -> None:
    result = reporter("case", "list", "--debug")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{ERR}no such option: --debug",
        "hint: see 'reprisal-report case list --help'",
    ]
    assert reporter("--debug", "case", "list", "--json").exit_code == 0


def test_home_and_passphrase_file_work_before_and_after_the_command(
    reporter: Cli, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSPHRASE + "\n")
    env: dict[str, str | None] = {
        "REPRISAL_REPORT_HOME": None,
        "REPRISAL_REPORT_PASSPHRASE": None,
    }
    home = str(reporter.home)
    for args in (
        ("--home", home, "--passphrase-file", str(secret), "case", "list", "--json"),
        ("case", "list", "--home", home, "--passphrase-file", str(secret), "--json"),
    ):
        result = reporter(*args, env=env)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == []


# --- empty values never mean the current folder -------------------------------------

EMPTY = "an empty value names no file or folder"


def test_an_empty_path_is_refused_and_nothing_lands_in_the_current_folder(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script's unset variable (``--out "$DIR"``) must not mean "here": typer would
    take "" as the current folder, where plaintext attachments or a new profile would
    then land. Refused as usage errors (exit 2) before any vault opens."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    [bundle] = setup.seal(setup.case_id)
    setup.coordinator.ok("inbox", "import", str(bundle))
    shutil.copy(bundle, here / bundle.name)  # what a pull or an import of "" would take
    rep, coord, case = setup.reporter, setup.coordinator, setup.case_id
    usage = (
        (rep, ("--home", "", "init", "--role", "reporter"), "--home", ""),
        (rep, ("case", "list", "--home", ""), "--home", "case list "),
        (coord, ("triage", "attachment", case, "--out", ""), "--out", "triage attachment "),
        (coord, ("triage", "evidence", case, "--out", ""), "--out", "triage evidence "),
        (coord, ("inbox", "import", ""), "PATH...", "inbox import "),
        (rep, ("case", "attach", case, ""), "FILE...", "case attach "),
    )
    for cli, args, name, command in usage:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"{ERR}invalid value for '{name}': {EMPTY}",
            f"hint: see 'reprisal-report {command}--help'",
        ], args
    for cli, args, flag in (
        (rep, ("sync", "push", "--to", ""), "--to"),
        (coord, ("sync", "pull", "--from", "", "--remove-after-import"), "--from"),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.splitlines() == [f"{ERR}{flag} is empty; name a folder or a relay URL"]
    assert [p.name for p in here.iterdir()] == [bundle.name]
    assert (here / bundle.name).read_bytes() == bundle.read_bytes()


# --- low: SQLCipher's own log lines -----------------------------------------------


def test_damaged_vault_and_wrong_key_give_one_error_line(
    subprocess_env: dict[str, str],
) -> None:
    env = subprocess_env
    assert run_subprocess(["init", "--role", "reporter"], env).returncode == 0
    db = Path(env["REPRISAL_REPORT_HOME"]) / "vault.db"
    pristine = db.read_bytes()
    damaged = "vault database does not match its keyfile or is damaged"
    hint = "hint: restore vault.db and keyfile.json together from the same backup"
    for offset in (20, 5000):  # page 1 (read at open) and page 2 (read by a query)
        data = bytearray(pristine)
        data[offset] ^= 1
        db.write_bytes(bytes(data))
        done = run_subprocess(["case", "list"], env)
        assert done.returncode == 3, done.stderr
        assert done.stderr.decode().splitlines() == [f"{ERR}{damaged}", hint]
        assert done.stdout == b""
    db.write_bytes(pristine)
    wrong = run_subprocess(
        ["case", "list"], {**env, "REPRISAL_REPORT_PASSPHRASE": "not the passphrase"}
    )
    assert wrong.returncode == 3
    assert wrong.stderr.decode().splitlines() == [
        f"{ERR}wrong passphrase",
        "hint: nothing was changed; check the keyboard layout",
    ]
