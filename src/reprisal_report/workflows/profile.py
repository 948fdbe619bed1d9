"""Use cases common to every role: create, unlock, re-key and destroy a profile."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reprisal_report.errors import InvalidInput, ProfileExists, ProfileMissing, WrongRole
from reprisal_report.identity.keys import create_profile_keys, public_identity
from reprisal_report.model.states import PROFILE_ROLES, Role
from reprisal_report.model.text import visible
from reprisal_report.vault import profile as vault_profile
from reprisal_report.vault import session as vault_session
from reprisal_report.vault.blobs import BLOBS_DIR
from reprisal_report.vault.blobs import remove_orphans as remove_orphan_blobs
from reprisal_report.vault.cases import record_event, utc_now
from reprisal_report.vault.keyfile import KdfParams, read_keyfile
from reprisal_report.vault.lock import profile_lock
from reprisal_report.vault.profile import PanicReport, ProfilePaths
from reprisal_report.vault.store import Vault

ROLES = PROFILE_ROLES


@dataclass(frozen=True)
class ProfileInfo:
    home: Path
    role: str
    label: str
    created_at: str
    kdf: KdfParams
    key_id: str
    fingerprint: str


def init_profile(home: Path, passphrase: str, role: str, label: str | None) -> ProfileInfo:
    if role not in ROLES:
        raise InvalidInput(
            f"unknown role {visible(role)!r}", hint="use one of: " + ", ".join(ROLES)
        )
    chosen = Role(role).value  # stored as the plain string
    paths = ProfilePaths(home)
    vault = vault_profile.create_profile(paths, passphrase)
    try:
        created = utc_now()
        with vault.transaction():
            vault.set_meta("role", chosen)
            vault.set_meta("label", label or chosen)
            vault.set_meta("created_at", created)
            create_profile_keys(vault, chosen)
            record_event(vault, None, "profile-created", {"role": chosen})
        return describe(vault, home)
    finally:
        vault.close()


def refuse_existing(home: Path) -> None:
    """Fail before asking for a passphrase when ``init`` would overwrite a profile."""
    if ProfilePaths(home).exists():
        raise ProfileExists(
            f"a profile already exists in {home}",
            hint="choose another profile folder; 'panic' destroys a profile you no longer need",
        )


def unlock(home: Path, passphrase: str, *roles: str) -> Vault:
    """Open the vault (the caller closes it); refuse a profile of another role.

    A working session found expired on the way is removed (workflows/session.py opens
    the vault with a session's token instead of the passphrase)."""
    vault_session.remove_if_expired(home)
    vault = vault_profile.unlock_profile(ProfilePaths(home), passphrase)
    try:
        if roles:
            require_role(vault, *roles)
    except BaseException:
        vault.close()
        raise
    return vault


@contextlib.contextmanager
def open_profile(home: Path, passphrase: str, *roles: str) -> Iterator[Vault]:
    """Unlock the profile; if ``roles`` are given, refuse any other role."""
    with unlock(home, passphrase, *roles) as vault:
        yield vault


@contextlib.contextmanager
def writing(home: Path) -> Iterator[None]:
    """Hold the profile's write lock around a command that changes it (every writing
    command of every role takes it, before the passphrase is asked for).

    Raises ``ProfileMissing`` when there is no profile, ``ProfileBusy`` when another
    process is writing to it.
    """
    ProfilePaths(home).require()
    with profile_lock(home):
        yield


def require_role(vault: Vault, *roles: str) -> str:
    role = vault.get_meta("role") or ""
    if role not in roles:
        raise WrongRole(
            f"this is a {role} profile; the command needs a {' or '.join(roles)} profile",
            hint="open a profile of that role instead",
        )
    return role


def describe(vault: Vault, home: Path) -> ProfileInfo:
    ident = public_identity(vault)
    return ProfileInfo(
        home,
        ident.role,
        ident.label,
        vault.get_meta("created_at") or "",
        read_kdf_params(home),
        ident.key_id,
        ident.fingerprint,
    )


def read_kdf_params(home: Path) -> KdfParams:
    from reprisal_report.vault.keyfile import read_params

    return read_params(read_keyfile(ProfilePaths(home).keyfile))


def change_passphrase(home: Path, old: str, new: str) -> KdfParams:
    """Re-wrap the key under ``new`` (only the old passphrase, never a session, allows
    it), then end any working session: a change after a suspected leak should leave no
    other way in. (The session is bound to the old keyfile and would fail anyway.)"""
    params = vault_profile.change_passphrase(ProfilePaths(home), old, new)
    vault_profile.end_session(ProfilePaths(home))
    return params


def needs_profile(home: Path) -> None:
    ProfilePaths(home).require()


def needs_something_to_destroy(home: Path) -> None:
    """Panic works on any remains of a profile (a keyfile or database, even a link)."""
    if not ProfilePaths(home).exists():
        raise ProfileMissing(f"no profile in {home}")


def panic(home: Path) -> PanicReport:
    """Destroy what can be destroyed, key material first; the report lists the rest.

    The working session's file is key material too (the master key under a token):
    it goes in the first step, with the keyfile, so panic ends any session.

    A reporter's ``blobs/`` and a coordinator's ``evidence/`` are removed with the
    outbox, after the key step: blobs are encrypted to a storage identity, received
    bundles to the coordinator's age identity, both kept only in the vault, so they are
    unreadable from the moment the wrapped vault key is destroyed.
    """
    from reprisal_report.vault import evidence

    return vault_profile.panic(ProfilePaths(home), folders=(BLOBS_DIR, evidence.FOLDER_NAME))


def tidy(vault: Vault) -> None:
    """Remove what a killed command left behind (blobs no committed row names).

    Called once, where a writing command opens its vault under the profile's write
    lock (cli/session.py ``writing_vault``): no other command can be half-way through
    writing a blob then.
    """
    remove_orphan_blobs(vault)
