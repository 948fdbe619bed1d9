"""Reporter use case: seal cases into bundles for the org they are addressed to."""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from reprisal_report import clock
from reprisal_report.bundle.container import AttachmentSource
from reprisal_report.bundle.seal import seal_to
from reprisal_report.crashpoints import crash_point
from reprisal_report.errors import (
    CardExpired,
    InvalidInput,
    NotFound,
    OperationalError,
    ReportError,
    VerificationError,
)
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import pinning
from reprisal_report.identity.keys import public_identity, signing_key
from reprisal_report.model.states import CaseState, OutboxState
from reprisal_report.vault import cases as case_store
from reprisal_report.vault import outbox
from reprisal_report.vault.attachments import list_attachments, open_attachment
from reprisal_report.vault.cases import CaseRow, record_event, utc_now
from reprisal_report.vault.files import HashingFileWriter, fsync_dir, open_new
from reprisal_report.vault.profile import ProfilePaths
from reprisal_report.vault.store import Vault
from reprisal_report.workflows.reporter import address_case, check_attachment_name, choose_org


@dataclass(frozen=True)
class SealedBundle:
    bundle_id: str
    case_id: str
    org_id: str
    previous_bundle_id: str | None
    size: int
    path: Path


class _HashingWriter:
    """The bundle's bytes to the file, written and hashed on threads of their own (the
    encryption keeps the interpreter lock; the writes and the hash need not)."""

    def __init__(self, handle: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._writer = HashingFileWriter(handle)
        self.on_bytes = on_bytes
        self.sha256 = ""

    @property
    def size(self) -> int:
        return self._writer.size

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        if self.on_bytes is not None:
            self.on_bytes(len(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.sha256 = self._writer.close()

    def abort(self) -> None:
        self._writer.abort()


@dataclass(frozen=True)
class SkippedCase:
    case_id: str
    error: ReportError


def cases_to_seal(
    vault: Vault, refs: list[str], all_ready: bool, org_id: str | None = None
) -> list[CaseRow]:
    """The cases to seal; with ``all_ready`` every ready one (with ``org_id``, only
    those addressed to that org or to none yet)."""
    if org_id is not None:
        choose_org(vault, org_id)  # NotFound for an org this profile has not joined
    if all_ready:
        return [
            c
            for c in case_store.list_cases(vault)
            if c.state == CaseState.READY and (org_id is None or c.org_id in (None, org_id))
        ]
    if not refs:
        raise InvalidInput("no case was named to seal")
    rows = [case_store.get_case(vault, ref) for ref in refs]
    for row in rows:
        if row.state == CaseState.DRAFT:
            raise InvalidInput(
                f"case {row.id} is a draft", hint=f"finish it with 'case edit {row.id}'"
            )
        if row.state == CaseState.PURGED:
            raise InvalidInput(f"case {row.id} was purged after delivery")
    return rows


def sealing_size(vault: Vault, rows: list[CaseRow]) -> int:
    return sum(a.size for row in rows for a in list_attachments(vault, row.id))


def _check_membership(vault: Vault, org: pinning.PinnedOrg, now: datetime) -> None:
    card = org.signed.card
    expires = enc.parse_time(card.expires)
    if expires <= now:
        raise CardExpired(
            f"the card of org {card.name} expired at {card.expires}; nothing was sealed",
            hint="ask the coordinator for a fresh card, then 'org update CARD_FILE'",
        )
    me = public_identity(vault).key_id
    if card.revocation(me) is not None:
        raise VerificationError(
            f"this device's key was revoked by org {card.name}; it cannot seal cases for it"
        )
    if card.member(me) is None:
        raise VerificationError(
            f"this device is not enrolled in org {card.name}",
            hint="give the coordinator this device's identity card ('id card'), then update "
            "the org card it sends back ('org update')",
        )
    if not card.recipients:
        raise OperationalError(f"the card of org {card.name} lists no coordinator to seal to")


def _remove_orphans(vault: Vault, box: Path) -> None:
    """Drop files a crashed ``seal`` left behind: the vault never recorded them, so
    they were never delivered and the case is still waiting to be sealed."""
    known = {f"{e.bundle_id}.rrb" for e in outbox.entries(vault)}
    for path in box.iterdir():
        if path.name.startswith(".sealing-") or (path.suffix == ".rrb" and path.name not in known):
            path.unlink(missing_ok=True)


def seal_case(
    vault: Vault,
    home: Path,
    row: CaseRow,
    *,
    on_bytes: Callable[[int], None] | None = None,
    org_id: str | None = None,
) -> SealedBundle:
    """Seal one case into ``<profile>/outbox/<bundle id>.rrb`` and record it.

    ``org_id`` addresses a case that names no org yet (or readdresses one never
    sealed); without it a case with no org goes to the only joined org.
    """
    if row.state == CaseState.SEALED and row.sealed_revision == row.revision:
        raise InvalidInput(f"case {row.id} is already sealed at revision {row.revision}")
    org_id = address_case(vault, row, org_id) or choose_org(vault, None)
    if org_id is None:
        raise NotFound(
            "this profile has not joined any org; nothing to seal to",
            hint="join an org first ('org join'), with its card and root fingerprint",
        )
    org = pinning.get(vault, org_id)
    _check_membership(vault, org, clock.now())
    me = public_identity(vault)
    attachments = list_attachments(vault, row.id)
    for attachment in attachments:
        check_attachment_name(attachment.name)
    sources = [
        AttachmentSource(a.name, a.size, a.sha256, functools.partial(open_attachment, vault, a))
        for a in attachments
    ]
    box = ProfilePaths(home).outbox
    box.mkdir(mode=0o700, exist_ok=True)
    _remove_orphans(vault, box)
    # The bundle id is known only once sealed: write under a private, unpredictable
    # name, then rename (open_new: O_EXCL|O_NOFOLLOW, 0600, fsynced on close).
    tmp = box / f".sealing-{secrets.token_hex(8)}-{row.id}"
    try:
        with open_new(tmp) as handle:
            writer = _HashingWriter(handle, on_bytes)
            try:
                info = seal_to(
                    writer,
                    record=row.record,
                    attachments=sources,
                    signing_key=signing_key(vault),
                    author_key_id=me.key_id,
                    recipients=org.signed.card.recipients,
                    org_id=org_id,
                    case_id=row.id,
                    previous_bundle_id=row.last_bundle_id,
                )
            except BaseException:
                writer.abort()
                raise
            writer.close()  # before open_new's fsync: every byte is in the file
        final = box / info.file_name
        os.replace(tmp, final)
        fsync_dir(box)
        crash_point("seal.after-bundle-file")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with vault.transaction():
        outbox.add(
            vault,
            outbox.OutboxEntry(
                info.bundle_id,
                row.id,
                org_id,
                row.revision,
                row.last_bundle_id,
                writer.size,
                writer.sha256,
                OutboxState.PENDING,
                None,
                utc_now(),
            ),
        )
        case_store.mark_sealed(vault, row.id, org_id, info.bundle_id)
        record_event(
            vault,
            row.id,
            "sealed",
            {
                "bundle_id": info.bundle_id,
                "org_id": org_id,
                "revision": row.revision,
                "sha256": writer.sha256,
            },
        )
        crash_point("seal.before-commit")
    return SealedBundle(info.bundle_id, row.id, org_id, row.last_bundle_id, writer.size, final)


def seal_cases(
    vault: Vault,
    home: Path,
    rows: list[CaseRow],
    *,
    skip_failures: bool,
    org_id: str | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[list[SealedBundle], list[SkippedCase]]:
    """Seal each case in turn. With ``skip_failures`` (``seal --all``) a case that
    cannot be sealed is skipped and reported, and the others are still sealed;
    otherwise the first failure stops the run (cases sealed before it stay sealed)."""
    done: list[SealedBundle] = []
    skipped: list[SkippedCase] = []
    for row in rows:
        try:
            done.append(seal_case(vault, home, row, on_bytes=on_bytes, org_id=org_id))
        except ReportError as exc:
            if not skip_failures:
                raise
            skipped.append(SkippedCase(row.id, exc))
    return done, skipped
