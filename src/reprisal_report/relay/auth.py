"""Server side of request signatures: who is asking, and is this request fresh?

Order of checks, each with its status (docs/relay.md):

1. headers present, single and well-formed, else 401;
2. the key is an enrolled, unrevoked member of the current org card, else 403;
3. the signature verifies under that key, else 401;
4. the timestamp lies within ``clock_skew_seconds`` of the relay's clock, else 401;
5. the nonce was not seen within that window, else 401 (and it is remembered now).

The body hash is compared by the endpoint once it has read the body (400).

Nonces are kept in memory and journalled to ``DIR/nonces`` (appended, not fsynced:
it must survive a crashed process, and a power cut takes longer than the window to
recover from), so a request captured before a restart cannot be replayed after it.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from reprisal_report.errors import RelayRequestRejected
from reprisal_report.identity.orgcard import Member
from reprisal_report.protocol.requests_auth import parse_headers, verify_signature
from reprisal_report.relay.members import OrgMembers
from reprisal_report.vault.files import atomic_write

_JOURNAL_LINE = re.compile(rb"([0-9]{1,12}) ([0-9a-f]{32})")


class NonceStore:
    """Nonces seen within the replay window; bounded, journalled, thread-safe."""

    def __init__(self, journal: Path, window: int, max_entries: int, now: int) -> None:
        self._journal = journal
        self._window = window
        self._max = max_entries
        self._lock = threading.Lock()
        self._expiry: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._appended = 0
        self._load(now)
        self._handle = self._open()

    def _open(self) -> BinaryIO:
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        return os.fdopen(fd, "ab", buffering=0)

    def _load(self, now: int) -> None:
        try:
            data = self._journal.read_bytes()
        except FileNotFoundError:
            return
        for line in data.splitlines():
            # A torn last line (crash mid-write) simply does not match.
            match = _JOURNAL_LINE.fullmatch(line)
            if match is not None:
                self._remember(match.group(2).decode("ascii"), int(match.group(1)))
        self._prune(now)
        self._compact(force=True)

    def _remember(self, nonce: str, timestamp: int) -> None:
        expiry = timestamp + self._window
        if self._expiry.get(nonce, -1) < expiry:
            self._expiry[nonce] = expiry
            heapq.heappush(self._heap, (expiry, nonce))

    def _prune(self, now: int) -> None:
        # A nonce can be forgotten once its timestamp is outside the window: a replay
        # of it fails the timestamp check instead.
        while self._heap and self._heap[0][0] < now:
            expiry, nonce = heapq.heappop(self._heap)
            if self._expiry.get(nonce) == expiry:
                del self._expiry[nonce]

    def _compact(self, force: bool = False) -> None:
        if not force and self._appended < max(10_000, 2 * len(self._expiry)):
            return
        lines = b"".join(
            f"{expiry - self._window} {nonce}\n".encode("ascii")
            for nonce, expiry in self._expiry.items()
        )
        atomic_write(self._journal, lines, mode=0o600)
        self._appended = 0
        if not force:
            self._handle.close()
            self._handle = self._open()

    def add(self, nonce: str, timestamp: int, now: int) -> None:
        """Remember a nonce, or raise 401 if it was seen (503 if the store is full)."""
        with self._lock:
            self._prune(now)
            if nonce in self._expiry:
                raise RelayRequestRejected(401, "request replayed: nonce already used")
            if len(self._expiry) >= self._max:
                raise RelayRequestRejected(503, "relay is busy; retry later")
            self._remember(nonce, timestamp)
            self._handle.write(f"{timestamp} {nonce}\n".encode("ascii"))
            self._appended += 1
            self._compact()

    def __len__(self) -> int:
        return len(self._expiry)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.close()


class Authenticator:
    def __init__(
        self,
        members: OrgMembers,
        nonces: NonceStore,
        clock: Callable[[], float],
        skew: int,
    ) -> None:
        self._members = members
        self._nonces = nonces
        self._clock = clock
        self._skew = skew

    def authenticate(
        self,
        method: str,
        target: bytes,
        get_all: Callable[[str], list[str]],
        *,
        allow_expired_card: bool = False,
    ) -> tuple[Member, str]:
        """Return the signer and the body hash it signed, or raise the right rejection."""
        auth = parse_headers(get_all)
        member = self._members.lookup(auth.key_id, allow_expired=allow_expired_card)
        if not verify_signature(member.signing_key, auth, method, target):
            raise RelayRequestRejected(401, "request signature does not verify")
        now = int(self._clock())
        if abs(now - auth.timestamp) > self._skew:
            raise RelayRequestRejected(
                401, f"request timestamp is more than {self._skew} seconds from the relay's clock"
            )
        self._nonces.add(auth.nonce, auth.timestamp, now)
        return member, auth.body_sha256
