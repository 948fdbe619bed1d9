"""Which role may sign which custody event (docs/audit.md has the table).

``None``: the event needs no role in the org card (the profile's own creation, pinning
or following a card): its signer must still be a key some card version lists, so its
signature can be checked, and it may follow the key's revocation (a revoked device
still learns of the card that revoked it).
"""

from __future__ import annotations

from reprisal_report.model.states import Role

REPORTER = frozenset({Role.REPORTER.value})
COORDINATOR = frozenset({Role.COORDINATOR.value})

EVENT_ROLES: dict[str, frozenset[str] | None] = {
    "profile-created": None,
    "org-joined": None,
    "org-updated": None,
    # a reporter's cases and bundles
    "created": REPORTER,
    "edited": REPORTER,
    "addressed": REPORTER,
    "attached": REPORTER,
    "sealed": REPORTER,
    "delivered": REPORTER,
    "purged": REPORTER,
    # running the org
    "org-created": COORDINATOR,
    "org-enrolled": COORDINATOR,
    "org-revoked": COORDINATOR,
    "org-renewed": COORDINATOR,
    "org-relays-changed": COORDINATOR,
    "org-root-rotated": COORDINATOR,
    # received cases
    "received": COORDINATOR,
    "relay-receipt": COORDINATOR,
    "decrypted": COORDINATOR,
    "verified": COORDINATOR,
    "stored": COORDINATOR,
    "triaged": COORDINATOR,
    "linked": COORDINATOR,
    "attachments-written": COORDINATOR,
    "evidence-exported": COORDINATOR,
    "exported": COORDINATOR,
    "pseudonym-key-exported": COORDINATOR,
    "pseudonym-key-imported": COORDINATOR,
}
