"""Test helper: the ``org enroll`` flags a coordinator types after checking a card.

In the tests the coordinator "checks out of band" by reading the card itself; a real
coordinator compares the fingerprint with the member, in person or by voice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprisal_report.identity.idcard import parse_card

if TYPE_CHECKING:
    from tests.conftest import Cli


def enroll_args(card: Path) -> list[str]:
    """``CARD_FILE --role ROLE --fingerprint FPR`` for ``org enroll``, from the card."""
    ident = parse_card(card.read_bytes())
    return [str(card), "--role", ident.role, "--fingerprint", ident.fingerprint]


def found_org(coordinator: Cli, members: Sequence[Cli], folder: Path, name: str) -> str:
    """Create org ``name`` at ``coordinator``, enrol each member's identity card
    (``<member>.id.json`` in ``folder``) and have each join from ``folder/org.json``;
    return the root fingerprint."""
    created = coordinator.ok("org", "create", "--name", name, "--json").stdout
    fpr = str(json.loads(created)["root_fingerprint"])
    for member in members:
        card = folder / f"{member.home.name}.id.json"
        member.ok("id", "card", "--out", str(card))
        coordinator.ok("org", "enroll", *enroll_args(card))
    org_card = folder / "org.json"
    coordinator.ok("org", "card", "--out", str(org_card))
    for member in members:
        member.ok("org", "join", str(org_card), "--fingerprint", fpr)
    return fpr
