"""One write lock per profile, so two commands never write the same profile at once.

Two ``seal`` runs side by side would each remove the other's in-flight bundle file as
an orphan of a crash; two pushes could purge under each other. Every writing command
therefore takes an exclusive, non-blocking ``flock`` on ``<profile>/write.lock`` and
fails at once with :class:`ProfileBusy` if another process holds it. The kernel drops
the lock when its holder exits, however it exits (SIGKILL included), so a crashed run
never leaves the profile locked.

The file holds nothing and is removed when the lock is released, so an idle profile
directory holds only its keyfile, database and outbox. Removing a lock file races with
a process that opened it just before: after locking, the holder checks that the path
still names the file it locked, and otherwise reports the profile busy too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from reprisal_report.errors import ProfileBusy

LOCK_NAME = "write.lock"
BUSY_MESSAGE = "profile is busy: another reprisal-report command is writing to it"
BUSY_HINT = "wait for it to finish, then run this command again"


def _busy() -> ProfileBusy:
    return ProfileBusy(BUSY_MESSAGE, hint=BUSY_HINT)


@contextlib.contextmanager
def profile_lock(home: Path) -> Iterator[None]:
    """Hold the profile's write lock for the ``with`` block, or raise ``ProfileBusy``."""
    path = home / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy() from None
        try:
            current = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            raise _busy() from None
        mine = os.fstat(fd)
        if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            raise _busy()
        try:
            yield
        finally:
            # Unlink while still holding the lock: a process waiting on this inode then
            # sees that the path no longer names it.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        os.close(fd)
