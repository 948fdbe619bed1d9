"""Coordinator use cases over received cases: list, show, write out attachments and the
original bundles (the evidence store, ``vault.evidence``)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypedDict

from reprisal_report import clock
from reprisal_report.bundle.container import AttachmentHeader
from reprisal_report.bundle.opening import open_bundle
from reprisal_report.errors import BundleTampered, InvalidInput, NotFound, UnknownOrg
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.keys import age_identity_text
from reprisal_report.model.filenames import safe_file_name
from reprisal_report.vault import evidence, inbox
from reprisal_report.vault.cases import record_event, resolve_case_id
from reprisal_report.vault.files import create_new, fsync_dir, sync_file, temp_name
from reprisal_report.vault.store import Vault

NO_ORIGINAL = "no original bundle retained (imported before the evidence store)"


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
    kept = {b.bundle_id: evidence.retained(vault, b.bundle_id) for b in bundles}
    latest_kept = kept[latest.bundle_id]
    return {
        **_summary(vault, latest),
        **latest.record,
        "id": case_id,
        "triage": inbox.triage_row(vault, case_id),
        "attachments": [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in attachments],
        "original_bundle": (
            NO_ORIGINAL
            if latest_kept is None
            else f"retained as {evidence.FOLDER_NAME}/{latest_kept.name} ({latest_kept.size} bytes)"
        ),
        "bundles": [
            {
                "bundle_id": b.bundle_id,
                "previous_bundle_id": b.previous_bundle_id,
                "author": b.author_key_id,
                "received_at": b.received_at,
                "sha256": b.bundle_sha256,
                "evidence": _evidence_entry(kept[b.bundle_id]),
            }
            for b in bundles
        ],
    }


def _evidence_entry(kept: evidence.Retained | None) -> dict[str, object] | None:
    if kept is None:
        return None
    return {"file": f"{evidence.FOLDER_NAME}/{kept.name}", "size": kept.size}


@dataclass(frozen=True)
class WrittenFile:
    name: str
    path: Path
    size: int
    sha256: str = ""


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


class _Output:
    """One output file: written under a temporary name, verified, then put in place."""

    def __init__(self, target: Path, expected_sha256: str, expected_size: int) -> None:
        self.target = target
        self.temp = temp_name(target)
        self.expected_sha256 = expected_sha256
        self.expected_size = expected_size
        self.digest = hashlib.sha256()
        self.size = 0
        self.placed = False
        self.handle: BinaryIO | None = os.fdopen(create_new(self.temp), "wb")

    def write(self, data: bytes) -> None:
        if self.handle is None:
            raise ValueError("output already closed")
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)

    def verified(self) -> bool:
        return self.size == self.expected_size and hmac.compare_digest(
            self.digest.hexdigest(), self.expected_sha256
        )

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            with handle:
                sync_file(handle)

    def place(self) -> None:
        """The verified file under its own name; an existing file there is never replaced."""
        self.close()
        try:
            os.link(self.temp, self.target)
        except FileExistsError:
            raise InvalidInput(f"{self.target} already exists; nothing was written") from None
        except OSError:
            # A file system without hard links (FAT on a USB stick): check, then rename.
            if self.target.exists() or self.target.is_symlink():
                raise InvalidInput(f"{self.target} already exists; nothing was written") from None
            os.rename(self.temp, self.target)
        else:
            self.temp.unlink()
        self.placed = True

    def discard(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()
        if self.placed:
            with contextlib.suppress(FileNotFoundError):
                self.target.unlink()


def _free_targets(out_dir: Path, names: list[str]) -> list[Path]:
    if not out_dir.is_dir():
        raise NotFound(f"no such directory: {out_dir}")
    targets = [out_dir / n for n in names]
    for target in targets:
        if target.exists() or target.is_symlink():
            raise InvalidInput(f"{target} already exists; nothing was written")
    return targets


def _finish(outputs: list[_Output], out_dir: Path) -> None:
    for output in outputs:
        output.close()
    fsync_dir(out_dir)
    for output in outputs:
        output.place()
    fsync_dir(out_dir)


class _HashingReader:
    """The retained bundle as age reads it, hashed on the way (one descriptor, one read)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        while self.read(evidence.READ_CHUNK):
            pass
        return self.digest.hexdigest()


def _changed(case_id: str) -> BundleTampered:
    return BundleTampered(
        f"the retained bundle of case {case_id} does not match the SHA-256 recorded when it "
        "was imported; nothing was written",
        hint="the evidence file was modified or replaced on disk; restore the profile "
        "from a backup",
    )


def _check_retained(case_id: str, kept: evidence.Retained) -> None:
    """The retained file has the size and SHA-256 recorded at import (before any use)."""
    try:
        with evidence.open_retained(kept) as handle:
            digest = hashlib.sha256()
            size = 0
            while chunk := handle.read(evidence.READ_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise BundleTampered(
            f"the retained bundle of case {case_id} is missing from the evidence store; "
            "nothing was written",
            hint="restore the profile from a backup",
        ) from None
    if size != kept.size or not hmac.compare_digest(digest.hexdigest(), kept.sha256):
        raise _changed(case_id)


class _ExtractSink:
    """Streams each attachment of the retained bundle into its output file."""

    def __init__(self, case_id: str, outputs: list[_Output]) -> None:
        self.case_id = case_id
        self.outputs = outputs
        self.index = -1

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        self.index += 1
        if self.index >= len(self.outputs):
            raise _changed(self.case_id)

    def on_attachment_chunk(self, data: bytes) -> None:
        self.outputs[self.index].write(data)

    def on_attachment_end(self) -> None:
        if not self.outputs[self.index].verified():
            raise _changed(self.case_id)


def _extract_retained(
    vault: Vault, case_id: str, kept: evidence.Retained, outputs: list[_Output]
) -> None:
    """Decrypt the retained bundle again with this coordinator's age identity."""
    identity = age_identity_text(vault)
    if identity is None:
        raise UnknownOrg("this profile holds no age identity; only coordinators open bundles")
    with evidence.open_retained(kept) as handle:
        reader = _HashingReader(handle)
        opened = open_bundle(reader, identities=[identity], sink=_ExtractSink(case_id, outputs))
        # What was decrypted is what was hashed: the file cannot change between the
        # check before use and the decryption without being caught.
        if not hmac.compare_digest(reader.drain(), kept.sha256):
            raise _changed(case_id)
    if len(opened.attachments) != len(outputs) or not all(o.verified() for o in outputs):
        raise _changed(case_id)


def write_attachments(
    vault: Vault, ref: str, out_dir: Path, purpose: str | None = None
) -> list[WrittenFile]:
    """Write the latest bundle's attachments into ``out_dir``: all of them or none.

    A bundle kept in the evidence store is decrypted again (its SHA-256 checked against
    the vault's record before use, and each attachment's after); a case imported before
    the store reads its attachments from the vault. Every output file is written under
    a temporary name and renamed into place only once all of them verified.
    """
    case_id = _resolve(vault, ref)
    latest = inbox.bundles_for_case(vault, case_id)[-1]
    items = inbox.attachments(vault, latest.bundle_id)
    targets = _free_targets(out_dir, _target_names([a.name for a in items]))
    kept = evidence.retained(vault, latest.bundle_id)
    if kept is not None:
        _check_retained(case_id, kept)
    outputs: list[_Output] = []
    try:
        for item, target in zip(items, targets, strict=True):
            outputs.append(_Output(target, item.sha256, item.size))
        if kept is not None:
            _extract_retained(vault, case_id, kept, outputs)
        else:
            for item, output in zip(items, outputs, strict=True):
                for chunk in inbox.iter_chunks(vault, item.id):
                    output.write(chunk)
                if not output.verified():
                    raise BundleTampered(
                        f"attachment {item.position + 1} of case {case_id} does not match "
                        "its recorded SHA-256; nothing was written"
                    )
        _finish(outputs, out_dir)
    except BaseException:
        # No partial output: plaintext written so far is removed again.
        for output in outputs:
            output.discard()
        raise
    written = [
        WrittenFile(item.name, o.target, item.size, item.sha256)
        for item, o in zip(items, outputs, strict=True)
    ]
    with vault.transaction():
        record_event(
            vault,
            case_id,
            "attachments-written",
            {
                "bundle_id": latest.bundle_id,
                "purpose": purpose or "",
                "from": "evidence" if kept is not None else "vault",
                "files": [{"name": w.name, "sha256": w.sha256} for w in written],
            },
        )
    return written


@dataclass(frozen=True)
class EvidenceExport:
    files: list[WrittenFile]
    manifest: Path
    not_retained: list[str]


def export_evidence(
    vault: Vault, ref: str, out_dir: Path, purpose: str | None = None
) -> EvidenceExport:
    """Write the case's original bundle files, unchanged, and a manifest of them.

    Each file is copied from the evidence store, its SHA-256 checked against the vault's
    record on the way, and renamed into place only when every copy verified. Another
    coordinator of the org can import the files; anyone can check their hashes.
    """
    case_id = _resolve(vault, ref)
    bundles = inbox.bundles_for_case(vault, case_id)
    kept = [(b, evidence.retained(vault, b.bundle_id)) for b in bundles]
    present = [(b, k) for b, k in kept if k is not None]
    missing = [b.bundle_id for b, k in kept if k is None]
    if not present:
        raise NotFound(f"case {case_id}: {NO_ORIGINAL}")
    manifest_name = f"case-{case_id}-evidence.json"
    targets = _free_targets(out_dir, [k.name for _, k in present] + [manifest_name])
    outputs: list[_Output] = []
    try:
        for (_, item), target in zip(present, targets, strict=False):
            output = _Output(target, item.sha256, item.size)
            outputs.append(output)
            try:
                with evidence.open_retained(item) as handle:
                    while chunk := handle.read(evidence.READ_CHUNK):
                        output.write(chunk)
            except FileNotFoundError:
                raise BundleTampered(
                    f"the retained bundle of case {case_id} is missing from the evidence "
                    "store; nothing was written",
                    hint="restore the profile from a backup",
                ) from None
            if not output.verified():
                raise _changed(case_id)
        doc = {
            "format": "reprisal-report evidence export v1",
            "case_id": case_id,
            "exported_at": enc.format_time(clock.now()),
            "files": [
                {
                    "name": item.name,
                    "sha256": item.sha256,
                    "size": item.size,
                    "received_at": bundle.received_at,
                    "receipt": None,  # a coordinator stores no relay receipt when it pulls
                }
                for bundle, item in present
            ],
            "not_retained": [
                {"bundle_id": bundle_id, "reason": "imported before the evidence store"}
                for bundle_id in missing
            ],
        }
        data = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        manifest = _Output(targets[-1], hashlib.sha256(data).hexdigest(), len(data))
        outputs.append(manifest)
        manifest.write(data)
        _finish(outputs, out_dir)
    except BaseException:
        for output in outputs:
            output.discard()
        raise
    files = [
        WrittenFile(item.name, o.target, item.size, item.sha256)
        for (_, item), o in zip(present, outputs, strict=False)
    ]
    with vault.transaction():
        record_event(
            vault,
            case_id,
            "evidence-exported",
            {
                "purpose": purpose or "",
                "files": [{"name": f.name, "sha256": f.sha256} for f in files],
            },
        )
    return EvidenceExport(files, targets[-1], missing)
