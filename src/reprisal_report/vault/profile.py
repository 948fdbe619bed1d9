"""The profile directory: one keyfile, one SQLCipher database, one role."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from reprisal_report.errors import ProfileExists, ProfileMissing
from reprisal_report.vault import keyfile
from reprisal_report.vault.files import fsync_dir, shred_file
from reprisal_report.vault.store import Vault

KEYFILE_NAME = "keyfile.json"
DATABASE_NAME = "vault.db"
# SQLite's side files; each holds only encrypted pages, but panic removes them too.
SIDE_SUFFIXES = ("-journal", "-wal", "-shm")


@dataclass(frozen=True)
class ProfilePaths:
    home: Path

    @property
    def keyfile(self) -> Path:
        return self.home / KEYFILE_NAME

    @property
    def database(self) -> Path:
        return self.home / DATABASE_NAME

    @property
    def outbox(self) -> Path:
        """Sealed bundles (age ciphertext this device cannot open either)."""
        return self.home / "outbox"

    def exists(self) -> bool:
        return self.keyfile.exists() or self.database.exists()

    def require(self) -> None:
        if not self.keyfile.exists() or not self.database.exists():
            raise ProfileMissing(
                f"no profile in {self.home}",
                hint="create one with 'reprisal-report init --role ROLE' or pass --home",
            )


def create_profile(paths: ProfilePaths, passphrase: str) -> Vault:
    """Create the directory, keyfile and database; refuse to touch an existing profile."""
    keyfile.check_new_passphrase(passphrase)
    if paths.exists():
        raise ProfileExists(
            f"a profile already exists in {paths.home}",
            hint="choose another --home; 'panic' destroys a profile you no longer need",
        )
    paths.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(paths.home, 0o700)
    master = keyfile.new_master_key()
    data = keyfile.wrap(master, passphrase, keyfile.KdfParams.default())
    try:
        vault = Vault.open(paths.database, master)
        os.chmod(paths.database, 0o600)
        keyfile.write_keyfile(paths.keyfile, data)
    except BaseException:
        for leftover in (paths.database, paths.keyfile):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
    return vault


def unlock_profile(paths: ProfilePaths, passphrase: str) -> Vault:
    paths.require()
    master = keyfile.unwrap(paths.keyfile.read_bytes(), passphrase)
    return Vault.open(paths.database, master)


def change_passphrase(paths: ProfilePaths, old: str, new: str) -> keyfile.KdfParams:
    """Re-wrap the master key under ``new``; the database is not rewritten."""
    paths.require()
    keyfile.check_new_passphrase(new)
    master = keyfile.unwrap(paths.keyfile.read_bytes(), old)
    params = keyfile.KdfParams.default()
    keyfile.write_keyfile(paths.keyfile, keyfile.wrap(master, new, params))
    return params


@dataclass(frozen=True)
class PanicReport:
    removed: list[str]
    # When the last wrapped copy of the key was gone: from here on nothing opens.
    key_destroyed_seconds: float
    seconds: float


def panic(paths: ProfilePaths) -> PanicReport:
    """Crypto-shred the profile: destroy the wrapped key first, then the database.

    Never reads the database, so it takes the same time whatever the vault's size.
    """
    start = time.monotonic()
    if not paths.exists():
        raise ProfileMissing(f"no profile in {paths.home}")
    removed: list[str] = []
    if paths.keyfile.exists():
        shred_file(paths.keyfile)
        removed.append(KEYFILE_NAME)
    # A crash during a keyfile write can leave a temp copy holding a wrapped key.
    for leftover in sorted(paths.home.glob(f".{KEYFILE_NAME}.tmp-*")):
        shred_file(leftover)
        removed.append(leftover.name)
    fsync_dir(paths.home)
    key_gone = time.monotonic() - start
    for path in [paths.database, *(Path(f"{paths.database}{s}") for s in SIDE_SUFFIXES)]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path.name)
    if paths.outbox.is_dir():
        for bundle in sorted(paths.outbox.iterdir()):
            with contextlib.suppress(OSError):
                bundle.unlink()
                removed.append(f"outbox/{bundle.name}")
        with contextlib.suppress(OSError):
            paths.outbox.rmdir()
    fsync_dir(paths.home)
    with contextlib.suppress(OSError):
        paths.home.rmdir()
    return PanicReport(removed, key_gone, time.monotonic() - start)
