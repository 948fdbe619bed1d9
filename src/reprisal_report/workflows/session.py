"""One unlock per working session: ``unlock`` pays the KDF once, later commands open
the vault with the token the shell keeps in ``REPRISAL_REPORT_SESSION``; ``lock``,
expiry, ``passphrase change`` and ``panic`` end it (vault/session.py, docs/vault.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reprisal_report.identity.encoding import format_time
from reprisal_report.vault import profile as vault_profile
from reprisal_report.vault import session as vault_session
from reprisal_report.vault.profile import ProfilePaths
from reprisal_report.vault.store import Vault
from reprisal_report.workflows.profile import require_role

ENV_NAME = vault_session.ENV_NAME
LONGEST_SECONDS = vault_session.LONGEST_SECONDS
format_duration = vault_session.format_duration


@dataclass(frozen=True)
class Started:
    token: str
    idle_seconds: int
    max_seconds: int
    # When it ends if unused, and at the latest (``2026-01-31T12:00:00Z``).
    idle_ends: str
    hard_end: str


def _utc(seconds: int) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def start(home: Path, passphrase: str, idle_seconds: int, max_seconds: int) -> Started:
    """Unlock with the passphrase once and open a session (replacing any other)."""
    token, info = vault_profile.start_session(
        ProfilePaths(home), passphrase, idle_seconds, max_seconds
    )
    return Started(token, idle_seconds, max_seconds, _utc(info.idle_ends), _utc(info.hard_end))


def open_vault(home: Path, token: str, *roles: str) -> Vault:
    """The vault the session of ``token`` opens (the caller closes it); other roles are
    refused. ``SessionInvalid`` (exit 3, nothing opened) when the token opens nothing."""
    vault = vault_profile.unlock_with_session(ProfilePaths(home), token)
    try:
        if roles:
            require_role(vault, *roles)
    except BaseException:
        vault.close()
        raise
    return vault


def end(home: Path) -> bool:
    """End the profile's working session; True if one was open. A session file left in
    a folder that no longer holds a whole profile is removed too."""
    paths = ProfilePaths(home)
    if not paths.session.exists():
        paths.require()
    return vault_profile.end_session(paths)
