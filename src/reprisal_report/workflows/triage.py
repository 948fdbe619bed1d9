"""Coordinator use cases over received cases: list, show, write out attachments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from reprisal_report.errors import InvalidInput, NotFound
from reprisal_report.model.filenames import safe_file_name
from reprisal_report.vault import inbox
from reprisal_report.vault.cases import resolve_case_id
from reprisal_report.vault.files import fsync_dir, open_new
from reprisal_report.vault.store import Vault


class CaseSummary(TypedDict):
    """One received case, as ``triage list`` shows it (the latest bundle's view)."""

    id: str
    title: str | None
    country: str | None
    incident_date: str | None
    status: str
    risk: str | None
    consent: str | None
    bundle_id: str
    author: str
    received_at: str


def _resolve(vault: Vault, ref: str) -> str:
    return resolve_case_id(vault, ref, "inbox")


def _summary(vault: Vault, bundle: inbox.InboxBundle) -> CaseSummary:
    record = bundle.record
    state = inbox.triage_row(vault, bundle.case_id)
    return {
        "id": bundle.case_id,
        "title": record.get("title"),
        "country": record.get("country"),
        "incident_date": record.get("incident_date"),
        "status": state["status"],
        "risk": state["risk"] or record.get("risk"),
        "consent": state["consent"] or record.get("consent"),
        "bundle_id": bundle.bundle_id,
        "author": bundle.author_key_id,
        "received_at": bundle.received_at,
    }


def list_cases(
    vault: Vault, *, status: str | None, country: str | None, risk: str | None
) -> list[CaseSummary]:
    rows = [_summary(vault, b) for b in inbox.latest_bundles(vault)]
    return [
        r
        for r in rows
        if (status is None or r["status"] == status)
        and (country is None or r["country"] == country.upper())
        and (risk is None or r["risk"] == risk)
    ]


def show_case(vault: Vault, ref: str) -> dict[str, object]:
    """The case as received: summary, record, triage state, attachments and bundles
    (the record's own fields are the reporter's, so the document is open-ended)."""
    case_id = _resolve(vault, ref)
    bundles = inbox.bundles_for_case(vault, case_id)
    if not bundles:
        raise NotFound(f"no received bundle of case {case_id}")
    latest = bundles[-1]
    attachments = inbox.attachments(vault, latest.bundle_id)
    return {
        **_summary(vault, latest),
        **latest.record,
        "id": case_id,
        "triage": inbox.triage_row(vault, case_id),
        "attachments": [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in attachments],
        "bundles": [
            {
                "bundle_id": b.bundle_id,
                "previous_bundle_id": b.previous_bundle_id,
                "author": b.author_key_id,
                "received_at": b.received_at,
            }
            for b in bundles
        ],
    }


@dataclass(frozen=True)
class WrittenFile:
    name: str
    path: Path
    size: int


def _target_names(names: list[str]) -> list[str]:
    """Safe, distinct file names: a bundle may carry two files with the same name.

    Every name passes the attachment-name rule of ``model.filenames`` again here,
    whatever the import checked: a name that could hide the file (``.bash_profile``
    written into a home folder runs at the next login), read as an option, or show
    other than it is (bidi overrides, control characters) or name a path becomes
    ``attachment-<n>`` with its plain extension.
    """
    used: set[str] = set()
    out: list[str] = []
    for index, name in enumerate(names, start=1):
        candidate = base = safe_file_name(name, index)
        while candidate in used:
            candidate = f"{index}-{base}"
            index += len(names)
        used.add(candidate)
        out.append(candidate)
    return out


def write_attachments(vault: Vault, ref: str, out_dir: Path) -> list[WrittenFile]:
    """Write the latest bundle's attachments into ``out_dir``: all of them or none."""
    case_id = _resolve(vault, ref)
    latest = inbox.bundles_for_case(vault, case_id)[-1]
    items = inbox.attachments(vault, latest.bundle_id)
    if not out_dir.is_dir():
        raise NotFound(f"no such directory: {out_dir}")
    targets = [out_dir / n for n in _target_names([a.name for a in items])]
    for target in targets:
        if target.exists() or target.is_symlink():
            raise InvalidInput(f"{target} already exists; nothing was written")
    written: list[WrittenFile] = []
    try:
        for item, target in zip(items, targets, strict=True):
            with open_new(target) as handle:
                written.append(WrittenFile(item.name, target, item.size))
                for chunk in inbox.iter_chunks(vault, item.id):
                    handle.write(chunk)
    except BaseException:
        # No partial output: plaintext written so far is removed again.
        for done in written:
            done.path.unlink(missing_ok=True)
        raise
    fsync_dir(out_dir)
    return written
