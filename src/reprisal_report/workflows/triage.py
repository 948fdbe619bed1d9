"""Coordinator use cases over received cases: list, show, write out attachments and the
original bundles (the evidence store, ``vault.evidence``)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypedDict

from reprisal_report import clock
from reprisal_report.errors import (
    BundleTampered,
    InvalidInput,
    NotFound,
    ProtectionLowered,
    UnknownOrg,
)
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.keys import age_identity_text, public_identity
from reprisal_report.model import triage as rules
from reprisal_report.model.filenames import safe_file_name
from reprisal_report.vault import evidence, inbox, search
from reprisal_report.vault import triage as store
from reprisal_report.vault.cases import record_event, resolve_case_id
from reprisal_report.vault.files import create_new, fsync_dir, sync_file, temp_name
from reprisal_report.vault.store import Vault
from reprisal_report.workflows.files import read_user_file

# The bundle layer, org cards, pins and the vocabulary are imported where used: a
# listing needs none of them (issue 10's start-up budget).
if TYPE_CHECKING:
    from reprisal_report.bundle.container import AttachmentHeader
    from reprisal_report.identity.orgcard import OrgCard
    from reprisal_report.model.vocabulary import VocabKind

NO_ORIGINAL = "no original bundle retained (imported before the evidence store)"


class CaseSummary(TypedDict):
    """One received case, as ``triage list`` shows it."""

    id: str
    title: str
    country: str
    incident_date: str
    status: str
    risk: str
    consent: str
    reporter_risk: str
    reporter_consent: str
    bundle_id: str
    bundles: int
    received_at: str
    updated_at: str
    possible_duplicate: bool
    follow_up: bool


def _resolve(vault: Vault, ref: str) -> str:
    return resolve_case_id(vault, ref, "inbox")


def _summary(row: store.TriageCase, flags: tuple[bool, bool]) -> CaseSummary:
    return {
        "id": row.case_id,
        "title": row.title,
        "country": row.country,
        "incident_date": row.incident_date,
        "status": row.status,
        "risk": row.risk,
        "consent": row.consent,
        "reporter_risk": row.reporter_risk,
        "reporter_consent": row.reporter_consent,
        "bundle_id": row.latest_bundle_id,
        "bundles": row.bundle_count,
        "received_at": row.first_received_at,
        "updated_at": row.received_at,
        "possible_duplicate": flags[0],
        "follow_up": flags[1],
    }


@dataclass(frozen=True)
class ListRequest:
    """What ``triage list`` asks for: raw values from the user, checked here."""

    status: str | None = None
    country: str | None = None
    risk: str | None = None
    consent: str | None = None
    act: str | None = None
    mechanism: str | None = None
    incident_from: str | None = None
    incident_to: str | None = None
    received_from: str | None = None
    received_to: str | None = None
    duplicates: bool = False
    follow_ups: bool = False
    sort: str = "received"
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseSummary]
    total: int
    offset: int


def _day_bound(value: str | None, what: str, *, end: bool) -> str | None:
    if value is None:
        return None
    rules.parse_day(value, what)
    start, last = rules.incident_interval(value)
    return last if end else start


def _filters(request: ListRequest) -> store.Filters:
    if request.status is not None:
        rules.parse_status(request.status)
    if request.risk is not None:
        rules.parse_risk(request.risk)
    if request.consent is not None:
        rules.parse_consent(request.consent)
    if request.act is not None:
        _check_term("acts", request.act, "act")
    if request.mechanism is not None:
        _check_term("mechanisms", request.mechanism, "mechanism")
    country = request.country.upper() if request.country is not None else None
    return store.Filters(
        status=request.status,
        country=country,
        risk=request.risk,
        consent=request.consent,
        act=request.act,
        mechanism=request.mechanism,
        incident_from=_day_bound(request.incident_from, "incident from", end=False),
        incident_to=_day_bound(request.incident_to, "incident to", end=True),
        received_from=_day_bound(request.received_from, "received from", end=False),
        received_to=_day_bound(request.received_to, "received to", end=True),
        duplicates=request.duplicates,
        follow_ups=request.follow_ups,
    )


def _check_term(kind: VocabKind, value: str, what: str) -> None:
    from reprisal_report.model.vocabulary import load_vocabulary

    terms = load_vocabulary().terms(kind)
    if value not in terms:
        raise InvalidInput(f"unknown {what} {value!r}; one of: {', '.join(sorted(terms))}")


# SQLite integers are 64-bit; no vault holds anywhere near this many cases.
MAX_PAGE = 1_000_000_000


def sort_keys() -> list[str]:
    return sorted(store.SORT_KEYS)


def list_cases(vault: Vault, request: ListRequest | None = None) -> CasePage:
    """One page of received cases matching the request, sorted (``-key`` descending)."""
    request = request or ListRequest()
    filters = _filters(request)
    key = request.sort.removeprefix("-")
    if key not in store.SORT_KEYS:
        raise InvalidInput(
            f"cannot sort by {request.sort!r}; one of: {', '.join(sort_keys())} "
            "(a leading - sorts descending)"
        )
    if request.limit is not None and not 1 <= request.limit <= MAX_PAGE:
        raise InvalidInput(f"the limit must be from 1 to {MAX_PAGE:,}")
    if not 0 <= request.offset <= MAX_PAGE:
        raise InvalidInput(f"the offset must be from 0 to {MAX_PAGE:,}")
    rows, total = store.query(
        vault,
        filters,
        sort=key,
        descending=request.sort.startswith("-"),
        limit=request.limit,
        offset=request.offset,
    )
    flags = store.flags_for(vault, [r.case_id for r in rows])
    return CasePage([_summary(r, flags[r.case_id]) for r in rows], total, request.offset)


def _row(vault: Vault, case_id: str) -> store.TriageCase:
    row = store.find(vault, case_id)
    if row is None:
        raise NotFound(f"no received bundle of case {case_id}")
    return row


def _member_role(card: OrgCard | None, key_id: str) -> str | None:
    if card is None:
        return None
    member = card.member(key_id)
    return None if member is None else str(member.role)


def _bundle_chain(vault: Vault, bundles: list[inbox.InboxBundle]) -> list[dict[str, object]]:
    """Each bundle of the case with what its import verified."""
    from reprisal_report.bundle.manifest import parse_manifest

    versions = store.card_versions(vault, [b.bundle_id for b in bundles])
    cards: dict[str, OrgCard | None] = {}
    out: list[dict[str, object]] = []
    for b in bundles:
        if b.org_id not in cards:
            cards[b.org_id] = _pinned_card(vault, b.org_id)
        manifest = parse_manifest(b.manifest)
        kept = evidence.retained(vault, b.bundle_id)
        out.append(
            {
                "bundle_id": b.bundle_id,
                "previous_bundle_id": b.previous_bundle_id,
                "author": b.author_key_id,
                "author_role": _member_role(cards[b.org_id], b.author_key_id),
                "signature": "verified at import (Ed25519 over the manifest)",
                "org_id": b.org_id,
                "card_version": versions.get(b.bundle_id),
                "sealed_at": manifest.created,
                "received_at": b.received_at,
                "sha256": b.bundle_sha256,
                "receipt": relay_receipt(vault, b.bundle_sha256),
                "evidence": _evidence_entry(kept),
            }
        )
    return out


def relay_receipt(vault: Vault, sha256: str) -> dict[str, object] | None:
    """The relay receipt ``sync pull`` kept for this bundle (the relay's URL, then the
    receipt's own fields: tree head, signature, log index, inclusion proof), or None
    (a bundle from a folder, or pulled before receipts were kept)."""
    from reprisal_report.audit.receipts import read_stored
    from reprisal_report.vault import receipts

    kept = receipts.receipt_for(vault, sha256)
    if kept is None:
        return None
    doc = read_stored(kept[1])
    if not isinstance(doc, dict):
        return None
    return {"relay": kept[0], **doc}


def _pinned_card(vault: Vault, org_id: str) -> OrgCard | None:
    from reprisal_report.identity.orgcard import parse_card
    from reprisal_report.vault import pins

    row = pins.find(vault, org_id)
    if row is None:
        return None
    return parse_card(row.card).card


def show_case(vault: Vault, ref: str) -> dict[str, object]:
    """The case as received with its triage: current and reporter's assessment, status
    and assessment history, notes, links, possible duplicates, attachments and the
    bundle chain (the record's own fields are the reporter's, so it is open-ended)."""
    case_id = _resolve(vault, ref)
    row = _row(vault, case_id)
    bundles = inbox.bundles_for_case(vault, case_id)
    latest = bundles[-1]
    attachments = inbox.attachments(vault, latest.bundle_id)
    latest_kept = evidence.retained(vault, latest.bundle_id)
    flags = store.flags_for(vault, [case_id])[case_id]
    history = store.history(vault, case_id)
    return {
        **_summary(row, flags),
        **latest.record,
        "id": case_id,
        "status": row.status,
        "risk": row.risk,
        "consent": row.consent,
        "reporter_risk": row.reporter_risk,
        "reporter_consent": row.reporter_consent,
        "allowed_status": [s.value for s in rules.allowed_next(rules.Status(row.status))],
        "status_history": [_history_doc(h) for h in history if h.field == "status"],
        "assessments": [_history_doc(h) for h in history if h.field != "status"],
        "notes": [
            {"number": n.number, "at": n.at, "actor": n.actor, "text": n.text}
            for n in store.notes(vault, case_id)
        ],
        "links": [
            {"case_id": k.case_id, "other_id": k.other_id, "kind": k.kind, "at": k.at}
            for k in store.links(vault, case_id)
        ],
        "possible_duplicates": [
            {"case_id": other, "reason": reason}
            for other, reason in store.duplicates_of(vault, case_id)
        ],
        "attachments": [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in attachments],
        "original_bundle": (
            NO_ORIGINAL
            if latest_kept is None
            else f"retained as {evidence.FOLDER_NAME}/{latest_kept.name} ({latest_kept.size} bytes)"
        ),
        "bundles": _bundle_chain(vault, bundles),
    }


def _history_doc(entry: store.HistoryEntry) -> dict[str, object]:
    return {
        "field": entry.field,
        "from": entry.old,
        "to": entry.new,
        "at": entry.at,
        "actor": entry.actor,
        "reason": entry.reason,
    }


@dataclass(frozen=True)
class Change:
    """What ``triage set`` asks to change (raw values, checked by ``set_case``)."""

    status: str | None = None
    risk: str | None = None
    consent: str | None = None
    note: str | None = None
    reason: str | None = None
    edit_note: int | None = None
    delete_note: int | None = None


def set_case(vault: Vault, ref: str, change: Change) -> list[str]:
    """Apply a status move, reassessments and a note in one transaction; the names of
    the fields that changed. The reporter's own risk and consent are never touched; a
    change that protects the person less (wider consent, lower risk) needs a reason."""
    case_id = _resolve(vault, ref)
    row = _row(vault, case_id)
    reason = change.reason.strip() if change.reason and change.reason.strip() else None
    if change.edit_note is not None and change.delete_note is not None:
        raise InvalidInput("edit a note or delete one, not both at once")
    if change.edit_note is not None and change.note is None:
        raise InvalidInput("give the new text of the note being edited")
    status = rules.parse_status(change.status) if change.status is not None else None
    if status is not None:
        rules.check_transition(rules.Status(row.status), status)
    levels: list[tuple[str, str]] = []
    for field, value, parse in (
        ("risk", change.risk, rules.parse_risk),
        ("consent", change.consent, rules.parse_consent),
    ):
        if value is None:
            continue
        new = parse(value)
        old = getattr(row, field)
        if new == old:
            continue
        if rules.lowers_protection(field, old, new) and reason is None:
            raise ProtectionLowered(
                f"changing {field} from {old} to {new} lowers the protection of the people "
                "in this case; give the reason",
            )
        levels.append((field, new))
    note = change.note
    if note is not None and not note.strip():
        raise InvalidInput("the note is empty")
    actor = public_identity(vault).key_id
    changed: list[str] = []
    with vault.transaction():
        if status is not None:
            store.set_status(vault, case_id, status.value, actor=actor, reason=reason)
            changed.append("status")
        for field, new in levels:
            store.set_level(vault, case_id, field, new, actor=actor, reason=reason)
            changed.append(field)
        if change.delete_note is not None or change.edit_note is not None:
            number = change.delete_note if change.delete_note is not None else change.edit_note
            text = None if change.delete_note is not None else note
            if number is None or not store.replace_note(vault, case_id, number, text):
                raise NotFound(f"case {case_id} has no note {number}")
            changed.append("note-deleted" if text is None else "note-edited")
        elif note is not None:
            store.add_note(vault, case_id, note, actor=actor)
            changed.append("note")
        if any(c.startswith("note") for c in changed):
            _reindex(vault, case_id)
            from reprisal_report.workflows.export import refresh_gate_forms  # export's cost

            refresh_gate_forms(vault, case_id)  # the leak gate's forms, as the notes changed
        if changed:
            record_event(
                vault,
                case_id,
                "triaged",
                {"fields": changed, "reason_given": reason is not None},
                actor=actor,
            )
    return changed


NOTE_LIMIT = 256 * 1024


def read_note_file(path: Path) -> str:
    """A note written in a file (UTF-8, at most 256 KiB)."""
    data = read_user_file(path, "a note", NOTE_LIMIT)
    if len(data) > NOTE_LIMIT:
        raise InvalidInput(f"{path} is too large for a note (at most 256 KiB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None


def _reindex(vault: Vault, case_id: str) -> None:
    """Keep the search index in step with the notes."""
    search.reindex_case(vault, case_id)


def link_cases(vault: Vault, ref: str, other_ref: str, kind: str) -> str | None:
    """Relate two received cases; the kind of link this replaced, if any."""
    link_kind = rules.parse_link_kind(kind)
    case_id = _resolve(vault, ref)
    other_id = _resolve(vault, other_ref)
    if case_id == other_id:
        raise InvalidInput("a case cannot be linked to itself")
    _row(vault, case_id)
    _row(vault, other_id)
    actor = public_identity(vault).key_id
    with vault.transaction():
        replaced = store.link(vault, case_id, other_id, link_kind.value, actor=actor)
        record_event(
            vault,
            case_id,
            "linked",
            {"other_case_id": other_id, "kind": link_kind.value},
            actor=actor,
        )
    return replaced


STAT_FIELDS = tuple(store.STAT_DIMENSIONS)
DEFAULT_STATS = ("country",)


@dataclass(frozen=True)
class Stats:
    by: list[str]
    unit: str
    rows: list[dict[str, object]]
    total: int


def stats(vault: Vault, by: Sequence[str] = DEFAULT_STATS) -> Stats:
    """Counts of received cases by these dimensions. The unit is a case, or a case-act
    (case-mechanism) pair when acts (mechanisms) are counted, since a case has several;
    the total is the sum of the rows."""
    dims = list(dict.fromkeys(d.strip() for d in by if d.strip()))
    if not dims:
        raise InvalidInput(f"name at least one field to count by: {', '.join(STAT_FIELDS)}")
    unknown = [d for d in dims if d not in store.STAT_DIMENSIONS]
    if unknown:
        raise InvalidInput(
            f"cannot count by {', '.join(unknown)}; one of: {', '.join(STAT_FIELDS)}"
        )
    unit = "case"
    if "act" in dims and "mechanism" in dims:
        unit = "case-act-mechanism triple"
    elif "act" in dims:
        unit = "case-act pair"
    elif "mechanism" in dims:
        unit = "case-mechanism pair"
    counted = store.count_by(vault, dims)
    rows: list[dict[str, object]] = [
        {**{d: (v if v else "unknown") for d, v in zip(dims, values, strict=True)}, "count": n}
        for values, n in counted
    ]
    return Stats(dims, unit, rows, sum(n for _, n in counted))


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
    from reprisal_report.bundle.opening import open_bundle

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
                    "receipt": relay_receipt(vault, bundle.bundle_sha256),
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
