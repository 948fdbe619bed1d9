"""Roles and states, one ``StrEnum`` each, so a typo is a type error, not a silent miss.

Each member's value is the string the vault stores and the JSON output shows: a
``StrEnum`` compares equal to its value, so stored data and output stay as they were.
The vault schema's CHECK constraints list the same values (``vault/migrations.py``);
a unit test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a key does for an org: the role of a profile, or of a card member."""

    REPORTER = "reporter"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    # A relay's key: enrolled in an org card (so receipts verify), never a profile.
    RELAY = "relay"


# The roles a profile can be created with, and the roles a card may name.
PROFILE_ROLES: tuple[Role, ...] = (Role.REPORTER, Role.COORDINATOR, Role.AUDITOR)
CARD_ROLES: tuple[Role, ...] = (*PROFILE_ROLES, Role.RELAY)


class CaseState(StrEnum):
    """A reporter's case: written (draft, ready), sealed into a bundle, or purged
    after its bundle's delivery was proven."""

    DRAFT = "draft"
    READY = "ready"
    SEALED = "sealed"
    PURGED = "purged"


class OutboxState(StrEnum):
    """A sealed bundle in the reporter's outbox."""

    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"


class ImportStatus(StrEnum):
    """What importing one bundle file came to (``inbox import``, ``sync pull``)."""

    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    SKIPPED = "skipped"
