"""The vault on a temp file: keyed open, transactions and savepoints, migrations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reprisal_report.errors import CorruptVault
from reprisal_report.vault.migrations import MIGRATIONS
from reprisal_report.vault.store import Vault

CANARY = b"canary-7f3a vault plaintext"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def test_round_trip_and_nothing_in_plaintext(tmp_path: Path, key: bytes) -> None:
    db = tmp_path / "vault.db"
    with Vault.open(db, key) as vault, vault.transaction():
        vault.put_secret("probe", CANARY)
        vault.set_meta("label", CANARY.decode())
    with Vault.open(db, key) as vault:
        assert vault.get_secret("probe") == CANARY
        assert vault.get_meta("label") == CANARY.decode()
        assert vault.schema_version() == len(MIGRATIONS)
    for path in tmp_path.iterdir():
        assert CANARY not in path.read_bytes(), path.name


def test_wrong_key_is_a_corrupt_vault(tmp_path: Path, key: bytes) -> None:
    db = tmp_path / "vault.db"
    Vault.open(db, key).close()
    with pytest.raises(CorruptVault, match="does not match its keyfile or is damaged"):
        Vault.open(db, os.urandom(32))


def test_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Vault.open(tmp_path / "vault.db", b"\0" * 31)


def test_a_failed_transaction_leaves_nothing(tmp_path: Path, key: bytes) -> None:
    with Vault.open(tmp_path / "vault.db", key) as vault:
        with pytest.raises(RuntimeError), vault.transaction():
            vault.set_meta("half", "done")
            raise RuntimeError("crash in the middle")
        assert vault.get_meta("half") is None


def test_a_failed_savepoint_undoes_only_its_own_work(tmp_path: Path, key: bytes) -> None:
    with Vault.open(tmp_path / "vault.db", key) as vault:
        with vault.transaction():
            vault.set_meta("outer", "kept")
            with pytest.raises(RuntimeError), vault.transaction():
                vault.set_meta("inner", "undone")
                raise RuntimeError("one bad bundle")
            vault.set_meta("after", "kept")
        assert vault.get_meta("outer") == "kept"
        assert vault.get_meta("after") == "kept"
        assert vault.get_meta("inner") is None


def test_a_vault_from_a_newer_program_is_refused(tmp_path: Path, key: bytes) -> None:
    db = tmp_path / "vault.db"
    with Vault.open(db, key) as vault:
        vault.conn.execute(
            "INSERT INTO schema_version(version, applied_at) VALUES (?, 'x')",
            (len(MIGRATIONS) + 1,),
        )
    with pytest.raises(CorruptVault, match="newer than this program understands"):
        Vault.open(db, key)


def test_migrations_run_once(tmp_path: Path, key: bytes) -> None:
    db = tmp_path / "vault.db"
    Vault.open(db, key).close()
    with Vault.open(db, key) as vault:
        rows = vault.conn.execute("SELECT version FROM schema_version ORDER BY version")
        assert [r[0] for r in rows] == list(range(1, len(MIGRATIONS) + 1))
