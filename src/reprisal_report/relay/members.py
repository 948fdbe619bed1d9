"""Who may use the relay: the org card, pinned on first use, updated only forwards.

The relay applies the rules of ``org update`` to itself. The first card a data
directory sees pins the org's root keys (``verify_card(..., pinned_roots=None)``) and
is copied to ``DIR/org-card.json``. After that a card replaces the current one only
if it is signed by the pinned root, belongs to the same org, has a strictly higher
version and has not expired. New cards arrive two ways: a coordinator uploads one
(``PUT /v1/org-card``), or the operator replaces the ``--org`` file, which is noticed
through a cheap ``stat`` on each request. A card that fails the rules is ignored and
the current one stays: a stale file is not an error, and a forged one must not be
able to stop the relay.

An expired current card fails closed: every request is refused (revocations may be
missing from it) except the upload of a newer card.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from reprisal_report import clock as clock_source
from reprisal_report.errors import CardInvalid, RelayRequestRejected, RelaySetupError, ReportError
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.orgcard import WHAT, Member, SignedCard, parse_card, verify_card
from reprisal_report.vault.files import FileTooLarge, atomic_write, read_bounded

PINNED_FILE = "org-card.json"
logger = logging.getLogger(__name__)


def _read(path: Path) -> bytes:
    try:
        return read_bounded(path, enc.MAX_CARD_BYTES)
    except FileTooLarge:
        # The card parser's own words for a card too large to be one.
        raise CardInvalid(f"{WHAT} is larger than 1 MiB") from None
    except OSError as exc:
        raise RelaySetupError(f"cannot read the org card {path}: {exc.strerror}") from None


def _load_pinned(data: bytes) -> SignedCard:
    """Our own pinned copy: every signature rule, but no expiry check (done later).

    Checking at the card's own issue time skips only the expiry rule: ``parse_card``
    guarantees that a card expires after it was issued.
    """
    when = enc.parse_time(parse_card(data).card.issued)
    return verify_card(data, now=when, pinned_roots=None)


class OrgMembers:
    def __init__(
        self, card_path: Path, data_dir: Path, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._card_path = card_path
        self._pinned_path = data_dir / PINNED_FILE
        self._clock = clock or clock_source.now
        self._lock = threading.Lock()
        self._file_seen = self._file_stamp()
        offered = _read(card_path)
        if self._pinned_path.exists():
            pinned = _load_pinned(_read(self._pinned_path))
            self._current = pinned
            self._roots = pinned.card.root_keys
            self._consider(offered, at_start=True)
        else:
            # First use: this card pins the root. The operator vouches for the file.
            self._current = verify_card(offered, now=self._clock(), pinned_roots=None)
            self._roots = self._current.card.root_keys
            self._persist(self._current)
        self._check_not_expired()

    @property
    def card(self) -> SignedCard:
        return self._current

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self._card_path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def _persist(self, signed: SignedCard) -> None:
        atomic_write(self._pinned_path, signed.raw, mode=0o600)

    def _check_not_expired(self) -> None:
        card = self._current.card
        if enc.parse_time(card.expires) <= self._clock():
            raise RelaySetupError(
                f"the relay's org card (version {card.version}) expired at {card.expires}",
                hint="give the relay a fresh org card file, or have a coordinator publish one",
            )

    def accept(self, data: bytes) -> tuple[SignedCard, bool]:
        """Take a newer card under the ``org update`` rules; return (card, changed).

        Raises the card's verification error (invalid, rollback, expired) otherwise.
        """
        with self._lock:
            current = self._current
            if hmac.compare_digest(data, current.raw):
                return current, False
            checked = verify_card(
                data,
                now=self._clock(),
                pinned_roots=self._roots,
                pinned_org_id=current.card.org_id,
                pinned_version=current.card.version,
            )
            self._persist(checked)
            self._current = checked
            # As ``org update`` stores them: a rotation signed by the old root moves the pin.
            self._roots = checked.card.root_keys
            return checked, True

    def _consider(self, data: bytes, *, at_start: bool = False) -> None:
        """A card from the operator's file: adopt it if newer and valid, else keep ours."""
        try:
            claimed = parse_card(data).card
            current = self._current.card
            if claimed.org_id != current.org_id:
                raise CardInvalid(f"org card belongs to org {claimed.org_id}, not {current.org_id}")
            if claimed.version <= current.version:
                return
            self.accept(data)
        except ReportError as exc:
            if at_start:
                raise
            logger.warning("ignoring the changed org card file: %s", exc.message)

    def refresh(self) -> None:
        """Pick up a changed ``--org`` file (called on every request; a stat when unchanged)."""
        stamp = self._file_stamp()
        if stamp is None or stamp == self._file_seen:
            return
        self._file_seen = stamp
        try:
            data = _read(self._card_path)
        except RelaySetupError as exc:
            logger.warning("%s", exc.message)
            return
        except CardInvalid as exc:
            logger.warning("ignoring the changed org card file: %s", exc.message)
            return
        self._consider(data)

    def lookup(self, kid: str, *, allow_expired: bool = False) -> Member:
        """The enrolled, unrevoked member with this key id, or 403."""
        self.refresh()
        signed = self._current
        card = signed.card
        member = card.member(kid)
        # One answer for unknown and revoked keys: which keys a relay knows is nobody's
        # business before they prove they hold one.
        if member is None or card.revocation(kid) is not None:
            raise RelayRequestRejected(403, "key is not enrolled in this org or is revoked")
        if not allow_expired and enc.parse_time(card.expires) <= self._clock():
            raise RelayRequestRejected(
                403, f"the relay's org card expired at {card.expires}; upload a newer one"
            )
        return member
