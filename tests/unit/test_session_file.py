"""The working-session file and token (vault/session.py): strict parsing, the AEAD over
every field, expiry boundaries, and writers that cannot put back an ended session."""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report import clock
from reprisal_report.cli.session import SESSION_ENV
from reprisal_report.errors import ExitCode, SessionInvalid
from reprisal_report.model import canonical
from reprisal_report.vault import session as vs
from reprisal_report.vault.files import atomic_write

MASTER = bytes(range(32))
KEYFILE = b'{"format": "reprisal-report/keyfile/1"}\n'
START = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    clock.set_clock(lambda: START)
    yield
    clock.set_clock(None)


def move(offset: timedelta) -> None:
    clock.set_clock(lambda: START + offset)


def test_the_cli_and_the_vault_name_the_same_variable() -> None:
    assert SESSION_ENV == vs.ENV_NAME
    assert SessionInvalid.exit_code == ExitCode.VERIFICATION


def test_a_token_round_trips_and_is_256_random_bits() -> None:
    token, key = vs.new_token()
    assert re.fullmatch(r"rrs1-[0-9a-f]{64}", token)
    assert vs.parse_token(token) == key and len(key) == 32
    assert vs.new_token()[0] != token


@given(st.text(max_size=80))
def test_parse_token_accepts_one_spelling_only(text: str) -> None:
    if re.fullmatch(r"rrs1-[0-9a-f]{64}", text):
        assert vs.parse_token(text) == bytes.fromhex(text[5:])
        return
    with pytest.raises(SessionInvalid) as caught:
        vs.parse_token(text)
    assert caught.value.message == vs.MALFORMED_TOKEN
    assert caught.value.hint == vs.HINT


@given(st.binary(max_size=700))
def test_parse_file_refuses_anything_that_is_not_a_session_file(data: bytes) -> None:
    with pytest.raises(SessionInvalid) as caught:
        vs.parse_file(data)
    assert caught.value.message == vs.NOT_THIS


def good_doc() -> dict[str, object]:
    _, key = vs.new_token()
    info = vs.SessionInfo(100, 200, 900, 28800)
    session = vs.seal(key, MASTER, vs.profile_binding(KEYFILE), info)
    doc = canonical.parse_canonical(session.encode(), vs.MAX_FILE_BYTES)
    assert isinstance(doc, dict)
    return doc


FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.text(max_size=70),
    st.lists(st.integers(min_value=0, max_value=9), max_size=2),
)


@given(field=st.sampled_from(sorted(good_doc())), value=FIELD_VALUES, drop=st.booleans())
def test_a_field_changed_dropped_or_added_is_refused_or_fails_the_tag(
    field: str, value: object, drop: bool
) -> None:
    _, key = vs.new_token()
    session = vs.seal(key, MASTER, "a" * 64, vs.SessionInfo(100, 200, 900, 28800))
    doc = canonical.parse_canonical(session.encode(), vs.MAX_FILE_BYTES)
    assert isinstance(doc, dict)
    changed = {k: v for k, v in doc.items() if k != field} if drop else {**doc, field: value}
    if changed == doc:
        return
    with pytest.raises(SessionInvalid) as caught:
        vs.unseal(key, vs.parse_file(canonical.canonical_json(changed)))
    assert caught.value.message == vs.NOT_THIS
    extra = {**doc, "extra": 1}
    with pytest.raises(SessionInvalid):
        vs.parse_file(canonical.canonical_json(extra))


def test_seal_and_unseal_round_trip_with_a_fresh_nonce_each_time() -> None:
    _, key = vs.new_token()
    info = vs.SessionInfo(100, 200, 900, 28800)
    one = vs.seal(key, MASTER, "b" * 64, info)
    two = vs.seal(key, MASTER, "b" * 64, info)
    assert one.nonce != two.nonce and one.sealed != two.sealed
    parsed = vs.parse_file(one.encode())
    assert parsed == one
    assert vs.unseal(key, parsed) == MASTER
    with pytest.raises(SessionInvalid):
        vs.unseal(vs.new_token()[1], parsed)


def test_expiry_boundaries() -> None:
    info = vs.SessionInfo(created=1000, last_used=1500, idle_seconds=900, max_seconds=3600)
    assert info.ends == 2400 and info.hard_end == 4600
    assert info.expiry(2399) is None
    assert info.expiry(2400) == "the working session expired: unused for 15m"
    late = vs.SessionInfo(created=1000, last_used=4500, idle_seconds=900, max_seconds=3600)
    assert late.expiry(4599) is None
    assert late.expiry(4600) == "the working session expired: it reached its 1h maximum"
    assert late.expiry(4500 - 60) is None  # a clock stepped back a little
    assert late.expiry(4500 - 61) is not None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (900, "15m"), (5400, "1h30m"), (28800, "8h"), (3661, "1h1m1s"), (0, "0s")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert vs.format_duration(seconds) == text


def test_start_open_end(tmp_path: Path) -> None:
    token, info = vs.start(tmp_path, KEYFILE, MASTER, 900, 28800)
    assert info.created == info.last_used == int(START.timestamp())
    assert (tmp_path / vs.SESSION_NAME).stat().st_mode & 0o777 == 0o600
    move(timedelta(minutes=10))
    assert vs.open_master(tmp_path, KEYFILE, token) == MASTER
    stored = vs.parse_file((tmp_path / vs.SESSION_NAME).read_bytes())
    assert stored.info.last_used == int((START + timedelta(minutes=10)).timestamp())
    with pytest.raises(SessionInvalid) as caught:
        vs.open_master(tmp_path, KEYFILE + b" ", token)  # another keyfile: another profile
    assert caught.value.message == vs.NOT_THIS
    assert not (tmp_path / vs.SESSION_NAME).exists()
    assert vs.end(tmp_path) is False
    token, _ = vs.start(tmp_path, KEYFILE, MASTER, 900, 28800)
    assert vs.end(tmp_path) is True
    with pytest.raises(SessionInvalid) as caught:
        vs.open_master(tmp_path, KEYFILE, token)
    assert caught.value.message == vs.NO_SESSION


def test_end_removes_temporary_copies_a_crash_left(tmp_path: Path) -> None:
    vs.start(tmp_path, KEYFILE, MASTER, 900, 28800)
    leftover = tmp_path / f".{vs.SESSION_NAME}.tmp-0123456789abcdef"
    leftover.write_bytes((tmp_path / vs.SESSION_NAME).read_bytes())
    assert vs.end(tmp_path) is True
    assert sorted(tmp_path.iterdir()) == []


def _hold(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_use_waiting_on_the_lock_never_puts_back_an_ended_session(tmp_path: Path) -> None:
    token, _ = vs.start(tmp_path, KEYFILE, MASTER, 900, 28800)
    move(timedelta(minutes=1))
    path = tmp_path / vs.SESSION_NAME
    fd = _hold(path)  # as another command does while it refreshes or ends the session
    outcome: list[BaseException | bytes] = []

    def use() -> None:
        try:
            outcome.append(vs.open_master(tmp_path, KEYFILE, token))
        except BaseException as exc:
            outcome.append(exc)

    user = threading.Thread(target=use)
    user.start()
    path.unlink()  # 'lock' ends the session while the use waits
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    user.join(timeout=30)
    assert not user.is_alive()
    assert isinstance(outcome[0], SessionInvalid) and outcome[0].message == vs.NO_SESSION
    assert not path.exists()


def test_an_end_waiting_on_the_lock_removes_the_replacement(tmp_path: Path) -> None:
    vs.start(tmp_path, KEYFILE, MASTER, 900, 28800)
    path = tmp_path / vs.SESSION_NAME
    fd = _hold(path)
    ended: list[bool] = []
    ender = threading.Thread(target=lambda: ended.append(vs.end(tmp_path)))
    ender.start()
    atomic_write(path, path.read_bytes())  # a use refreshes it: a new file at the name
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    ender.join(timeout=30)
    assert ended == [True]
    assert not path.exists()
