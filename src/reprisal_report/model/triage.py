"""The coordinator's triage rules: statuses and their transitions, the order of risk and
consent levels (which way is "less protection"), links, and incident date intervals.

Pure functions; the vault stores what they decide and the workflow applies them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import StrEnum

from reprisal_report.errors import InvalidInput


class Status(StrEnum):
    """Where a received case stands. Open statuses move forward one step at a time;
    any open case can be rejected; closed and rejected are final."""

    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    VERIFIED = "verified"
    SUBMITTED_TO_UN = "submitted_to_un"
    CLOSED = "closed"
    REJECTED = "rejected"


_NEXT: dict[Status, Status] = {
    Status.RECEIVED: Status.UNDER_REVIEW,
    Status.UNDER_REVIEW: Status.VERIFIED,
    Status.VERIFIED: Status.SUBMITTED_TO_UN,
    Status.SUBMITTED_TO_UN: Status.CLOSED,
}

FINAL = frozenset({Status.CLOSED, Status.REJECTED})

# The order the workflow runs in; statistics and sorting use it.
STATUS_ORDER: tuple[Status, ...] = (
    Status.RECEIVED,
    Status.UNDER_REVIEW,
    Status.VERIFIED,
    Status.SUBMITTED_TO_UN,
    Status.CLOSED,
    Status.REJECTED,
)


def allowed_next(current: Status) -> list[Status]:
    """The statuses a case in ``current`` may move to, in workflow order."""
    if current in FINAL:
        return []
    return [_NEXT[current], Status.REJECTED]


def check_transition(current: Status, target: Status) -> None:
    """Refuse (exit 2) any move other than one step forward or a rejection."""
    allowed = allowed_next(current)
    if target in allowed:
        return
    if current == target:
        raise InvalidInput(f"the case is already {current.value}")
    if not allowed:
        raise InvalidInput(
            f"a {current.value} case cannot change status (it is final); "
            f"{current.value} -> {target.value} refused"
        )
    names = " or ".join(s.value for s in allowed)
    raise InvalidInput(
        f"cannot move a case from {current.value} to {target.value}; allowed: {names}"
    )


def parse_status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        names = ", ".join(s.value for s in STATUS_ORDER)
        raise InvalidInput(f"unknown status {value!r}; one of: {names}") from None


# Lowest protection last: moving right along either tuple lowers protection.
RISK_LEVELS: tuple[str, ...] = ("critical", "high", "medium", "low")
CONSENT_LEVELS: tuple[str, ...] = (
    "none",
    "internal_only",
    "share_un_confidential",
    "publish_anonymised",
    "publish_named",
)


def _parse_level(kind: str, value: str, levels: tuple[str, ...]) -> str:
    if value not in levels:
        raise InvalidInput(f"unknown {kind} {value!r}; one of: {', '.join(levels)}")
    return value


def parse_risk(value: str) -> str:
    return _parse_level("risk level", value, RISK_LEVELS)


def parse_consent(value: str) -> str:
    return _parse_level("consent level", value, CONSENT_LEVELS)


def _rank(value: str, levels: tuple[str, ...]) -> int:
    # An unknown stored value (a record of an older vocabulary) counts as the most
    # protective level, so nothing treats it as permission.
    return levels.index(value) if value in levels else 0


def lowers_protection(field: str, old: str, new: str) -> bool:
    """Whether changing ``field`` (risk or consent) from ``old`` to ``new`` protects the
    person less: a lower risk level or a wider consent."""
    levels = RISK_LEVELS if field == "risk" else CONSENT_LEVELS
    return _rank(new, levels) > _rank(old, levels)


def more_protective(field: str, a: str, b: str) -> str:
    """Of two levels, the one that protects more (higher risk, narrower consent)."""
    levels = RISK_LEVELS if field == "risk" else CONSENT_LEVELS
    return a if _rank(a, levels) <= _rank(b, levels) else b


class LinkKind(StrEnum):
    """How one case relates to another (``triage link ID --to OTHER --as KIND``): ID is a
    follow-up of OTHER, a duplicate of OTHER, or related to it."""

    FOLLOW_UP = "follow_up"
    DUPLICATE = "duplicate"
    RELATED = "related"


def parse_link_kind(value: str) -> LinkKind:
    try:
        return LinkKind(value)
    except ValueError:
        names = "|".join(k.value for k in LinkKind)
        raise InvalidInput(f"unknown link kind {value!r}; one of: {names}") from None


def incident_interval(value: str) -> tuple[str, str]:
    """The first and last day an incident date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)
    can mean, as ISO dates; ``("", "")`` when the date is missing or not of that form."""
    parts = value.split("-") if value else []
    try:
        numbers = [int(p) for p in parts]
        if len(numbers) == 1:
            return f"{numbers[0]:04d}-01-01", f"{numbers[0]:04d}-12-31"
        if len(numbers) == 2:
            year, month = numbers
            last = calendar.monthrange(year, month)[1]
            return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"
        if len(numbers) == 3:
            day = dt.date(*numbers).isoformat()
            return day, day
    except (ValueError, calendar.IllegalMonthError):
        pass
    return "", ""


def parse_day(value: str, what: str) -> str:
    """A date bound given by the user (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)."""
    start, _ = incident_interval(value)
    if not start:
        raise InvalidInput(f"{what}: not a date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)")
    return value


def shift_day(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()
