"""The SQLCipher connection and schema migrations.

Storage code takes an open ``Vault`` (a keyed connection), so tests can build a vault
anywhere. Settings that matter for "nothing in plaintext at rest":

- the raw 256-bit key is given as ``x'…'`` so SQLCipher's own PBKDF2 is skipped;
- ``temp_store = MEMORY`` keeps sort and temp tables out of the temp directory;
- the rollback journal (DELETE mode) holds encrypted pages only;
- ``secure_delete`` zeroes freed pages inside the (encrypted) file;
- ``cipher_log_level = NONE`` (set before keying): SQLCipher would otherwise write its
  own ``ERROR CORE ...`` lines to stderr on a wrong key or a damaged page, breaking the
  one-line error rule; the failure reaches the user as ``CorruptVault`` instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlcipher3

from reprisal_report.errors import CorruptVault, OperationalError
from reprisal_report.vault.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
# Decrypted pages kept per connection, in KiB (a negative cache_size): enough for the
# triage rows and their indexes of a vault of 100,000 cases, so a working session reads
# and decrypts each page once (SQLCipher's default, 8 MiB, holds a quarter of them).
# Memory grows only with the pages a command reads: docs/benchmarks.md.
CACHE_KIB = 64 * 1024


def _corrupt() -> CorruptVault:
    return CorruptVault(
        "vault database does not match its keyfile or is damaged",
        hint="restore vault.db and keyfile.json together from the same backup",
    )


class Vault:
    """An open, keyed vault connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._depth = 0

    @classmethod
    def open(cls, db_path: Path, master_key: bytes) -> Vault:
        if len(master_key) != 32:
            raise ValueError("master key must be 32 bytes")
        conn = sqlcipher3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        try:
            # Process-wide in SQLCipher; set on every connection before the key, so
            # nothing logs while the key is checked.
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{master_key.hex()}'\"")
            # Off, on purpose (docs/vault.md §5): locking and wiping every SQLite
            # allocation cost 20-30x on every write, while the same plaintext lives in
            # Python objects that nothing locks or wipes.
            conn.execute("PRAGMA cipher_memory_security = OFF")
            # The first read proves the key matches the database.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA temp_store = MEMORY")
            # A build compiled to force temporary files ignores the pragma silently;
            # refuse to work with decrypted sort runs or search-index temp tables on disk.
            if conn.execute("PRAGMA temp_store").fetchone()[0] != 2:
                conn.close()
                raise OperationalError(
                    "this SQLCipher build keeps temporary data in files, not in memory",
                    hint="install reprisal-report with a standard sqlcipher3 build",
                )
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        except sqlcipher3.DatabaseError as exc:
            conn.close()
            raise _corrupt() from exc
        vault = cls(conn)
        try:
            vault.migrate()
        except sqlcipher3.DatabaseError as exc:
            conn.close()
            if type(exc) is not sqlcipher3.DatabaseError:
                raise
            raise _corrupt() from exc
        return vault

    def directory(self) -> Path:
        """The profile directory: the folder of this vault's database file, beside which
        the bulk ciphertext (``blobs/``, ``evidence/``) lives."""
        for _seq, schema, filename in self.conn.execute("PRAGMA database_list").fetchall():
            if schema == "main" and filename:
                return Path(str(filename)).parent
        raise CorruptVault("this vault has no database file to keep its files beside")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        # A page that fails its HMAC later than the first read (a damaged file) raises
        # a bare DatabaseError from whatever query touched it: name it for what it is.
        if exc is not None and type(exc) is sqlcipher3.DatabaseError:
            raise _corrupt() from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """One atomic unit of work; rolled back on any exception.

        Inside another transaction this is a savepoint: its work is undone on failure
        without touching the outer transaction, which commits (or not) as a whole.
        """
        if self.conn.in_transaction:
            name = f"sp{id(self):x}{self._depth}"
            self._depth += 1
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        row = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if row is None:
            return 0
        value = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        return int(value or 0)

    def migrate(self) -> None:
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise CorruptVault(
                f"vault schema version {current} is newer than this program understands",
                hint="upgrade reprisal-report",
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction() as conn:
                for step in script:
                    if isinstance(step, str):
                        conn.execute(step)
                    else:
                        step(conn)
                conn.execute(
                    "INSERT INTO schema_version(version, applied_at) "
                    "VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                    (version,),
                )

    # --- small typed key/value stores -------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_secret(self, name: str) -> bytes | None:
        row = self.conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_secret(self, name: str, value: bytes) -> None:
        self.conn.execute(
            "INSERT INTO secrets(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
