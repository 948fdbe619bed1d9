"""The profile directory: one keyfile, one SQLCipher database, one role."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from reprisal_report.errors import ProfileExists, ProfileMissing
from reprisal_report.vault import keyfile
from reprisal_report.vault import session as vault_session
from reprisal_report.vault.files import TEMP_MARK, fsync_dir, overwrite_in_place, temp_copies
from reprisal_report.vault.store import Vault

KEYFILE_NAME = "keyfile.json"
DATABASE_NAME = "vault.db"
# SQLite's side files; each holds only encrypted pages, but panic removes them too.
SIDE_SUFFIXES = ("-journal", "-wal", "-shm")
# Other files a profile directory may hold (removed by panic after everything else).
# write.lock is vault/lock.py's LOCK_NAME (empty; removed when a command ends).
OTHER_FILES: tuple[str, ...] = ("write.lock",)


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
    def session(self) -> Path:
        """The working session: the master key wrapped under a token (vault/session.py)."""
        return self.home / vault_session.SESSION_NAME

    @property
    def outbox(self) -> Path:
        """Sealed bundles (age ciphertext this device cannot open either)."""
        return self.home / "outbox"

    def exists(self) -> bool:
        """Anything of a profile here, a dangling symbolic link included."""
        return os.path.lexists(self.keyfile) or os.path.lexists(self.database)

    def require(self) -> None:
        if not self.keyfile.exists() or not self.database.exists():
            raise ProfileMissing(
                f"no profile in {self.home}",
                hint="create one with 'reprisal-report init', or open another profile folder",
            )


def create_profile(paths: ProfilePaths, passphrase: str) -> Vault:
    """Create the directory, keyfile and database; refuse to touch an existing profile."""
    keyfile.check_new_passphrase(passphrase)
    if paths.exists():
        raise ProfileExists(
            f"a profile already exists in {paths.home}",
            hint="choose another profile folder; 'panic' destroys a profile you no longer need",
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
    master = keyfile.unwrap(keyfile.read_keyfile(paths.keyfile), passphrase)
    return Vault.open(paths.database, master)


def start_session(
    paths: ProfilePaths, passphrase: str, idle_seconds: int, max_seconds: int
) -> tuple[str, vault_session.SessionInfo]:
    """Unwrap the master key with the passphrase (the KDF, once), check that it opens the
    database, then wrap it in a new working session; return the token."""
    paths.require()
    data = keyfile.read_keyfile(paths.keyfile)
    master = keyfile.unwrap(data, passphrase)
    Vault.open(paths.database, master).close()
    return vault_session.start(paths.home, data, master, idle_seconds, max_seconds)


def unlock_with_session(paths: ProfilePaths, token: str) -> Vault:
    """Open the vault with a working session's token: no KDF, no passphrase."""
    paths.require()
    data = keyfile.read_keyfile(paths.keyfile)
    return Vault.open(paths.database, vault_session.open_master(paths.home, data, token))


def end_session(paths: ProfilePaths) -> bool:
    """Remove the profile's working session; True if one was open."""
    return vault_session.end(paths.home)


def change_passphrase(paths: ProfilePaths, old: str, new: str) -> keyfile.KdfParams:
    """Re-wrap the master key under ``new``; the database is not rewritten."""
    paths.require()
    keyfile.check_new_passphrase(new)
    master = keyfile.unwrap(keyfile.read_keyfile(paths.keyfile), old)
    params = keyfile.KdfParams.default()
    keyfile.write_keyfile(paths.keyfile, keyfile.wrap(master, new, params))
    return params


@dataclass(frozen=True)
class PanicReport:
    removed: list[str]
    # When the key step ended: from here on nothing opens (if key_destroyed).
    key_destroyed_seconds: float
    seconds: float
    # False if panic could not destroy a wrapped copy (then the database was overwritten).
    key_destroyed: bool = True
    # (entry, reason) for everything panic tried and failed to destroy.
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Things worth knowing that are not failures (a keyfile that was a link, ...).
    notes: list[str] = field(default_factory=list)


def _reason(exc: OSError) -> str:
    text = exc.strerror or type(exc).__name__
    return text[:1].lower() + text[1:]


class _Panic:
    """One panic run: each step is tried on its own; a failure never stops the next."""

    def __init__(self, paths: ProfilePaths) -> None:
        self.paths = paths
        self.removed: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def name(self, path: Path) -> str:
        return path.relative_to(self.paths.home).as_posix()

    def destroy_key_copy(self, path: Path) -> bool:
        """Overwrite and unlink one keyfile copy; True if its key can no longer be read."""
        name = self.name(path)
        try:
            info = path.lstat()
        except FileNotFoundError:
            return True
        except OSError as exc:
            self.failed.append((name, _reason(exc)))
            return False
        overwritten = False
        if stat.S_ISLNK(info.st_mode):
            self.notes.append(
                f"{name} was a symbolic link: the link was removed and its target was not touched"
            )
        elif stat.S_ISREG(info.st_mode):
            with contextlib.suppress(OSError):
                overwritten = overwrite_in_place(path)
        try:
            path.unlink()
        except FileNotFoundError:
            return True
        except OSError as exc:
            state = "overwritten but not removed" if overwritten else "not overwritten or removed"
            self.failed.append((name, f"{state}: {_reason(exc)}"))
            return overwritten
        self.removed.append(name)
        return True

    def remove(self, path: Path, *, overwrite: bool = False) -> None:
        """Unlink a file or link (never following it), or remove an empty directory."""
        name = self.name(path)
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.failed.append((name, _reason(exc)))
            return
        try:
            if stat.S_ISDIR(info.st_mode):
                path.rmdir()
            else:
                if overwrite:
                    with contextlib.suppress(OSError):
                        overwrite_in_place(path)
                path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            # A folder left non-empty holds entries already listed (or not ours).
            if exc.errno != errno.ENOTEMPTY:
                self.failed.append((name, _reason(exc)))
            return
        self.removed.append(name)

    def sync(self) -> None:
        with contextlib.suppress(OSError):
            fsync_dir(self.paths.home)


def panic(paths: ProfilePaths, folders: tuple[str, ...] = ()) -> PanicReport:
    """Crypto-shred the profile: destroy the wrapped key first, then everything else.

    Each step is tried whatever happened before it, and failures are listed in the
    report. If the wrapped key cannot be destroyed, the database is overwritten in
    place before it is removed, so the vault never stays openable. Symbolic links are
    removed themselves, never followed. Without that failure the database is never
    read or overwritten, so the key is gone in the same time whatever the vault's size.

    ``folders`` names the profile's folders of bulk ciphertext besides ``outbox``
    (a reporter's ``blobs/``, a coordinator's ``evidence/``): unreadable once the key
    is gone, then emptied and removed like the outbox.
    """
    start = time.monotonic()
    if not paths.exists():
        raise ProfileMissing(f"no profile in {paths.home}")
    run = _Panic(paths)
    # 1. Key material: the keyfile and any temporary copy a crashed write left behind,
    #    then the working session's wrapped copy (useless without its token, which
    #    lives only in a shell's environment) and its temporary copies.
    key_copies = [paths.keyfile, *temp_copies(paths.keyfile)]
    key_copies += [paths.session, *temp_copies(paths.session)]
    key_gone = all([run.destroy_key_copy(path) for path in key_copies])
    run.sync()
    key_seconds = time.monotonic() - start
    # 2. The database and SQLite's side files (encrypted pages only).
    for path in [paths.database, *(Path(f"{paths.database}{s}") for s in SIDE_SUFFIXES)]:
        run.remove(path, overwrite=not key_gone)
    # 3. Sealed bundles, blobs and anything else the profile keeps in its directory.
    for folder in (paths.outbox, *(paths.home / name for name in folders)):
        if folder.is_dir() and not folder.is_symlink():
            try:
                entries = sorted(folder.iterdir())
            except OSError as exc:
                run.failed.append((run.name(folder), _reason(exc)))
                entries = []
            for entry in entries:
                run.remove(entry)
        run.remove(folder)
    for leftover in sorted(paths.home.glob(f".*{TEMP_MARK}*")):
        run.remove(leftover)
    for name in OTHER_FILES:
        run.remove(paths.home / name)
    run.sync()
    try:
        paths.home.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.ENOTEMPTY:
            run.failed.append((str(paths.home), _reason(exc)))
        elif not run.failed:
            run.notes.append(f"{paths.home} was kept: it holds files that are not the profile's")
    return PanicReport(
        run.removed, key_seconds, time.monotonic() - start, key_gone, run.failed, run.notes
    )
