"""Test helper: the ``org enroll`` flags a coordinator types after checking a card.

In the tests the coordinator "checks out of band" by reading the card itself; a real
coordinator compares the fingerprint with the member, in person or by voice.
"""

from __future__ import annotations

from pathlib import Path

from reprisal_report.identity.idcard import parse_card


def enroll_args(card: Path) -> list[str]:
    """``CARD_FILE --role ROLE --fingerprint FPR`` for ``org enroll``, from the card."""
    ident = parse_card(card.read_bytes())
    return [str(card), "--role", ident.role, "--fingerprint", ident.fingerprint]
