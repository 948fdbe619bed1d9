"""An org card's history: every signed version, oldest first, as ``org history`` writes
it. The file is the card files one after another (each is one line of canonical JSON
and a newline), so a single card file is a history of one version.

Each version must verify with the card rules (its own root keys, and a root rotation
signed by the previous version's roots as well), belong to the same org, and carry a
higher version number than the one before; expiry is judged at the version's own issue
time, since an auditor reads old cards long after they expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reprisal_report.errors import CardInvalid, ReportError
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.orgcard import OrgCard, parse_card, verify_card

MAX_VERSIONS = 10_000


@dataclass(frozen=True)
class Standing:
    """What the org cards say of a key at a moment."""

    known: bool
    role: str | None  # the role it held then, None if not enrolled then
    revoked_at: str | None  # set when revoked at or before that moment
    public_key: bytes | None


@dataclass(frozen=True)
class CardHistory:
    cards: tuple[OrgCard, ...]
    raw: tuple[bytes, ...]

    @property
    def latest(self) -> OrgCard:
        return self.cards[-1]

    @property
    def versions(self) -> list[int]:
        return [c.version for c in self.cards]

    def public_key(self, kid: str) -> bytes | None:
        for card in reversed(self.cards):
            member = card.member(kid)
            if member is not None:
                return member.signing_key
            gone = card.revocation(kid)
            if gone is not None:
                return gone.signing_key
        return None

    def label(self, kid: str) -> str | None:
        for card in reversed(self.cards):
            found = card.member(kid) or card.revocation(kid)
            if found is not None:
                return found.label
        return None

    def standing(self, kid: str, at: datetime) -> Standing:
        public = self.public_key(kid)
        if public is None:
            return Standing(False, None, None, None)
        for card in self.cards:
            gone = card.revocation(kid)
            if gone is not None and enc.parse_time(gone.revoked_at) <= at:
                return Standing(True, None, gone.revoked_at, public)
        # The latest version issued by then that lists the key as enrolled by then; else
        # (a history with gaps, or only a later card) the first later version saying so.
        before = [c for c in self.cards if enc.parse_time(c.issued) <= at]
        after = [c for c in self.cards if enc.parse_time(c.issued) > at]
        for card in [*reversed(before), *after]:
            member = card.member(kid)
            if member is not None and enc.parse_time(member.enrolled) <= at:
                return Standing(True, member.role, None, public)
        return Standing(True, None, None, public)


def parse_history(data: bytes) -> CardHistory:
    """Read and verify every version (module docstring); raise ``CardInvalid``."""
    if not data.endswith(b"\n"):
        raise CardInvalid("org card history: not a card file or an 'org history' file")
    lines = data[:-1].split(b"\n")
    if len(lines) > MAX_VERSIONS:
        raise CardInvalid("org card history: too many versions")
    cards: list[OrgCard] = []
    for number, line in enumerate(lines, start=1):
        raw = line + b"\n"
        previous = cards[-1] if cards else None
        try:
            issued = enc.parse_time(parse_card(raw).card.issued)
            signed = verify_card(
                raw,
                now=issued,
                pinned_roots=None if previous is None else previous.root_keys,
                pinned_org_id=None if previous is None else previous.org_id,
                pinned_version=None if previous is None else previous.version,
            )
        except ReportError as exc:  # bad card, another org, rollback
            raise CardInvalid(f"org card history, card {number}: {exc.message}") from None
        cards.append(signed.card)
    return CardHistory(tuple(cards), tuple(line + b"\n" for line in lines))
