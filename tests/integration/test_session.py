"""Working sessions through the real CLI: ``unlock`` once, commands without the
passphrase, expiry on an injected clock, ``lock``, ``panic``, and every token that must
open nothing (exit 3, nothing changed)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report import clock
from reprisal_report.model import canonical
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli, run_subprocess

ERR = "reprisal-report: error: "
ENV = "REPRISAL_REPORT_SESSION"
HINT = (
    'hint: nothing was opened; run eval "$(reprisal-report unlock)" again, '
    "or unset REPRISAL_REPORT_SESSION to use the passphrase"
)
NOT_THIS = [f"{ERR}{ENV} does not open this profile's working session", HINT]
MALFORMED = [f"{ERR}{ENV} is not a reprisal-report session token", HINT]
NO_SESSION = [
    f"{ERR}no working session is open for this profile (locked, expired or replaced)",
    HINT,
]
START = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def at() -> Iterator[Callable[[timedelta], None]]:
    """Move the clock to START + offset (no sleeping); restored afterwards."""

    def move(offset: timedelta) -> None:
        clock.set_clock(lambda: START + offset)

    move(timedelta(0))
    yield move
    clock.set_clock(None)


@pytest.fixture
def coordinator(make_cli: Callable[[str], Cli]) -> Cli:
    cli = make_cli("coordinator")
    cli.ok("init", "--role", "coordinator")
    return cli


def unlock(cli: Cli, *args: str) -> str:
    result = cli("unlock", *args)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"export {ENV}=rrs1-"), lines
    return lines[0].split("=", 1)[1]


def with_token(cli: Cli, token: str, *args: str) -> tuple[int, str, list[str]]:
    """Run with the session only: no passphrase anywhere."""
    result = cli(*args, env={"REPRISAL_REPORT_PASSPHRASE": None, ENV: token})
    return result.exit_code, result.stdout, result.stderr.splitlines()


def snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir()) if p.is_file()}


def session_doc(cli: Cli) -> dict[str, object]:
    doc = json.loads((cli.home / "session.json").read_bytes())
    assert isinstance(doc, dict)
    return doc


# --- it works ----------------------------------------------------------------------------


def test_a_session_opens_every_role_without_the_passphrase(reporter: Cli, coordinator: Cli) -> None:
    rep_token = unlock(reporter)
    assert with_token(reporter, rep_token, "case", "list", "--json")[:2] == (0, "[]\n")
    code, out, _ = with_token(reporter, rep_token, "case", "new", "--from", str(EXAMPLE_CASE))
    assert code == 0 and out.strip()
    assert len(json.loads(with_token(reporter, rep_token, "case", "list", "--json")[1])) == 1
    coord_token = unlock(coordinator)
    assert with_token(coordinator, coord_token, "triage", "list", "--json")[:2] == (0, "[]\n")
    code, out, _ = with_token(coordinator, coord_token, "id", "show", "--json")
    assert code == 0 and json.loads(out)["role"] == "coordinator"
    # Without the variable the same command needs the passphrase again.
    result = reporter("case", "list", env={"REPRISAL_REPORT_PASSPHRASE": None})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{ERR}no passphrase given"


def test_unlock_json_and_the_file_it_writes(
    coordinator: Cli, at: Callable[[timedelta], None]
) -> None:
    result = coordinator("unlock", "--idle", "20m", "--max", "2h", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    token = doc.pop("token")
    assert doc == {
        "env": ENV,
        "idle_seconds": 1200,
        "max_seconds": 7200,
        "idle_ends": "2026-03-01T09:20:00Z",
        "ends_at_latest": "2026-03-01T11:00:00Z",
    }
    path = coordinator.home / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    key = bytes.fromhex(token.removeprefix("rrs1-"))
    for form in (token.encode(), token[5:].encode(), key, canonical.b64encode(key).encode()):
        assert form not in data
    for other in coordinator.home.rglob("*"):
        if other.is_file():
            assert token[5:].encode() not in other.read_bytes()
    stored = session_doc(coordinator)
    assert stored["idle_seconds"] == 1200 and stored["max_seconds"] == 7200
    assert stored["created"] == stored["last_used"] == int(START.timestamp())


def test_the_session_is_the_only_way_in_when_set_unless_a_passphrase_file_is_given(
    coordinator: Cli, tmp_path: Path
) -> None:
    bad = "rrs1-" + "0" * 64
    # The passphrase is in the environment too: still exit 3, never a silent fall back.
    result = coordinator("triage", "list", env={ENV: bad})
    assert result.exit_code == 3
    assert result.stderr.splitlines() == NO_SESSION
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    result = coordinator("triage", "list", "--passphrase-file", str(secret), env={ENV: bad})
    assert result.exit_code == 0, result.stderr
    # An empty variable is no session (what 'eval "$(reprisal-report lock)"' leaves).
    assert coordinator("triage", "list", env={ENV: ""}).exit_code == 0


# --- expiry --------------------------------------------------------------------------------


def test_idle_expiry_counts_from_the_last_use(
    coordinator: Cli, at: Callable[[timedelta], None]
) -> None:
    token = unlock(coordinator, "--idle", "15m", "--max", "1h")
    for minutes in (14, 28, 42):  # each use is under 15 minutes after the one before
        at(timedelta(minutes=minutes, seconds=59))
        assert with_token(coordinator, token, "triage", "list")[0] == 0
        assert session_doc(coordinator)["last_used"] == int(
            (START + timedelta(minutes=minutes, seconds=59)).timestamp()
        )
    at(timedelta(minutes=57, seconds=59))  # 15 minutes after the last use
    code, out, err = with_token(coordinator, token, "triage", "list")
    assert (code, out) == (3, "")
    assert err == [f"{ERR}the working session expired: unused for 15m", HINT]
    assert not (coordinator.home / "session.json").exists()
    assert with_token(coordinator, token, "triage", "list")[2] == NO_SESSION


def test_the_maximum_ends_a_session_in_use(
    coordinator: Cli, at: Callable[[timedelta], None]
) -> None:
    token = unlock(coordinator, "--idle", "15m", "--max", "30m")
    for minutes in (10, 20, 29):
        at(timedelta(minutes=minutes))
        assert with_token(coordinator, token, "triage", "list")[0] == 0
    at(timedelta(minutes=30))
    code, _, err = with_token(coordinator, token, "triage", "list")
    assert code == 3
    assert err == [f"{ERR}the working session expired: it reached its 30m maximum", HINT]
    assert not (coordinator.home / "session.json").exists()


def test_an_expired_session_is_removed_by_a_passphrase_command_too(
    coordinator: Cli, at: Callable[[timedelta], None]
) -> None:
    unlock(coordinator, "--idle", "1m", "--max", "1h")
    at(timedelta(minutes=1))
    coordinator.ok("triage", "list")  # the passphrase; the session's own limits say it is over
    assert not (coordinator.home / "session.json").exists()


def test_a_clock_set_back_ends_the_session(
    coordinator: Cli, at: Callable[[timedelta], None]
) -> None:
    token = unlock(coordinator)
    at(timedelta(minutes=-5))
    code, _, err = with_token(coordinator, token, "triage", "list")
    assert code == 3
    assert err[0] == f"{ERR}the working session ended: the clock is earlier than its last use"


def test_unlock_durations_are_checked(coordinator: Cli) -> None:
    cases = {
        ("--idle", "15x"): [
            f"{ERR}--idle: '15x' is not a duration",
            "hint: write it as 90s, 15m, 8h or 1h30m",
        ],
        ("--max", ""): [
            f"{ERR}--max: '' is not a duration",
            "hint: write it as 90s, 15m, 8h or 1h30m",
        ],
        ("--max", "0m"): [f"{ERR}--max: a session must last at least one second"],
        ("--max", "25h"): [f"{ERR}--max: a session lasts at most 24h"],
        ("--idle", "2h", "--max", "1h"): [f"{ERR}--idle cannot be longer than --max"],
    }
    for args, lines in cases.items():
        result = coordinator("unlock", *args)
        assert (result.exit_code, result.stdout) == (2, ""), args
        assert result.stderr.splitlines() == lines
    assert not (coordinator.home / "session.json").exists()


def test_unlock_needs_the_passphrase_and_a_wrong_one_opens_no_session(coordinator: Cli) -> None:
    token = unlock(coordinator)
    # A session cannot extend itself: unlock asks for the passphrase whatever is set.
    result = coordinator("unlock", env={"REPRISAL_REPORT_PASSPHRASE": None, ENV: token})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{ERR}no passphrase given"
    coordinator.ok("lock")
    result = coordinator("unlock", env={"REPRISAL_REPORT_PASSPHRASE": "not the passphrase"})
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"{ERR}wrong passphrase"
    assert result.stdout == ""
    assert not (coordinator.home / "session.json").exists()


# --- ending it -------------------------------------------------------------------------------


def test_lock_ends_the_session_and_says_so_when_there_is_none(coordinator: Cli) -> None:
    token = unlock(coordinator)
    result = coordinator("lock", env={"REPRISAL_REPORT_PASSPHRASE": None})
    assert result.exit_code == 0
    assert result.stdout == f"unset {ENV}\n"
    assert result.stderr == "working session ended; its token no longer opens this vault\n"
    assert not (coordinator.home / "session.json").exists()
    assert with_token(coordinator, token, "triage", "list")[:3] == (3, "", NO_SESSION)
    result = coordinator("lock")
    assert (result.exit_code, result.stdout) == (0, f"unset {ENV}\n")
    assert result.stderr == "no working session was open for this profile\n"
    assert json.loads(coordinator("lock", "--json").stdout) == {"ended": False}


def test_lock_without_a_profile_is_exit_1(make_cli: Callable[[str], Cli]) -> None:
    cli = make_cli("nothing")
    result = cli("lock")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}no profile in {cli.home}"


def test_panic_ends_the_session_in_its_key_step(coordinator: Cli) -> None:
    token = unlock(coordinator)
    result = coordinator("panic", "--yes", "--json", env={ENV: token})
    assert result.exit_code == 0, result.stderr
    removed = json.loads(result.stdout)["removed"]
    assert removed[:2] == ["keyfile.json", "session.json"]  # key material first
    assert removed.index("session.json") < removed.index("vault.db")
    assert not coordinator.home.exists()
    code, _, err = with_token(coordinator, token, "triage", "list")
    assert code == 1 and err[0] == f"{ERR}no profile in {coordinator.home}"


def test_passphrase_change_needs_the_passphrase_and_ends_the_session(coordinator: Cli) -> None:
    token = unlock(coordinator)
    result = coordinator(
        "passphrase",
        "change",
        env={
            "REPRISAL_REPORT_PASSPHRASE": None,
            ENV: token,
            "REPRISAL_REPORT_NEW_PASSPHRASE": "x" * 12,
        },
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{ERR}no passphrase given"
    assert with_token(coordinator, token, "triage", "list")[0] == 0
    result = coordinator("passphrase", "change", env={"REPRISAL_REPORT_NEW_PASSPHRASE": "x" * 12})
    assert result.exit_code == 0, result.stderr
    assert not (coordinator.home / "session.json").exists()
    assert with_token(coordinator, token, "triage", "list")[2] == NO_SESSION


# --- tokens that open nothing -------------------------------------------------------------


def assert_opens_nothing(cli: Cli, token: str, expected: list[str]) -> None:
    """Exit 3 with exactly ``expected``, for a reading and a writing command, and the
    profile's files unchanged (no case written, no last use recorded)."""
    before = snapshot(cli.home)
    for args in (("case", "list"), ("case", "new", "--from", str(EXAMPLE_CASE))):
        code, out, err = with_token(cli, token, *args)
        assert (code, out) == (3, ""), args
        assert err == expected
    assert snapshot(cli.home) == before


def test_wrong_malformed_and_replaced_tokens(reporter: Cli) -> None:
    first = unlock(reporter)
    second = unlock(reporter)  # a new unlock replaces the session
    assert with_token(reporter, second, "case", "list")[0] == 0
    assert_opens_nothing(reporter, first, NOT_THIS)
    assert_opens_nothing(reporter, "rrs1-" + "ab" * 32, NOT_THIS)
    for malformed in ("x", "rrs1-", "rrs1-" + "A" * 64, second + "0", " " + second, second[:-1]):
        assert_opens_nothing(reporter, malformed, MALFORMED)
    assert with_token(reporter, second, "case", "list")[0] == 0  # still open


def test_a_tampered_session_file_opens_nothing(reporter: Cli) -> None:
    token = unlock(reporter)
    path = reporter.home / "session.json"
    original = path.read_bytes()
    doc = session_doc(reporter)
    for field, value in (("max_seconds", 86400), ("created", 1), ("idle_seconds", 899)):
        path.write_bytes(canonical.canonical_json({**doc, field: value}))
        assert_opens_nothing(reporter, token, NOT_THIS)
    sealed = bytearray(canonical.b64decode(doc["sealed"]))
    sealed[0] ^= 1
    path.write_bytes(
        canonical.canonical_json({**doc, "sealed": canonical.b64encode(bytes(sealed))})
    )
    assert_opens_nothing(reporter, token, NOT_THIS)
    path.write_bytes(original)
    assert with_token(reporter, token, "case", "list")[0] == 0
    # A file that is not a session file at all is removed once noticed.
    path.write_bytes(b"not a session\n")
    code, _, err = with_token(reporter, token, "case", "list")
    assert (code, err) == (3, NOT_THIS)
    assert not path.exists()


def test_a_symbolic_link_is_never_a_session(reporter: Cli, tmp_path: Path) -> None:
    token = unlock(reporter)
    target = tmp_path / "elsewhere.json"
    target.write_bytes((reporter.home / "session.json").read_bytes())
    (reporter.home / "session.json").unlink()
    (reporter.home / "session.json").symlink_to(target)
    assert with_token(reporter, token, "case", "list")[2] == NO_SESSION
    assert not os.path.lexists(reporter.home / "session.json")
    assert target.exists()  # the link was removed, its target never touched


def test_another_profiles_token_or_file_opens_nothing(make_cli: Callable[[str], Cli]) -> None:
    one, two = make_cli("one"), make_cli("two")
    for cli in (one, two):
        cli.ok("init", "--role", "reporter")
    token_one, token_two = unlock(one), unlock(two)
    assert_opens_nothing(two, token_one, NOT_THIS)
    assert_opens_nothing(one, token_two, NOT_THIS)
    # Profile one's file copied into profile two, with profile one's token: the file is
    # bound to profile one's keyfile, so it opens nothing and is removed.
    (two.home / "session.json").write_bytes((one.home / "session.json").read_bytes())
    code, _, err = with_token(two, token_one, "case", "list")
    assert (code, err) == (3, NOT_THIS)
    assert not (two.home / "session.json").exists()
    assert with_token(one, token_one, "case", "list")[0] == 0


TOKEN_TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=90),
    st.text(alphabet="rs1-0123456789abcdefABCDEF \n", max_size=72),
    st.builds(lambda tail: "rrs1-" + tail, st.text(alphabet="0123456789abcdefgA", max_size=70)),
)


@given(token=TOKEN_TEXT)
def test_any_malformed_token_is_the_one_exit_3_error(reporter: Cli, token: str) -> None:
    if not token or re.fullmatch(r"rrs1-[0-9a-f]{64}", token):
        return  # empty is no session at all; a well-formed token is the next error
    code, out, err = with_token(reporter, token, "case", "list")
    assert (code, out, err) == (3, "", MALFORMED)


_TOKENS: dict[Path, str] = {}


@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda text: text.encode(), st.text(alphabet='{}":,0123456789abcdef', max_size=300)
        ),
    )
)
def test_any_damaged_session_file_is_the_one_exit_3_error(reporter: Cli, data: bytes) -> None:
    path = reporter.home / "session.json"
    if reporter.home not in _TOKENS:
        _TOKENS[reporter.home] = unlock(reporter)
    good = path.read_bytes()
    path.write_bytes(data)
    code, out, err = with_token(reporter, _TOKENS[reporter.home], "case", "list")
    assert (code, out, err) == (3, "", NOT_THIS)
    path.write_bytes(good)


@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_of_the_session_file_opens_nothing(
    reporter: Cli, position: int, flip: int
) -> None:
    path = reporter.home / "session.json"
    if reporter.home not in _TOKENS:
        _TOKENS[reporter.home] = unlock(reporter)
    good = path.read_bytes()
    changed = bytearray(good)
    changed[position % len(good)] ^= flip
    path.write_bytes(bytes(changed))
    code, out, err = with_token(reporter, _TOKENS[reporter.home], "case", "list")
    assert (code, out, err) == (3, "", NOT_THIS)
    path.write_bytes(good)


# --- the shell: eval, and the token on no command line ---------------------------------------

SHIM = """#!{python}
import json, os, sys

LOG = os.environ["RR_ARGV_LOG"]


def note(entry):
    with open(LOG, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\\n")


note(sys.argv)


def hook(event, args):
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system"):
        note([event, repr(args)])


sys.addaudithook(hook)
from reprisal_report.cli.app import main

main()
"""


def test_the_printed_line_works_in_eval_and_the_token_is_on_no_command_line(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(subprocess_env["REPRISAL_REPORT_HOME"])
    assert run_subprocess(["init", "--role", "reporter"], subprocess_env).returncode == 0
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "reprisal-report"
    shim.write_text(SHIM.format(python=sys.executable))
    shim.chmod(0o700)
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    log = tmp_path / "argv.log"
    env = {k: v for k, v in subprocess_env.items() if k != "REPRISAL_REPORT_PASSPHRASE"}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "RR_ARGV_LOG": str(log),
            "HOME": str(tmp_path),
        }
    )
    script = (
        f'eval "$(reprisal-report unlock --passphrase-file {secret})" && '
        f'printf %s "${ENV}" > {tmp_path / "token"} && '
        f"reprisal-report case new --from {EXAMPLE_CASE} && "
        f"reprisal-report case list --json > {tmp_path / 'cases.json'} && "
        'eval "$(reprisal-report lock)" && '
        f'printf %s "${{{ENV}-unset}}" > {tmp_path / "after"}'
    )
    done = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    token = (tmp_path / "token").read_text()
    assert token.startswith("rrs1-") and len(token) == 69
    assert len(json.loads((tmp_path / "cases.json").read_text())) == 1
    assert (tmp_path / "after").read_text() == "unset"
    assert not (home / "session.json").exists()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e[1] for e in entries] == ["unlock", "case", "case", "lock"]
    assert token not in log.read_text() and token[5:] not in log.read_text()
    assert token[5:].encode() not in done.stdout + done.stderr
