"""Coordinator use case: verify, decrypt and store bundles (``inbox import``).

Every bundle is opened inside one vault transaction. Attachment bytes stream into the
encrypted inbox tables as they are decrypted, unverified; if any check fails the
transaction is rolled back, so nothing of a bad bundle is ever stored (STYLE.md #5).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reprisal_report.bundle.container import AttachmentHeader
from reprisal_report.bundle.opening import (
    OpenedBundle,
    check_addressed,
    check_attachments,
    check_commitments,
    check_signature,
    open_bundle,
)
from reprisal_report.errors import (
    BundleMalformed,
    BundleNotForUs,
    CardExpired,
    InvalidCase,
    NotFound,
    ReplayedBundle,
    ReportError,
    RevokedDevice,
    UnknownDevice,
    UnknownOrg,
)
from reprisal_report.identity import pinning
from reprisal_report.identity.keys import age_identity_text, public_identity
from reprisal_report.identity.orgcard import OrgCard
from reprisal_report.model.case import validate_case
from reprisal_report.vault import inbox
from reprisal_report.vault.cases import record_event, utc_now
from reprisal_report.vault.files import file_sha256
from reprisal_report.vault.store import Vault

BUNDLE_SUFFIX = ".rrb"


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    status: str  # imported | duplicate | failed
    bundle_id: str | None = None
    case_id: str | None = None
    reason: str | None = None
    error: ReportError | None = None


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and the ``*.rrb`` files of any folder, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix == BUNDLE_SUFFIX))
        elif path.is_file():
            found.append(path)
        else:
            raise NotFound(f"no such file or folder: {path}")
    return found


class _ProgressReader:
    """Reports how much ciphertext age has read (the file was hashed beforehand)."""

    def __init__(self, handle: Any, on_bytes: Callable[[int], None] | None) -> None:
        self.handle = handle
        self.on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        if self.on_bytes is not None and data:
            self.on_bytes(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _StagingSink:
    def __init__(self, writer: inbox.AttachmentWriter) -> None:
        self.writer = writer

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        self.writer.start(header.name, header.size, header.sha256)

    def on_attachment_chunk(self, data: bytes) -> None:
        self.writer.write(data)

    def on_attachment_end(self) -> None:
        self.writer.end()


def _author_key(card: OrgCard, opened: OpenedBundle) -> bytes:
    """The author's key if enrolled, or revoked only after the claimed sealing time."""
    author = opened.manifest.author
    member = card.member(author)
    if member is not None:
        if member.role != "reporter":
            raise UnknownDevice(
                f"bundle author {author} is enrolled as a {member.role}, not a reporter"
            )
        return member.signing_key
    revoked = card.revocation(author)
    if revoked is None:
        raise UnknownDevice(
            f"bundle author {author} is not enrolled in org {card.name}",
            hint="if the device is new, enrol its identity card and import again",
        )
    # The manifest's coarse time (an hour) is the author's claim; a revoked key could
    # backdate it, which is why docs/threat-model.md tells coordinators to check dates.
    sealed = datetime.strptime(opened.manifest.created, "%Y-%m-%dT%HZ").replace(tzinfo=UTC)
    revoked_at = datetime.strptime(revoked.revoked_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if sealed + timedelta(hours=1) > revoked_at:
        raise RevokedDevice(
            f"bundle author {author} was revoked at {revoked.revoked_at}, "
            f"before or during the hour it claims to be sealed ({opened.manifest.created})"
        )
    return revoked.signing_key


def _verify_and_store(
    vault: Vault,
    path: Path,
    sha: str,
    on_bytes: Callable[[int], None] | None,
    data: bytes | None = None,
) -> ImportOutcome:
    identity = age_identity_text(vault)
    if identity is None:
        raise UnknownOrg("this profile holds no age identity; only coordinators import bundles")
    staging = "staging-" + secrets.token_hex(8)
    writer = inbox.AttachmentWriter(vault, staging)
    with vault.transaction():
        # The inbox rows of a bundle are written before its id is known (it is inside
        # the encryption); foreign keys are checked at commit instead.
        vault.conn.execute("PRAGMA defer_foreign_keys = ON")
        with path.open("rb") if data is None else io.BytesIO(data) as handle:
            # 1-2: the age layer and the container (attachments staged, unverified).
            opened = open_bundle(
                _ProgressReader(handle, on_bytes),
                identities=[identity],
                sink=_StagingSink(writer),
            )
        manifest = opened.manifest
        try:
            org = pinning.get(vault, manifest.org_id)
        except UnknownOrg:
            raise BundleNotForUs(
                "bundle is addressed to an org this profile does not hold"
            ) from None
        card = org.signed.card
        # A stale card may not know of a revocation: refuse rather than guess.
        if datetime.strptime(card.expires, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        ) <= datetime.now(UTC):
            raise CardExpired(
                f"this profile's card of org {card.name} expired at {card.expires}",
                hint="'org renew' (the org's creator) or 'org update' a fresh card, then retry",
            )
        # 3-4: the signature, by an enrolled key not revoked at sealing time.
        check_signature(opened, _author_key(card, opened))
        # 5: addressed to this org and to this coordinator's key.
        check_addressed(opened, card.org_id, [public_identity(vault).key_id])
        # 6-7: attachment hashes and the salted field commitments.
        check_attachments(opened)
        check_commitments(opened)
        try:
            record = validate_case(opened.record)
        except InvalidCase as exc:
            raise BundleMalformed(f"bundle case record is not a valid case ({exc.field})") from None
        earlier = inbox.find_bundle(vault, manifest.bundle_id)
        if earlier is not None:
            raise ReplayedBundle(
                f"bundle id {manifest.bundle_id} was already imported with other content"
            )
        previous = inbox.bundles_for_case(vault, manifest.case_id)
        if previous and any(b.author_key_id != manifest.author for b in previous):
            raise ReplayedBundle(f"case {manifest.case_id} was started by another device")
        inbox.insert_bundle(
            vault,
            inbox.InboxBundle(
                bundle_id=manifest.bundle_id,
                bundle_sha256=sha,
                case_id=manifest.case_id,
                org_id=manifest.org_id,
                author_key_id=manifest.author,
                previous_bundle_id=manifest.previous_bundle_id,
                manifest=opened.manifest_bytes,
                signature=opened.signature,
                record=record,
                salts={k: v.hex() for k, v in opened.salts.items()},
                received_at=utc_now(),
            ),
        )
        vault.conn.execute(
            "UPDATE inbox_attachments SET bundle_id = ? WHERE bundle_id = ?",
            (manifest.bundle_id, staging),
        )
        detail = {"bundle_id": manifest.bundle_id, "sha256": sha}
        for step in ("received", "decrypted", "verified", "stored"):
            record_event(vault, manifest.case_id, step, detail)
    return ImportOutcome(path, "imported", manifest.bundle_id, manifest.case_id)


def import_bundle(
    vault: Vault, path: Path, on_bytes: Callable[[int], None] | None = None
) -> ImportOutcome:
    sha = file_sha256(path)
    known = inbox.find_by_sha256(vault, sha)
    if known is not None:
        return ImportOutcome(
            path, "duplicate", known.bundle_id, known.case_id, "already imported; nothing changed"
        )
    try:
        return _verify_and_store(vault, path, sha, on_bytes)
    except ReportError as exc:
        return ImportOutcome(path, "failed", reason=exc.message, error=exc)


def import_fetched(vault: Vault, data: bytes, sha: str, label: str) -> ImportOutcome:
    """Import a bundle already in memory whose SHA-256 the caller checked (relay pull)."""
    known = inbox.find_by_sha256(vault, sha)
    if known is not None:
        return ImportOutcome(
            Path(label),
            "duplicate",
            known.bundle_id,
            known.case_id,
            "already imported; nothing changed",
        )
    try:
        return _verify_and_store(vault, Path(label), sha, None, data)
    except ReportError as exc:
        return ImportOutcome(Path(label), "failed", reason=exc.message, error=exc)


def import_paths(
    vault: Vault, paths: list[Path], on_bytes: Callable[[int], None] | None = None
) -> list[ImportOutcome]:
    return [import_bundle(vault, p, on_bytes) for p in expand_paths(paths)]
