"""What an export reads: every received case's triage state, notes and follow-up
links; the latest bundle of the cases it needs (those it exports, in the main); the
leak gate's forms of each case's sensitive values, kept from when they were last
computed (migration 11); and the organisation's pseudonym key.

Gate forms are a cache that can never let a value through:

- each row names the content it was computed from (``source``: a digest of the case's
  latest bundle id and its notes, :func:`gate_source`) and the normalisation
  (``version``); the export uses a row only when both match what it reads now, and
  computes the forms again otherwise (a missing row is the same);
- triggers delete a case's row whenever its content changes under it, whoever writes:
  a new latest bundle, a record rewritten in place, a note added, edited or deleted;
- the import and note writers compute the new row at once (``workflows/export.py``,
  ``refresh_gate_forms``), so the next export finds it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # the store imports the migrations, which import this module
    from reprisal_report.vault.store import Vault

PSEUDONYM_KEY = "export-pseudonym-key:"

_FORGET = "DELETE FROM export_gate_forms WHERE case_id = {row}.case_id"

MIGRATION: list[str | Callable[[Any], None]] = [
    # One row per received case: the leak gate's forms of its sensitive values and
    # notes (as redact/records.py writes them), what names of the content they were computed
    # from, and the normalisation's version. Empty after the migration: the first
    # export computes and keeps the forms of every case it finds without a current row.
    """CREATE TABLE export_gate_forms (
        case_id TEXT PRIMARY KEY REFERENCES triage_cases(case_id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        version TEXT NOT NULL,
        forms TEXT NOT NULL
    )""",
    "CREATE TRIGGER export_gate_bundle AFTER UPDATE OF latest_bundle_id ON triage_cases "
    f"BEGIN {_FORGET.format(row='new')}; END",
    "CREATE TRIGGER export_gate_record AFTER UPDATE OF record, case_id ON inbox_bundles "
    f"BEGIN {_FORGET.format(row='old')}; {_FORGET.format(row='new')}; END",
    "CREATE TRIGGER export_gate_note_added AFTER INSERT ON triage_notes "
    f"BEGIN {_FORGET.format(row='new')}; END",
    "CREATE TRIGGER export_gate_note_changed AFTER UPDATE ON triage_notes "
    f"BEGIN {_FORGET.format(row='old')}; {_FORGET.format(row='new')}; END",
    "CREATE TRIGGER export_gate_note_deleted AFTER DELETE ON triage_notes "
    f"BEGIN {_FORGET.format(row='old')}; END",
]


class TriageRow(NamedTuple):
    """A received case's triage state (a named tuple: an export reads one per case)."""

    case_id: str
    bundle_id: str  # the latest bundle
    status: str
    risk: str
    consent: str
    received_at: str


def triage_rows(vault: Vault) -> list[TriageRow]:
    """Every received case, in the order exports list them."""
    rows = vault.conn.execute(
        "SELECT case_id, latest_bundle_id, status, risk, consent, first_received_at "
        "FROM triage_cases ORDER BY first_received_at, case_id"
    ).fetchall()
    return [TriageRow._make(map(str, r)) for r in rows]


@dataclass(frozen=True)
class BundleRow:
    """A latest bundle as the export reads it; record and salts parsed on first use."""

    bundle_id: str
    org_id: str
    record_text: str
    salts_text: str
    manifest: bytes
    signature: bytes
    author_key_id: str

    @functools.cached_property
    def record(self) -> dict[str, Any]:
        return parse_record(self.record_text)

    @functools.cached_property
    def salts(self) -> dict[str, str]:
        value: dict[str, str] = json.loads(self.salts_text)
        return value


def parse_record(text: str) -> dict[str, Any]:
    """A record text the vault stored (``inbox_bundles.record``)."""
    value: dict[str, Any] = json.loads(text)
    return value


def bundles(vault: Vault, bundle_ids: Sequence[str]) -> dict[str, BundleRow]:
    """The bundles named, by id."""
    rows = vault.conn.execute(
        "SELECT bundle_id, org_id, record, salts, manifest, signature, author_key_id "
        "FROM inbox_bundles WHERE bundle_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(bundle_ids)),),
    )
    return {
        str(r[0]): BundleRow(
            str(r[0]), str(r[1]), str(r[2]), str(r[3]), bytes(r[4]), bytes(r[5]), str(r[6])
        )
        for r in rows
    }


def gate_rows(vault: Vault) -> dict[str, tuple[str, str, str]]:
    """case id -> (source, version, forms text) of every kept row."""
    rows = vault.conn.execute("SELECT case_id, source, version, forms FROM export_gate_forms")
    # Every column is TEXT NOT NULL: the rows hold str already.
    return {case_id: (source, version, forms) for case_id, source, version, forms in rows}


def gate_source(bundle_id: str, notes: Sequence[str]) -> str:
    """What names the content a case's gate forms come from: its latest bundle (whose
    record is never rewritten; a trigger forgets the row if it were) and, when it has
    notes, the digest of each in order (length-prefixed, so no two lists share one)."""
    if not notes:
        return bundle_id
    digest = hashlib.sha256(b"reprisal-report gate notes v1\n")
    for note in notes:
        data = note.encode("utf-8", errors="surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return f"{bundle_id}\n{digest.hexdigest()}"


def case_content(vault: Vault, case_id: str) -> tuple[str, str, list[str]] | None:
    """One case's latest bundle id, record text and notes (None: no such case)."""
    row = vault.conn.execute(
        "SELECT b.bundle_id, b.record FROM triage_cases t "
        "JOIN inbox_bundles b ON b.bundle_id = t.latest_bundle_id WHERE t.case_id = ?",
        (case_id,),
    ).fetchone()
    if row is None:
        return None
    texts = vault.conn.execute(
        "SELECT text FROM triage_notes WHERE case_id = ? ORDER BY seq", (case_id,)
    ).fetchall()
    return str(row[0]), str(row[1]), [str(t[0]) for t in texts]


Dims = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]
"""What the statistics read of a case's record: its country as counted, its country as
written, its year, acts and mechanisms (``workflows/export.py``, ``_dims``)."""

ROW_FORMAT = "r1"  # a kept row's text: ROW_FORMAT, dims and forms, \x06 apart
_DIM, _TERM = "\x04", "\x03"


def dims_text(dims: Dims) -> str | None:
    """The dims as kept: the three values and the two lists, \x04 apart, the terms
    \x03 apart; None if a value holds a separator or a term is empty (the record is
    then read)."""
    country, written, year, acts, mechanisms = dims
    parts = [country, written, year, *acts, *mechanisms]
    if "" in acts or "" in mechanisms or any(c in p for p in parts for c in "\x03\x04\x06"):
        return None
    return _DIM.join([country, written, year, _TERM.join(acts), _TERM.join(mechanisms)])


def row_text(dims: Dims, forms: str) -> str:
    return f"{ROW_FORMAT}\x06{dims_text(dims) or ''}\x06{forms}"


def split_row(text: str) -> tuple[str, str] | None:
    """(dims text, forms text) of a kept row, or None if it is not of this format."""
    parts = text.split("\x06", 2)
    if len(parts) != 3 or parts[0] != ROW_FORMAT:
        return None
    return parts[1], parts[2]


def parse_dims(text: str) -> Dims | None:
    """The dims of a kept row, or None if there are none of that shape."""
    parts = text.split(_DIM)
    if len(parts) != 5:
        return None
    country, written, year, acts, mechanisms = parts
    return (
        country,
        written,
        year,
        tuple(acts.split(_TERM)) if acts else (),
        tuple(mechanisms.split(_TERM)) if mechanisms else (),
    )


def store_gate_forms(vault: Vault, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Keep (case id, source digest, version, forms text) rows, replacing a case's
    earlier row. Run inside a transaction."""
    vault.conn.executemany(
        "INSERT INTO export_gate_forms(case_id, source, version, forms) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(case_id) DO UPDATE SET source = excluded.source, "
        "version = excluded.version, forms = excluded.forms",
        rows,
    )


def forget_gate_forms(vault: Vault, case_ids: Sequence[str]) -> None:
    """Delete the kept gate forms of these cases (computed again when next needed).
    Run inside a transaction."""
    vault.conn.executemany(
        "DELETE FROM export_gate_forms WHERE case_id = ?", [(case_id,) for case_id in case_ids]
    )


def notes(vault: Vault) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for case_id, text in vault.conn.execute("SELECT case_id, text FROM triage_notes ORDER BY seq"):
        out.setdefault(str(case_id), []).append(str(text))
    return out


def follow_ups(vault: Vault) -> dict[str, str]:
    """case -> the case it follows up (one, the earliest link)."""
    out: dict[str, str] = {}
    for case_id, other in vault.conn.execute(
        "SELECT case_id, other_id FROM triage_links WHERE kind = 'follow_up' ORDER BY at"
    ):
        out.setdefault(str(case_id), str(other))
    return out


def pseudonym_key(vault: Vault, org_id: str, *, create: bool) -> bytes | None:
    """The org's export key (32 random bytes in the vault); made on first use."""
    key = vault.get_secret(PSEUDONYM_KEY + org_id)
    if key is None and create:
        key = secrets.token_bytes(32)
        with vault.transaction():
            vault.put_secret(PSEUDONYM_KEY + org_id, key)
    return key


def set_pseudonym_key(vault: Vault, org_id: str, key: bytes) -> bool:
    """Install an org's export key (from another coordinator); False if a different
    one is already there (it is never replaced: past pseudonyms would change)."""
    existing = vault.get_secret(PSEUDONYM_KEY + org_id)
    if existing is not None:
        return hmac.compare_digest(existing, key)
    with vault.transaction():
        vault.put_secret(PSEUDONYM_KEY + org_id, key)
    return True
