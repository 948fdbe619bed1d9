"""Coordinator use case: verify, decrypt and store bundles (``inbox import``).

Every bundle is opened inside one vault transaction. Its ciphertext is copied, as age
reads it, into a temporary file of the evidence store (``vault.evidence``); only when
every check passed is that copy fsynced and renamed to ``evidence/<sha256>.rrb``, the
received file byte for byte, and the vault rows (record, manifest, signature, salts,
an index of the attachments) written. If any check fails the transaction is rolled
back and the copy removed, so nothing of a bad bundle is ever stored (STYLE.md #5).
Attachment bytes are no longer written into the vault: ``triage attachment``
decrypts the retained bundle again.

``sync pull`` imports 50 fetched bundles per vault transaction (each import a
savepoint) and passes an ``EvidenceBatch`` (``vault.evidence``): the copy is then
renamed when its bundle verified, and the fsyncs of all the batch's copies, and of
their folder once, are the transaction's last step before it commits. The checks are
the same either way.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from reprisal_report import clock
from reprisal_report.bundle.container import HEADER, MAGIC, padding_length
from reprisal_report.bundle.manifest import Manifest, salts_to_bytes
from reprisal_report.bundle.opening import (
    OpenedBundle,
    check_addressed,
    check_attachments,
    check_commitments,
    check_signature,
    open_bundle,
)
from reprisal_report.crashpoints import crash_point
from reprisal_report.errors import (
    BundleMalformed,
    BundleNotForUs,
    BundleTampered,
    CardExpired,
    InvalidCase,
    NotFound,
    ReplayedBundle,
    ReportError,
    RevokedDevice,
    UnknownDevice,
    UnknownOrg,
)
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import pinning
from reprisal_report.identity.keys import age_identity_text, public_identity
from reprisal_report.identity.orgcard import OrgCard
from reprisal_report.model.case import validate_case
from reprisal_report.model.states import ImportStatus, Role
from reprisal_report.model.text import visible
from reprisal_report.transport import folder
from reprisal_report.vault import evidence, inbox
from reprisal_report.vault.cases import record_event, utc_now
from reprisal_report.vault.store import Vault

BUNDLE_SUFFIX = ".rrb"


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    status: ImportStatus
    bundle_id: str | None = None
    case_id: str | None = None
    reason: str | None = None
    error: ReportError | None = None

    @property
    def name(self) -> str:
        """The file's name as the courier chose it, safe to print (escapes visible)."""
        return visible(self.path.name)


@dataclass(frozen=True)
class ImportPlan:
    """The regular bundle files to import, and the entries a folder scan left out."""

    files: list[Path]
    skipped: list[ImportOutcome] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        total = 0
        for path in self.files:
            try:
                total += path.lstat().st_size
            except OSError:
                continue  # reported when the import tries to open it
        return total


def plan_paths(paths: list[Path]) -> ImportPlan:
    """Files as given, and the regular ``*.rrb`` files of any folder, in a stable order.

    A folder's symbolic links, named pipes and other odd ``*.rrb`` entries are skipped
    and reported, never opened; a path that does not exist at all is an error.
    """
    plan = ImportPlan([])
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            files, skipped = folder.scan(path)
            plan.files.extend(files)
            plan.skipped.extend(
                ImportOutcome(s.path, ImportStatus.SKIPPED, reason=s.reason) for s in skipped
            )
        elif path.exists() or path.is_symlink():
            plan.files.append(path)  # judged when opened (no link, no pipe)
        else:
            raise NotFound(f"no such file or folder: {visible(str(path))}")
    return plan


def expand_paths(paths: list[Path]) -> list[Path]:
    """The files :func:`plan_paths` would import (skipped entries left out)."""
    return plan_paths(paths).files


class _ProgressReader:
    """Counts the ciphertext as age reads it and tees it into the evidence copy, so the
    file is read once for decryption and what is kept is exactly what was decrypted."""

    def __init__(
        self,
        handle: BinaryIO,
        on_bytes: Callable[[int], None] | None,
        limit: int | None = None,
        tee: Callable[[bytes], object] | None = None,
    ) -> None:
        self.handle = handle
        self.on_bytes = on_bytes
        self.limit = limit
        self.tee = tee
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        if data:
            self.count += len(data)
            if self.limit is not None and self.count > self.limit:
                raise BundleMalformed("bundle file grew past the bundle size cap while read")
            if self.tee is not None:
                self.tee(data)  # the evidence copy: exactly the bytes decrypted
            if self.on_bytes is not None:
                self.on_bytes(len(data))
        return data

    def drain(self) -> None:
        """After a verified decryption the file must be at its end: age read up to it
        to know nothing followed the last chunk. Bytes found now were written to the
        file while it was imported; they would enter the evidence copy unverified."""
        if self.read(1):
            raise BundleTampered("bundle file changed while it was being imported")

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Duplicate(Exception):
    """The bundle's bytes are imported already (found once its hash was known)."""

    def __init__(self, known: inbox.InboxBundle) -> None:
        super().__init__("duplicate")
        self.known = known


@dataclass
class _Progress:
    """How far one import got: a bundle whose signature verified may be sighted, under
    the hash of the bytes that were decrypted and verified (never a later read)."""

    authentic: bool = False
    sha256: str | None = None  # of the bytes decrypted and kept, once all were read


def _author_key(card: OrgCard, opened: OpenedBundle) -> tuple[bytes, str | None]:
    """The key of the bundle's author (a reporter, enrolled or revoked) and the time it
    was revoked, if it was.

    Only keys that were enrolled as reporters author bundles: a coordinator's, an
    auditor's or a relay's key never does, revoked or not.
    """
    author = opened.manifest.author
    member = card.member(author)
    if member is not None:
        if member.role != Role.REPORTER:
            raise UnknownDevice(
                f"bundle author {author} is enrolled as a {member.role}, not a reporter"
            )
        return member.signing_key, None
    revoked = card.revocation(author)
    if revoked is None:
        raise UnknownDevice(
            f"bundle author {author} is not enrolled in org {visible(card.name)}",
            hint="if the device is new, enrol its identity card and import again",
        )
    if revoked.role != Role.REPORTER:
        raise RevokedDevice(
            f"bundle author {author} is a revoked {revoked.role} key, never a reporter"
        )
    return revoked.signing_key, revoked.revoked_at


def _check_existed_before(vault: Vault, opened: OpenedBundle, sha: str, revoked_at: str) -> None:
    """A revoked reporter's bundle needs proof, recorded by this profile, that it existed
    before the revocation: the time the bundle claims for itself is the author's word,
    and a stolen key can claim any time."""
    seen = inbox.first_sighting(vault, sha)
    if seen is not None and enc.parse_time(seen) < enc.parse_time(revoked_at):
        return
    raise RevokedDevice(
        f"bundle author {opened.manifest.author} was revoked at {revoked_at} and nothing "
        "this profile recorded shows the bundle existed before then",
        hint="the sealing time a bundle claims is not proof; the reporter can seal the "
        "case again from an enrolled device",
    )


def _verify_and_store(
    vault: Vault,
    path: Path,
    expected: str | None,
    handle: BinaryIO,
    on_bytes: Callable[[int], None] | None,
    progress: _Progress,
    batch: evidence.EvidenceBatch | None = None,
) -> ImportOutcome:
    identity = age_identity_text(vault)
    if identity is None:
        raise UnknownOrg("this profile holds no age identity; only coordinators import bundles")
    # In a batch (sync pull) the fsyncs wait for the batch's commit (vault.evidence).
    copy = evidence.EvidenceWriter(vault) if batch is None else batch.writer()
    try:
        with vault.transaction():
            manifest = _verify_into(vault, expected, handle, on_bytes, progress, identity, copy)
            crash_point("import.before-commit")
    except BaseException:
        # Refused, or the commit failed: neither the copy nor its final name remains.
        copy.discard()
        raise
    return ImportOutcome(path, ImportStatus.IMPORTED, manifest.bundle_id, manifest.case_id)


def _verify_into(
    vault: Vault,
    expected: str | None,
    handle: BinaryIO,
    on_bytes: Callable[[int], None] | None,
    progress: _Progress,
    identity: str,
    copy: evidence.EvidenceWriter,
) -> Manifest:
    """Every check of one bundle, then its rows (inside the caller's transaction)."""
    reader = _ProgressReader(handle, on_bytes, folder.MAX_BUNDLE_BYTES, tee=copy.write)
    # 1-2: the age layer and the container (attachment bytes hashed, not kept).
    opened = open_bundle(reader, identities=[identity])
    reader.drain()
    # The file is read once: the bytes decrypted are the bytes kept, and their hash
    # names the bundle. Bytes fetched under a hash the caller checked must have it.
    sha = copy.finish()
    progress.sha256 = sha
    if expected is not None and not hmac.compare_digest(sha, expected):
        raise BundleTampered("bundle bytes changed while they were being imported")
    known = inbox.find_by_sha256(vault, sha)
    if known is not None:
        raise _Duplicate(known)
    manifest = opened.manifest
    try:
        org = pinning.get(vault, manifest.org_id)
    except UnknownOrg:
        raise BundleNotForUs("bundle is addressed to an org this profile does not hold") from None
    card = org.signed.card
    # 3: the signature, by a key the card lists as a reporter (active or revoked).
    author_key, revoked_at = _author_key(card, opened)
    check_signature(opened, author_key)
    progress.authentic = True
    # A stale card may not know of a revocation: refuse rather than guess.
    if enc.has_passed(card.expires):
        raise CardExpired(
            f"this profile's card of org {visible(card.name)} expired at {card.expires}",
            hint="'org renew' (the org's creator) or 'org update' a fresh card, then retry",
        )
    # 4: a revoked reporter's bundle only with proof it existed before the revocation.
    if revoked_at is not None:
        _check_existed_before(vault, opened, sha, revoked_at)
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
    _check_chain(vault, manifest.case_id, manifest.bundle_id, manifest.previous_bundle_id)
    offsets = _data_offsets(opened)
    # Verified in full: the received file becomes evidence, before the rows naming it.
    copy.keep()
    crash_point("import.after-evidence-file")
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
    from reprisal_report.workflows.export import refresh_gate_forms  # the export's own cost

    refresh_gate_forms(vault, manifest.case_id)  # the leak gate's forms of the new content
    evidence.record(vault, manifest.bundle_id, copy.final.name, copy.size)
    for position, (seen, offset) in enumerate(zip(opened.attachments, offsets, strict=True)):
        header = seen.header
        inbox.add_attachment(
            vault, manifest.bundle_id, position, (header.name, header.size, header.sha256), offset
        )
    detail = {"bundle_id": manifest.bundle_id, "sha256": sha, "evidence": copy.final.name}
    for step in ("received", "decrypted", "verified", "stored"):
        record_event(vault, manifest.case_id, step, detail)
    return manifest


def _data_offsets(opened: OpenedBundle) -> list[int]:
    """Where each attachment's data record starts in the plaintext container.

    The container's layout follows from its parts (docs/bundle-format.md): the
    canonical encodings have one spelling, so re-encoding the salts gives their
    bytes back; the total is checked against the length the parser counted.
    """
    offset = len(MAGIC) + 4 * HEADER.size
    offset += len(opened.manifest_bytes) + len(opened.signature) + len(opened.record_bytes)
    offset += len(salts_to_bytes(opened.salts))
    offsets: list[int] = []
    for seen in opened.attachments:
        offset += HEADER.size + len(seen.header.to_bytes())
        offsets.append(offset)
        offset += HEADER.size + seen.header.size
    end = offset + 2 * HEADER.size + padding_length(offset)
    if end != opened.container_length:
        raise BundleMalformed("bundle container layout does not add up to its length")
    return offsets


def _check_chain(vault: Vault, case_id: str, bundle_id: str, previous_id: str | None) -> None:
    """One line of bundles per case: no fork, no cycle, no link into another case."""
    if previous_id is not None:
        named = inbox.find_bundle(vault, previous_id)
        if named is not None and named.case_id != case_id:
            raise ReplayedBundle(
                f"bundle {bundle_id} continues bundle {previous_id} of another case"
            )
    problem = inbox.chain_problem(inbox.bundles_for_case(vault, case_id), bundle_id, previous_id)
    if problem is not None:
        raise ReplayedBundle(f"bundle {bundle_id} does not fit case {case_id}: {problem}")


def _duplicate(path: Path, known: inbox.InboxBundle) -> ImportOutcome:
    return ImportOutcome(
        path,
        ImportStatus.DUPLICATE,
        known.bundle_id,
        known.case_id,
        "already imported; nothing changed",
    )


def _import_handle(
    vault: Vault,
    path: Path,
    expected: str | None,
    handle: BinaryIO,
    on_bytes: Callable[[int], None] | None,
    batch: evidence.EvidenceBatch | None = None,
) -> ImportOutcome:
    progress = _Progress()
    try:
        return _verify_and_store(vault, path, expected, handle, on_bytes, progress, batch)
    except _Duplicate as dup:
        return _duplicate(path, dup.known)
    except ReportError as exc:
        # Bytes imported before are a duplicate, whatever this run made of them. If the
        # import stopped before it had read them all, only now is the file hashed on
        # its own (a second read), to find out.
        sha = progress.sha256 or expected or _file_sha256(handle)
        known = None if sha is None else inbox.find_by_sha256(vault, sha)
        if known is not None:
            return _duplicate(path, known)
        if progress.authentic and progress.sha256 is not None:
            # Signed by a reporter key of the card, yet refused for now (an expired
            # card, say): remember that these exact bytes existed at this time. The
            # hash is that of the bytes verified, never of a later read of the file.
            with vault.transaction():
                inbox.record_sighting(vault, progress.sha256, enc.format_time(clock.now()))
        return ImportOutcome(path, ImportStatus.FAILED, reason=exc.message, error=exc)


def _file_sha256(handle: BinaryIO) -> str | None:
    """The SHA-256 of the whole file (read by ``pread``), or None if it cannot be read
    within the bundle size cap."""
    digest = hashlib.sha256()
    offset = 0
    try:
        while piece := os.pread(handle.fileno(), 1024 * 1024, offset):
            offset += len(piece)
            if offset > folder.MAX_BUNDLE_BYTES:
                return None
            digest.update(piece)
    except OSError:
        return None
    return digest.hexdigest()


def import_bundle(
    vault: Vault, path: Path, on_bytes: Callable[[int], None] | None = None
) -> ImportOutcome:
    """Import one bundle file, read through one descriptor that never follows a link.

    The file is read once, as it is decrypted; its hash is that of the bytes decrypted
    and kept. An already imported bundle is found once that hash is known and
    reported as a duplicate, nothing changed.
    """
    evidence.remove_orphans(vault)
    try:
        handle = folder.open_bundle_file(path)
    except folder.BundleFileRefused as exc:
        return ImportOutcome(path, ImportStatus.SKIPPED, reason=exc.reason)
    with handle:
        return _import_handle(vault, path, None, handle, on_bytes)


def import_fetched(
    vault: Vault, data: bytes, sha: str, label: str, batch: evidence.EvidenceBatch | None = None
) -> ImportOutcome:
    """Import a bundle already in memory whose SHA-256 the caller checked (relay pull).

    With ``batch`` the evidence file is made durable by ``batch.sync()``, which the
    caller runs last inside the vault transaction holding this import (see
    ``vault.evidence``); every check is the same.
    """
    evidence.remove_orphans(vault)
    known = inbox.find_by_sha256(vault, sha)
    if known is not None:
        return _duplicate(Path(label), known)
    return _import_handle(vault, Path(label), sha, io.BytesIO(data), None, batch)


def import_paths(
    vault: Vault,
    paths: list[Path] | ImportPlan,
    on_bytes: Callable[[int], None] | None = None,
) -> list[ImportOutcome]:
    plan = paths if isinstance(paths, ImportPlan) else plan_paths(paths)
    # What a killed import left in the evidence store goes first (under the write lock).
    evidence.remove_orphans(vault)
    return [import_bundle(vault, p, on_bytes) for p in plan.files] + plan.skipped
