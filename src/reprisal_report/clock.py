"""The one source of "now" for the core, so tests can move time instead of sleeping.

Production code calls :func:`now`; tests call :func:`set_clock` (and restore it with
``set_clock(None)``). Nothing reads the time from the environment: a clock that an
environment variable could move would let a local attacker make an expired card or a
revoked key look valid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]

_override: Clock | None = None


def now() -> datetime:
    """The current time, aware, in UTC, to the second."""
    current = _override() if _override is not None else datetime.now(UTC)
    return current.astimezone(UTC).replace(microsecond=0)


def set_clock(clock: Clock | None) -> None:
    """Replace the clock (tests only); ``None`` restores the system clock."""
    global _override
    _override = clock
