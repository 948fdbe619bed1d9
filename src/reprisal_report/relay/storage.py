"""Content-addressed bundle files on the relay's disk.

Layout under the data directory::

    bundles/ab/ab12...ef   one file per accepted bundle, named by its SHA-256
    incoming/.up-<random>  uploads being received; never trusted, wiped at start

An upload is streamed into ``incoming/`` while being hashed, fsynced, and only then
renamed to its content address (then the directory is fsynced), so a crash leaves
either no file or the whole file under the right name. The rename happens before
the log entry is committed; at start-up ``RelayService`` removes any bundle file the
log does not list, so a bundle is either in both or in neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from reprisal_report.vault.files import create_new, fsync_dir, sync_file

_NAME = re.compile(r"[0-9a-f]{64}")


class IncomingBundle:
    """One upload in progress: a private temporary file and a running hash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: a planted file or link makes this fail.
        self._file = os.fdopen(create_new(path), "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> str:
        """Make the bytes durable; return their SHA-256 (hex)."""
        sync_file(self._file)
        self._file.close()
        return self._hash.hexdigest()

    def mark_committed(self) -> None:
        self._done = True

    @property
    def settled(self) -> bool:
        """Stored under its content address, or already discarded."""
        return self._done

    def discard(self) -> None:
        """Drop the temporary file unless it became a stored bundle."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class BundleStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "bundles"
        self.incoming = data_dir / "incoming"
        for directory in (self.root, self.incoming):
            directory.mkdir(mode=0o700, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if _NAME.fullmatch(sha256) is None:
            raise ValueError("a bundle is named by its SHA-256 in lower-case hex")
        # Two hex digits of fan-out keep directories small on filesystems that slow down.
        return self.root / sha256[:2] / sha256

    def begin(self) -> IncomingBundle:
        return IncomingBundle(self.incoming / f".up-{secrets.token_hex(16)}")

    def commit(self, incoming: IncomingBundle, sha256: str) -> None:
        """Move a finished upload to its content address, durably."""
        self.sync_dirs([self.place(incoming, sha256)])

    def place(self, incoming: IncomingBundle, sha256: str) -> Path:
        """Move a finished (fsynced) upload to its content address; ``sync_dirs`` of
        the returned folder makes the new name durable."""
        final = self.path_for(sha256)
        if not final.parent.is_dir():
            final.parent.mkdir(mode=0o700, exist_ok=True)
            fsync_dir(self.root)
        os.replace(incoming.path, final)
        incoming.mark_committed()
        return final.parent

    def sync_dirs(self, directories: list[Path]) -> None:
        for directory in sorted(set(directories)):
            fsync_dir(directory)

    def read(self, sha256: str) -> bytes | None:
        try:
            fd = os.open(self.path_for(sha256), os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> None:
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(path.parent)

    def delete_many(self, hashes: list[str]) -> None:
        """``delete`` for each hash, with one fsync per directory touched."""
        touched: set[Path] = set()
        for sha256 in hashes:
            path = self.path_for(sha256)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            touched.add(path.parent)
        for directory in sorted(touched):
            fsync_dir(directory)

    def stored(self) -> Iterator[str]:
        """Every bundle file present, by name; stray files are ignored."""
        for fan in sorted(self.root.iterdir()):
            if not fan.is_dir() or fan.is_symlink():
                continue
            for entry in sorted(fan.iterdir()):
                if _NAME.fullmatch(entry.name) and entry.name[:2] == fan.name:
                    yield entry.name

    def wipe_incoming(self) -> None:
        """Uploads cut short by a crash: none of them was ever acknowledged."""
        for entry in self.incoming.iterdir():
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                entry.unlink()
