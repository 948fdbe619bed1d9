"""The relay's behaviour, without HTTP: ``app.py`` only translates requests to these calls.

Durability rule: a bundle is acknowledged to its uploader (a receipt is returned) only
after its bytes are fsynced under their content address *and* its log row is
committed. Start-up restores the invariant "a bundle file exists iff its log row exists
and is not flagged deleted" by deleting files the log does not list (their uploads never
got a receipt, so the client retries) and files of deleted bundles.

Deletion rule: acknowledgements are per coordinator. The bytes of a bundle are deleted
once every active coordinator of the current org card (role ``coordinator``, not
revoked) acknowledged it, or once it is older than ``retention_seconds`` (by the
relay's clock), whichever comes first. The rule is applied when a coordinator
acknowledges or lists bundles, and at start-up.

One process per data directory (enforced with a lock file): the Merkle tree in memory
must mirror the log on disk, so a second writer would break receipts.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from reprisal_report.errors import RelayRequestRejected, RelaySetupError
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.identity.orgcard import Member, SignedCard
from reprisal_report.protocol.receipts import Receipt, SignedTreeHead, TreeHead, sign_tree_head
from reprisal_report.protocol.wire import BundleEntry
from reprisal_report.relay.auth import Authenticator, NonceStore
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.keys import load_relay_key
from reprisal_report.relay.log import BundleLog, LogEntry
from reprisal_report.relay.members import OrgMembers
from reprisal_report.relay.storage import BundleStore, IncomingBundle

logger = logging.getLogger(__name__)

LOCK_FILE = "relay.lock"
LOG_FILE = "log.sqlite3"
NONCE_FILE = "nonces"


@dataclass(frozen=True)
class Accepted:
    receipt: Receipt
    # False when these bytes were already in the log (an idempotent re-upload).
    new: bool


@dataclass(eq=False)
class _Pending:
    """An upload waiting for the group commit, and what became of it."""

    incoming: IncomingBundle
    sha256: str
    uploader: Member
    outcome: Accepted | BaseException | None = None
    folder: Path | None = None

    def result(self) -> Accepted:
        if isinstance(self.outcome, Accepted):
            return self.outcome
        if self.outcome is None:  # pragma: no cover - _commit gives every item one
            raise RelayRequestRejected(503, "upload could not be committed")
        raise self.outcome


class UploadSlots:
    """A counter of uploads in progress, refusing rather than queueing past the limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._busy = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self._busy >= self._limit:
                return False
            self._busy += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._busy -= 1

    @property
    def busy(self) -> int:
        return self._busy


class RelayService:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        data_dir = config.data_dir
        self._lock_handle = _lock_data_dir(data_dir)
        try:
            self.key = load_relay_key(data_dir)
            self.key_id = key_id(bytes(self.key.verify_key))
            self.members = OrgMembers(
                config.org_card,
                data_dir,
                clock=lambda: datetime.fromtimestamp(config.clock(), UTC),
            )
            self.store = BundleStore(data_dir)
            self.log = BundleLog(data_dir / LOG_FILE)
            self.nonces = NonceStore(
                data_dir / NONCE_FILE,
                config.clock_skew_seconds,
                config.max_nonces,
                int(config.clock()),
            )
            self._recover()
            self._sweep()
        except BaseException:
            # The lock must not outlive a failed start (the log and journal, if
            # opened, are closed with their objects).
            self._lock_handle.close()
            raise
        self.auth = Authenticator(
            self.members, self.nonces, config.clock, config.clock_skew_seconds
        )
        self.uploads = UploadSlots(config.max_concurrent_uploads)
        # Serialises the log, the tree and the bundle files: appends are short
        # (renames, fsyncs, one insert per group) and everything else is a read.
        self._lock = threading.Lock()
        # Uploads waiting for the next group commit (``accept``).
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []

    def _recover(self) -> None:
        self.store.wipe_incoming()
        for sha256 in list(self.store.stored()):
            entry = self.log.find(sha256)
            if entry is None or entry.deleted:
                self.store.delete(sha256)
        missing = [e.index for e, _ in self.log.held() if not self.store.exists(e.sha256)]
        if missing:
            # Not recoverable here (the bytes are gone); say so, keep the log intact.
            logger.error("relay log lists %d bundles whose files are missing", len(missing))

    def close(self) -> None:
        self.nonces.close()
        self.log.close()
        self._lock_handle.close()

    # --- tree heads and receipts -------------------------------------------------------

    def _signed_head(self, tree_size: int, timestamp: int) -> SignedTreeHead:
        return sign_tree_head(
            TreeHead(tree_size, self.log.tree.root(tree_size), timestamp), self.key
        )

    def _receipt(self, entry: LogEntry) -> Receipt:
        # A receipt's head is the tree right after its own entry, so the receipt is a
        # pure function of (index, timestamp): the same bytes for every re-upload.
        size = entry.index + 1
        return Receipt(
            bundle_sha256=entry.sha256,
            index=entry.index,
            sth=self._signed_head(size, entry.sth_timestamp),
            inclusion_proof=tuple(self.log.tree.inclusion_proof(entry.index, size)),
            verified=True,
        )

    def tree_head(self) -> SignedTreeHead:
        with self._lock:
            return self._signed_head(self.log.size, int(self.config.clock()))

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            if not 0 <= first <= second <= self.log.size:
                raise RelayRequestRejected(
                    400, f"need 0 <= first <= second <= {self.log.size} (the log size)"
                )
            return self.log.tree.consistency_proof(first, second)

    def inclusion(self, index: int, tree_size: int) -> tuple[str, list[bytes]]:
        with self._lock:
            if not 0 <= index < tree_size <= self.log.size:
                raise RelayRequestRejected(
                    400, f"need 0 <= index < tree_size <= {self.log.size} (the log size)"
                )
            entry = self.log.after(index - 1, 1)[0]
            return entry.sha256, self.log.tree.inclusion_proof(index, tree_size)

    def inclusion_many(
        self, indexes: tuple[int, ...], tree_size: int
    ) -> list[tuple[int, str, list[bytes]]]:
        """(index, bundle hash, proof) of each of ``indexes`` in the tree of ``tree_size``."""
        with self._lock:
            if tree_size > self.log.size:
                raise RelayRequestRejected(400, f"need tree_size <= {self.log.size} (the log size)")
            return [
                (
                    index,
                    self.log.after(index - 1, 1)[0].sha256,
                    self.log.tree.inclusion_proof(index, tree_size),
                )
                for index in indexes
            ]

    # --- bundles -----------------------------------------------------------------------

    def accept(self, incoming: IncomingBundle, sha256: str, uploader: Member) -> Accepted:
        """Store a received, hash-checked upload and log it; or find it already logged.

        Group commit: uploads that finish while another thread is committing wait for
        it, then the next thread commits all of them at once (their renames, one fsync
        per directory, one log transaction). Each still gets its receipt only after its
        own bytes, name and row are durable.
        """
        mine = _Pending(incoming, sha256, uploader)
        with self._queue_lock:
            self._queue.append(mine)
        with self._lock:
            if mine.outcome is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        return mine.result()

    def _commit(self, batch: list[_Pending]) -> None:
        """Commit queued uploads (under ``self._lock``); every one gets an outcome."""
        now = int(self.config.clock())
        placed: list[_Pending] = []
        again: list[_Pending] = []  # the same bytes as an upload placed in this batch
        added: dict[str, int] = {}
        placing: set[str] = set()
        for item in batch:
            try:
                existing = self.log.find(item.sha256)
                if existing is not None:
                    item.incoming.discard()
                    item.outcome = Accepted(self._receipt(existing), new=False)
                    continue
                if item.sha256 in placing:
                    item.incoming.discard()
                    again.append(item)
                    continue
                key = item.uploader.key_id
                used = self.log.usage(key) + added.get(key, 0)
                if used + item.incoming.size > self.config.quota_bytes_per_key:
                    raise RelayRequestRejected(
                        413,
                        "this key's storage quota on the relay is used up until a"
                        " coordinator collects its bundles",
                    )
                item.folder = self.store.place(item.incoming, item.sha256)
                added[key] = added.get(key, 0) + item.incoming.size
                placing.add(item.sha256)
                placed.append(item)
            except Exception as exc:  # handed to the request's own thread
                item.outcome = exc
        if not placed:
            for item in again:  # pragma: no cover - a placed twin always exists
                item.outcome = RelayRequestRejected(503, "upload could not be committed")
            return
        try:
            self.store.sync_dirs([item.folder for item in placed if item.folder is not None])
            entries = self.log.append_many(
                [(item.sha256, item.incoming.size, item.uploader.key_id) for item in placed],
                now,
            )
        except Exception as exc:  # handed to the requests' threads
            # Never leave a file the log does not list (start-up would remove it too).
            for item in placed:
                with contextlib.suppress(OSError):
                    self.store.delete(item.sha256)
                item.outcome = exc
            for item in again:
                item.outcome = exc
            return
        by_sha = {}
        for item, entry in zip(placed, entries, strict=True):
            receipt = self._receipt(entry)
            by_sha[entry.sha256] = receipt
            item.outcome = Accepted(receipt, new=True)
        for item in again:
            item.outcome = Accepted(by_sha[item.sha256], new=False)

    def list_after(self, after: int, limit: int, coordinator: Member) -> list[BundleEntry]:
        """Log entries after ``after``, each with whether ``coordinator`` acknowledged it."""
        with self._lock:
            self._sweep()
            rows = self.log.after_for(
                coordinator.key_id, after, min(limit, self.config.max_list_entries)
            )
        return [_wire(entry, acked) for entry, acked in rows]

    def fetch(self, sha256: str) -> bytes:
        with self._lock:
            entry = self.log.find(sha256)
            if entry is None:
                raise RelayRequestRejected(404, "no such bundle on this relay")
            if entry.deleted:
                raise RelayRequestRejected(
                    410,
                    "bundle was acknowledged by every coordinator or its retention ended; "
                    "its bytes are deleted",
                )
            data = self.store.read(sha256)
        if data is None:
            raise RelayRequestRejected(404, "the relay has lost the bytes of this bundle")
        return data

    def acknowledge(self, sha256: str, coordinator: Member) -> BundleEntry:
        """Record this coordinator's acknowledgement; delete the bytes if it was the last."""
        return self.acknowledge_many((sha256,), coordinator)[0]

    def acknowledge_many(self, hashes: Sequence[str], coordinator: Member) -> list[BundleEntry]:
        """Acknowledge every one of ``hashes`` for ``coordinator``, or none of them.

        One log transaction records the acknowledgements and flags the bundles they
        complete; the files of those bundles are deleted once it committed (a crash in
        between leaves files that start-up removes).
        """
        with self._lock:
            found = self.log.find_many(hashes)
            missing = [sha256 for sha256 in hashes if sha256 not in found]
            if missing:
                where = "" if len(hashes) == 1 else f": {missing[0][:16]}"
                raise RelayRequestRejected(404, f"no such bundle on this relay{where}")
            with self.log.transaction():
                self.log.acknowledge_many(hashes, coordinator.key_id)
                doomed = self._flag_collected()
            self.store.delete_many(doomed)
            now = self.log.find_many(hashes)
            return [
                _wire(
                    replace(
                        now[sha256], deleted=now[sha256].deleted or not self.store.exists(sha256)
                    ),
                    True,
                )
                for sha256 in hashes
            ]

    def active_coordinators(self) -> frozenset[str]:
        """Key ids of the current card's coordinators that are not revoked."""
        card = self.members.card.card
        return frozenset(
            m.key_id
            for m in card.members
            if m.role == "coordinator" and card.revocation(m.key_id) is None
        )

    def _sweep(self) -> None:
        """Delete the bytes every active coordinator collected, or kept past retention.

        With no active coordinator at all (every one revoked) only retention deletes:
        the next coordinator the org enrols still finds the bundles.
        """
        doomed = self._collected()
        if doomed:
            with self.log.transaction():
                self._flag(doomed)
            self.store.delete_many(doomed)

    def _collected(self) -> list[str]:
        active = self.active_coordinators()
        oldest_kept = int(self.config.clock()) - self.config.retention_seconds
        return [
            entry.sha256
            for entry, ackers in self.log.held()
            if (bool(active) and active <= ackers) or entry.sth_timestamp <= oldest_kept
        ]

    def _flag_collected(self) -> list[str]:
        """Flag what ``_collected`` finds (inside a log transaction); return the hashes."""
        doomed = self._collected()
        self._flag(doomed)
        return doomed

    def _flag(self, doomed: list[str]) -> None:
        # Flag first, then delete the files: a crash in between leaves files that
        # start-up removes, never a row pointing at nothing unflagged.
        for sha256 in doomed:
            self.log.mark_deleted(sha256)

    def update_card(self, data: bytes) -> tuple[SignedCard, bool]:
        return self.members.accept(data)


def _wire(entry: LogEntry, acknowledged: bool) -> BundleEntry:
    return BundleEntry(entry.sha256, entry.index, entry.size, acknowledged, not entry.deleted)


def _lock_data_dir(data_dir: Path) -> _DirLock:
    if not data_dir.is_dir():
        raise RelaySetupError(
            f"{data_dir} is not a relay directory", hint="run 'reprisal-report relay init' first"
        )
    return _DirLock(data_dir / LOCK_FILE)


class _DirLock:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise RelaySetupError(
                f"another relay process is serving {path.parent}",
                hint="one data directory, one relay process",
            ) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
