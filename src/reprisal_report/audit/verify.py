"""``audit verify-log``: check a custody log file with public data only.

Checks, in file order, stopping at the first failure (which names the entry):
the header; each entry's index (none missing, none out of place), its hash, the
previous-entry hash, its signature by the key it names, its time (never before the
previous entry's), the event type, and that the signer held a role that may sign that
event at that time (org card history, ``audit.history``, ``audit.rules``); then each
checkpoint's signature, the checkpoints' roots against the entries, and the
consistency proofs. With an earlier log (``--since``), the earlier log must verify by
itself, and the new one must hold the same entries and extend every checkpoint the
earlier one had.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nacl.exceptions
import nacl.signing

from reprisal_report.audit.checkpoint import origin_key_id
from reprisal_report.audit.history import CardHistory
from reprisal_report.audit.logfile import FORMAT, MAX_LINE_BYTES
from reprisal_report.audit.note import NoteInvalid, parse_checkpoint
from reprisal_report.audit.rules import EVENT_ROLES
from reprisal_report.errors import CardInvalid, VerificationError
from reprisal_report.identity import encoding as enc
from reprisal_report.model.canonical import CanonicalError, b64decode, canonical_json
from reprisal_report.model.canonical import parse_canonical as _parse
from reprisal_report.protocol import merkle
from reprisal_report.vault.custody import ENTRY_DOMAIN, ENTRY_FIELDS

_HEX = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[a-z2-7]{16}")
_EVENT = re.compile(r"[a-z][a-z0-9-]{0,63}")


class LogVerificationFailed(VerificationError):
    """A custody log (or the earlier log it must extend) did not verify."""


@dataclass(frozen=True)
class Failure:
    where: str  # "entry 7", "checkpoint 256", "header", "earlier log: entry 3"
    reason: str

    def line(self) -> str:
        return f"FAIL: {self.where}: {self.reason}"


class _Stop(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.failure = Failure(where, reason)


@dataclass
class LogReport:
    origin: str = ""
    first: int = 0
    size: int = 0
    events: Counter[str] = field(default_factory=Counter)
    signers: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_time: str | None = None
    last_time: str | None = None
    checkpoints: int = 0
    earlier_size: int | None = None
    org_id: str = ""
    org_name: str = ""
    card_versions: list[int] = field(default_factory=list)
    root_fingerprint: str = ""
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "first": self.first,
            "size": self.size,
            "entries": sum(self.events.values()),
            "events": dict(sorted(self.events.items())),
            "signers": self.signers,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "checkpoints": self.checkpoints,
            "earlier_size": self.earlier_size,
            "org": {
                "org_id": self.org_id,
                "name": self.org_name,
                "card_versions": self.card_versions,
                "root_fingerprint": self.root_fingerprint,
            },
            "failure": None
            if self.failure is None
            else {"where": self.failure.where, "reason": self.failure.reason},
        }


@dataclass
class _Log:
    """What a verified log holds, for a later log to be checked against."""

    origin: str
    first: int
    size: int
    leaves: list[bytes]  # entry bytes from index ``first`` on
    hashes: list[bytes]
    times: list[datetime]
    checkpoints: dict[int, bytes]  # size -> root


def _doc(raw: bytes, where: str) -> dict[str, Any]:
    try:
        doc = _parse(raw, MAX_LINE_BYTES)
    except CanonicalError:
        raise _Stop(where, "not a line of a custody log (canonical JSON)") from None
    if not isinstance(doc, dict):
        raise _Stop(where, "not a line of a custody log (a JSON object)")
    return doc


def _exact(doc: dict[str, Any], keys: set[str], where: str, what: str) -> None:
    if set(doc) != keys:
        raise _Stop(where, f"not {what} (its fields differ)")


def _count(doc: dict[str, Any], key: str, where: str) -> int:
    value = doc[key]
    if type(value) is not int or value < 0:
        raise _Stop(where, f"{key} is not a count")
    return value


def _lines(data: bytes) -> list[bytes]:
    """The lines; a last one without its newline is kept, so the entry it cuts short is
    the one named (``run`` still fails a file that lacks only the final newline)."""
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def _key(history: CardHistory, kid: str, where: str) -> bytes:
    public = history.public_key(kid)
    if public is None:
        raise _Stop(where, f"signed by key {kid}, which no version of the org card lists")
    return public


def _header(raw: bytes) -> tuple[str, int, int]:
    doc = _doc(raw, "header")
    if doc.get("type") != "header":
        raise _Stop("header", "the file does not start with a custody log header")
    _exact(doc, {"type", "format", "origin", "first", "size"}, "header", "a log header")
    if doc["format"] != FORMAT:
        raise _Stop("header", "unknown log format")
    origin = doc["origin"]
    if not isinstance(origin, str) or origin_key_id(origin) is None:
        raise _Stop("header", "the origin does not name a custody log")
    first, size = _count(doc, "first", "header"), _count(doc, "size", "header")
    if first > size:
        raise _Stop("header", "the first entry lies past the log's size")
    return origin, first, size


class _Checker:
    def __init__(self, history: CardHistory, report: LogReport, base: _Log | None) -> None:
        self.history = history
        self.report = report
        self.base = base

    def run(self, data: bytes) -> _Log:
        lines = _lines(data)
        if not lines:
            raise _Stop("header", "the file is empty")
        origin, first, size = _header(lines[0])
        base = self.base
        if base is not None and base.origin != origin:
            raise _Stop("header", "the earlier log is of another profile's key")
        log = _Log(origin, first, size, [], [], [], {})
        self.report.origin, self.report.first, self.report.size = origin, first, size
        prev_hash: bytes | None = None
        prev_time: datetime | None = None
        if first > 0:
            if base is None:
                raise _Stop(
                    "entry 0",
                    f"not in this log, which starts at entry {first}: verify it with "
                    "the earlier log it continues",
                )
            if base.size < first:
                raise _Stop(
                    f"entry {base.size}",
                    f"missing: the earlier log ends before this one starts at entry {first}",
                )
            prev_hash, prev_time = base.hashes[first - 1], base.times[first - 1]
        at = 1
        while at < len(lines) and len(log.leaves) < size - first:
            index = first + len(log.leaves)
            doc = _doc(lines[at], f"entry {index}")
            if doc.get("type") != "entry":
                break
            prev_hash, prev_time = self.entry(doc, index, prev_hash, prev_time, log)
            at += 1
        seen = first + len(log.leaves)
        if seen < size:
            raise _Stop(f"entry {seen}", f"missing (the log's header counts {size} entries)")
        if base is not None and size < base.size:
            raise _Stop(
                f"entry {size}",
                f"missing: the earlier log holds {base.size} entries, this one {size}",
            )
        at = self.checkpoints(lines, at, log)
        at = self.proofs(lines, at, log)
        if at < len(lines):
            raise _Stop("file", f"line {at + 1} follows the consistency proofs")
        if not data.endswith(b"\n"):
            raise _Stop("file", "does not end with a newline (cut short?)")
        self.roots(log)
        return log

    def entry(
        self,
        doc: dict[str, Any],
        index: int,
        prev_hash: bytes | None,
        prev_time: datetime | None,
        log: _Log,
    ) -> tuple[bytes, datetime]:
        where = f"entry {index}"
        _exact(doc, {"type", "entry", "hash", "signature"}, where, "an entry line")
        entry = doc["entry"]
        if not isinstance(entry, dict) or not ENTRY_FIELDS <= set(entry) <= {
            *ENTRY_FIELDS,
            "migrated",
        }:
            raise _Stop(where, "not a custody log entry (its fields differ)")
        found = entry["index"]
        if type(found) is not int or found != index:
            if type(found) is int and found > index:
                raise _Stop(where, f"missing (entry {found} is in its place)")
            raise _Stop(where, f"missing or out of place (entry {found!r} is in its place)")
        data = canonical_json(entry)
        digest = hashlib.sha256(data).digest()
        if not isinstance(doc["hash"], str) or not hmac.compare_digest(doc["hash"], digest.hex()):
            raise _Stop(where, "its hash does not match its content")
        base = self.base
        if (
            base is not None
            and index < base.size
            and not hmac.compare_digest(base.hashes[index], digest)
        ):
            raise _Stop(where, "differs from the earlier log: history was rewritten")
        expected_prev = None if prev_hash is None else prev_hash.hex()
        if entry["prev"] != expected_prev:
            raise _Stop(where, f"does not follow entry {index - 1} (previous-entry hash differs)")
        actor = entry["actor"]
        if not isinstance(actor, str) or _KEY_ID.fullmatch(actor) is None:
            raise _Stop(where, "the actor is not a key id")
        public = _key(self.history, actor, where)
        try:
            signature = b64decode(doc["signature"], 64)
            nacl.signing.VerifyKey(public).verify(ENTRY_DOMAIN + data, signature)
        except (CanonicalError, nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
            raise _Stop(where, f"the signature by key {actor} does not verify") from None
        try:
            when = enc.parse_time(entry["time"])
            if "migrated" in entry:
                enc.parse_time(entry["migrated"])
        except CardInvalid:
            raise _Stop(where, "its time is not a timestamp") from None
        if prev_time is not None and when < prev_time:
            raise _Stop(where, f"its time goes back before entry {index - 1}'s")
        event = entry["event"]
        if not isinstance(event, str) or _EVENT.fullmatch(event) is None:
            raise _Stop(where, "the event is not an event name")
        if event not in EVENT_ROLES:
            raise _Stop(where, f"unknown event {event}")
        case_id = entry["case_id"]
        if not (case_id is None or isinstance(case_id, str)) or not isinstance(
            entry["detail"], dict
        ):
            raise _Stop(where, "case_id or detail has the wrong type")
        role = self.role(actor, event, when, entry["time"], where)
        self.note(actor, role, event, entry["time"])
        log.leaves.append(data)
        log.hashes.append(digest)
        log.times.append(when)
        return digest, when

    def role(self, actor: str, event: str, when: datetime, text: str, where: str) -> str | None:
        standing = self.history.standing(actor, when)
        needed = EVENT_ROLES[event]
        if needed is None:
            return standing.role
        if standing.revoked_at is not None:
            raise _Stop(
                where, f"signed by key {actor}, revoked at {standing.revoked_at}, before {text}"
            )
        if standing.role is None:
            raise _Stop(where, f"signed by key {actor}, which was not enrolled at {text}")
        if standing.role not in needed:
            wanted = " or ".join(sorted(needed))
            raise _Stop(
                where,
                f"{event} needs a {wanted}; key {actor} was a {standing.role} at {text}",
            )
        return standing.role

    def note(self, actor: str, role: str | None, event: str, text: str) -> None:
        report = self.report
        report.events[event] += 1
        signer = report.signers.setdefault(
            actor, {"role": None, "label": self.history.label(actor), "entries": 0}
        )
        signer["entries"] += 1
        signer["role"] = role or signer["role"]
        report.first_time = report.first_time or text
        report.last_time = text

    def checkpoints(self, lines: list[bytes], at: int, log: _Log) -> int:
        kid = origin_key_id(log.origin) or ""
        public: bytes | None = None
        last = -1
        while at < len(lines):
            where = "checkpoint line"
            doc = _doc(lines[at], where)
            if doc.get("type") == "entry" and not log.checkpoints:
                raise _Stop(f"entry {log.size}", "past the size the log's header gives")
            if doc.get("type") != "checkpoint":
                break
            _exact(doc, {"type", "size", "note"}, where, "a checkpoint line")
            size = _count(doc, "size", where)
            where = f"checkpoint {size}"
            if size <= last:
                raise _Stop(where, "checkpoints out of order or repeated")
            if size > log.size or not isinstance(doc["note"], str):
                raise _Stop(where, "larger than the log, or not a note")
            public = public or _key(self.history, kid, where)
            try:
                checkpoint = parse_checkpoint(doc["note"], log.origin, public)
            except NoteInvalid as exc:
                raise _Stop(where, str(exc)) from None
            if checkpoint.size != size:
                raise _Stop(where, f"the note is of {checkpoint.size} entries")
            log.checkpoints[size] = checkpoint.root
            last = size
            at += 1
        if last != log.size:
            raise _Stop("checkpoint", f"the log has no checkpoint of its {log.size} entries")
        self.report.checkpoints = len(log.checkpoints)
        return at

    def proofs(self, lines: list[bytes], at: int, log: _Log) -> int:
        wanted = [s for s in sorted(log.checkpoints) if 0 < s < log.size]
        for size in wanted:
            where = f"checkpoint {size}"
            if at >= len(lines):
                raise _Stop(where, "no consistency proof leads from it to the latest checkpoint")
            doc = _doc(lines[at], where)
            if doc.get("type") != "consistency":
                raise _Stop(where, "no consistency proof leads from it to the latest checkpoint")
            _exact(doc, {"type", "from", "to", "proof"}, where, "a consistency line")
            if doc["from"] != size or doc["to"] != log.size:
                raise _Stop(where, "the consistency proofs are not one per checkpoint, in order")
            proof = doc["proof"]
            if not isinstance(proof, list) or not all(
                isinstance(p, str) and _HEX.fullmatch(p) for p in proof
            ):
                raise _Stop(where, "the consistency proof is not a list of hashes")
            ok = merkle.verify_consistency(
                size,
                log.size,
                log.checkpoints[size],
                log.checkpoints[log.size],
                [bytes.fromhex(p) for p in proof],
            )
            if not ok:
                raise _Stop(where, "the consistency proof to the latest checkpoint fails")
            at += 1
        return at

    def roots(self, log: _Log) -> None:
        prefix = [] if self.base is None else self.base.leaves[: log.first]
        tree = merkle.MerkleTree([*prefix, *log.leaves])
        for size, root in sorted(log.checkpoints.items()):
            if not hmac.compare_digest(tree.root(size), root):
                raise _Stop(f"checkpoint {size}", "its root hash does not match the entries")
        if self.base is not None:
            for size, root in sorted(self.base.checkpoints.items()):
                if not hmac.compare_digest(tree.root(size), root):
                    raise _Stop(
                        f"checkpoint {size}",
                        "this log does not extend the earlier log's checkpoint: "
                        "history was rewritten",
                    )
            self.report.earlier_size = self.base.size


def verify_log(data: bytes, history: CardHistory, earlier: bytes | None = None) -> LogReport:
    """Check ``data`` (and that it extends ``earlier``); the report says OK or the first
    failure. Never raises for what the files hold."""
    card = history.latest
    report = LogReport(
        org_id=card.org_id,
        org_name=card.name,
        card_versions=history.versions,
        root_fingerprint=card.root_fingerprint,
    )
    try:
        base: _Log | None = None
        if earlier is not None:
            try:
                base = _Checker(history, LogReport(), None).run(earlier)
            except _Stop as stop:
                where = f"earlier log: {stop.failure.where}"
                raise _Stop(where, stop.failure.reason) from None
        _Checker(history, report, base).run(data)
    except _Stop as stop:
        report.failure = stop.failure
    return report
