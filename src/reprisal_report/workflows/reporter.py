"""Reporter use cases: write, list, show, edit cases and attach files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reprisal_report.bundle.padding import padme
from reprisal_report.crashpoints import crash_point
from reprisal_report.errors import InvalidInput, NotFound, OrgNotChosen, UnsafeAttachmentName
from reprisal_report.identity import pinning
from reprisal_report.model.case import parse_case_bytes, validate_case
from reprisal_report.model.filenames import attachment_name_problem
from reprisal_report.model.states import CaseState
from reprisal_report.model.text import visible
from reprisal_report.sanitize import prepare_attachment
from reprisal_report.vault import cases as case_store
from reprisal_report.vault.attachments import (
    AttachmentRow,
    count_by_case,
    list_attachments,
    store_attachment,
)
from reprisal_report.vault.cases import CaseRow
from reprisal_report.vault.store import Vault

MAX_CASE_FILE_BYTES = 1024 * 1024
# A case record as the model validates it: field names to JSON values.
CaseRecord = dict[str, object]


@dataclass(frozen=True)
class CaseView:
    row: CaseRow
    attachments: list[AttachmentRow]


def check_attachment_name(name: str) -> None:
    """Refuse a name that could hide, disguise or misplace the file (one rule for
    ``case attach``, ``seal`` and import: ``model.filenames``)."""
    problem = attachment_name_problem(name)
    if problem is not None:
        raise UnsafeAttachmentName(
            f"attachment name '{visible(name)}' {problem}",
            hint="rename the file to a plain name such as photo-1.jpg and attach it again",
        )


def read_case_file(path: Path) -> CaseRecord:
    """Parse and validate a YAML or JSON case file (nothing is stored)."""
    try:
        size = path.stat().st_size
        if size > MAX_CASE_FILE_BYTES:
            raise InvalidInput(f"case file {path.name} is larger than 1 MiB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a case file") from None
    return parse_case_bytes(data, source_name=path.name)


def joined_org_ids(vault: Vault) -> list[str]:
    return pinning.org_ids(vault)


def choose_org(vault: Vault, requested: str | None) -> str | None:
    """The org a new case is addressed to: the one named, or the only one joined.

    A reporter may write cases before joining any org; they are addressed at sealing.
    """
    joined = joined_org_ids(vault)
    if requested is not None:
        if requested not in joined:
            raise NotFound(
                f"this profile has not joined org {requested}",
                hint="'reprisal-report org show' lists the joined orgs",
            )
        return requested
    if len(joined) > 1:
        raise OrgNotChosen(
            "this profile has joined several orgs; choose one",
            hint="'reprisal-report org show' lists them",
        )
    return joined[0] if joined else None


def new_case(vault: Vault, record: CaseRecord, org_id: str | None) -> str:
    valid = validate_case(record)
    with vault.transaction():
        return case_store.insert_case(vault, valid, state=CaseState.READY, org_id=org_id)


def save_draft(vault: Vault, case_id: str | None, partial: CaseRecord, org_id: str | None) -> str:
    """Store an incomplete record so an interrupted interactive session loses nothing."""
    valid = validate_case(partial, partial=True)
    with vault.transaction():
        if case_id is None:
            return case_store.insert_case(vault, valid, state=CaseState.DRAFT, org_id=org_id)
        case_store.update_case(vault, case_id, valid, state=CaseState.DRAFT)
        return case_id


def complete_case(vault: Vault, case_id: str, record: CaseRecord) -> None:
    valid = validate_case(record)
    with vault.transaction():
        case_store.update_case(vault, case_id, valid, state=CaseState.READY)


def list_cases(vault: Vault) -> list[CaseRow]:
    return case_store.list_cases(vault)


def attachment_counts(vault: Vault) -> dict[str, int]:
    """Attachments per case id (cases without any are absent)."""
    return count_by_case(vault)


def show_case(vault: Vault, ref: str) -> CaseView:
    row = case_store.get_case(vault, ref)
    return CaseView(row, list_attachments(vault, row.id))


def address_case(vault: Vault, row: CaseRow, org_id: str | None) -> str | None:
    """The org ``row`` goes to: ``org_id`` if given (it must be joined, and a case
    already sealed for one org cannot move to another), else the one it names."""
    if org_id is None:
        return row.org_id
    choose_org(vault, org_id)
    if row.org_id not in (None, org_id) and row.last_bundle_id is not None:
        raise InvalidInput(
            f"case {row.id} was already sealed for org {row.org_id}; "
            f"it cannot be addressed to org {org_id}"
        )
    return org_id


def edit_case(vault: Vault, ref: str, record: CaseRecord, org_id: str | None = None) -> CaseRow:
    row = case_store.get_case(vault, ref)
    valid = validate_case(record)
    target = address_case(vault, row, org_id)
    with vault.transaction():
        case_store.update_case(vault, row.id, valid, state=CaseState.READY)
        if target != row.org_id:
            case_store.set_org(vault, row.id, target)
    return case_store.get_case(vault, row.id)


def readdress_case(vault: Vault, ref: str, org_id: str) -> CaseRow:
    """Address a case to ``org_id`` without changing its record."""
    row = case_store.get_case(vault, ref)
    target = address_case(vault, row, org_id)
    if target != row.org_id:
        with vault.transaction():
            case_store.set_org(vault, row.id, target)
    return case_store.get_case(vault, row.id)


def attach_files(
    vault: Vault,
    ref: str,
    files: list[Path],
    *,
    keep_metadata: bool = False,
    on_chunk: Callable[[int], None] | None = None,
) -> list[AttachmentRow]:
    """Stream every file into its own blob (age, padded) and add their rows in one
    transaction: all of them or none. A blob is on disk, fsynced, before the rows
    naming it commit; a crash leaves only orphan blobs, removed at the next writing
    open of the profile (``tidy``)."""
    row = _attachable(vault, ref)
    for path in files:
        if not path.is_file():
            raise NotFound(f"no such file: {path}")
        check_attachment_name(path.name)
    stored: list[AttachmentRow] = []
    with vault.transaction():
        for path in files:
            with prepare_attachment(path, keep_metadata=keep_metadata) as prepared:
                stored.append(
                    store_attachment(
                        vault,
                        row.id,
                        path.name,
                        prepared.stream,
                        original_sha256=prepared.original_sha256,
                        metadata=prepared.metadata,
                        pad_to=padme,
                        on_chunk=on_chunk,
                    )
                )
        # The case changed: its last bundle (if any) no longer holds all of it.
        case_store.bump_revision(vault, row.id)
        crash_point("attach.before-commit")
    return stored


def _attachable(vault: Vault, ref: str) -> CaseRow:
    row = case_store.get_case(vault, ref)
    if row.state == CaseState.PURGED:
        raise InvalidInput(f"case {row.id} was purged after delivery; nothing was attached")
    return row


def attach_files_from_streams(
    vault: Vault, ref: str, streams: list[tuple[str, BinaryIO]]
) -> list[AttachmentRow]:
    """Attach in-memory or already-open streams (used by the demo and tests)."""
    row = _attachable(vault, ref)
    for name, _ in streams:
        check_attachment_name(name)
    with vault.transaction():
        stored = [
            store_attachment(
                vault,
                row.id,
                name,
                stream,
                original_sha256=None,
                metadata="unchanged",
                pad_to=padme,
            )
            for name, stream in streams
        ]
        case_store.bump_revision(vault, row.id)
    return stored
