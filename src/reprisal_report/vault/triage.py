"""The coordinator's triage tables: one row per received case (the fields lists, filters
and statistics read, taken from the latest bundle at import), the acts, mechanisms and
victim keys beside it, status and assessment history, notes, links and possible
duplicates. All triage SQL lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reprisal_report.model import triage as rules
from reprisal_report.model.fold import fold
from reprisal_report.vault import inbox, search
from reprisal_report.vault.cases import utc_now
from reprisal_report.vault.store import Vault

# Who changed the current level when a newer bundle of the reporter narrowed it.
REPORTER_ACTOR = "reporter"
# Incidents this many days apart or closer (same country, a shared act) may be one.
INCIDENT_WINDOW_DAYS = 7
# At most this many possible duplicates are recorded per case and reason: a victim
# named in hundreds of cases (or a generated test vault) must not make every import
# cost more than the last.
MAX_DUPLICATES = 100
# Shorter victim keys (initials, one-letter aliases) are not compared for duplicates.
MIN_VICTIM_KEY = 4

# Migration 10: indexes that let a filtered page of `triage list` be found in an index
# alone (each ends in case_id, the listing's tie-break, so the index gives the whole
# order and the act filter's case ids are compared without reading the row), and the
# count of all matches too. Replaces the one-column risk and received indexes, which
# are prefixes of these.
MIGRATION: list[str] = [
    "DROP INDEX triage_cases_risk",
    "DROP INDEX triage_cases_received",
    # default sort (first received), alone or within a country
    "CREATE INDEX triage_cases_received_id ON triage_cases(first_received_at, case_id)",
    "CREATE INDEX triage_cases_country_received ON triage_cases(country, first_received_at,"
    " case_id)",
    # a risk level, in incident order (and with an act: the act's case ids are matched here)
    "CREATE INDEX triage_cases_risk_incident ON triage_cases(risk, incident_start, case_id)",
    # an incident date range: the days an incident can mean overlap it (see _where),
    # with what the default sort needs
    "CREATE INDEX triage_cases_incident_range ON triage_cases(incident_end, incident_start,"
    " first_received_at, case_id)",
]

CASE_COLUMNS = (
    "case_id, latest_bundle_id, title, country, incident_date, incident_start, incident_end,"
    " status, reporter_risk, reporter_consent, risk, consent, first_received_at, received_at,"
    " bundle_count, updated_at"
)


@dataclass(frozen=True)
class TriageCase:
    case_id: str
    latest_bundle_id: str
    title: str
    country: str
    incident_date: str
    incident_start: str
    incident_end: str
    status: str
    reporter_risk: str
    reporter_consent: str
    risk: str
    consent: str
    first_received_at: str
    received_at: str
    bundle_count: int
    updated_at: str


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: str
    actor: str
    field: str
    old: str | None
    new: str
    reason: str | None


@dataclass(frozen=True)
class Note:
    number: int
    at: str
    actor: str
    text: str


@dataclass(frozen=True)
class Link:
    case_id: str
    other_id: str
    kind: str
    at: str
    actor: str


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _terms(record: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    acts = {a for a in record.get("acts") or [] if isinstance(a, str)}
    mechanisms = {
        c["mechanism"]
        for c in record.get("cooperation") or []
        if isinstance(c, Mapping) and isinstance(c.get("mechanism"), str)
    }
    return acts, mechanisms


def victim_keys(record: Mapping[str, Any]) -> set[str]:
    """Normalised victim names and aliases (the search normalisation), for duplicates."""
    keys: set[str] = set()
    for victim in record.get("victims") or []:
        if not isinstance(victim, Mapping):
            continue
        names = [victim.get("name"), *(victim.get("aliases") or [])]
        for name in names:
            if isinstance(name, str):
                key = fold(name)
                if len(key.replace(" ", "")) >= MIN_VICTIM_KEY:
                    keys.add(key)
    return keys


def find(vault: Vault, case_id: str) -> TriageCase | None:
    row = vault.conn.execute(
        f"SELECT {CASE_COLUMNS} FROM triage_cases WHERE case_id = ?",  # noqa: S608
        (case_id,),
    ).fetchone()
    return None if row is None else TriageCase(*row)


def on_bundle(
    vault: Vault,
    case_id: str,
    verified: tuple[str, str] | None = None,
    *,
    index: bool = True,
) -> None:
    """Bring the case's row up to date after one of its bundles was stored; ``verified``
    names the new bundle and its org, whose card version (the one the import checked
    it against) is recorded. ``index`` false leaves the search index alone (migration 6
    runs before the index exists; migration 7 builds it).

    A first bundle makes the case ``received`` with the reporter's risk and consent as
    the current assessment. A later bundle refreshes the fields; if the reporter now
    asks for more protection (narrower consent, higher risk) than the current
    assessment, the current one follows, recorded as history; it never widens.
    """
    if verified is not None:
        bundle_id, org_id = verified
        vault.conn.execute(
            "INSERT OR REPLACE INTO triage_verifications(bundle_id, card_version) "
            "SELECT ?, version FROM orgs WHERE org_id = ?",
            (bundle_id, org_id),
        )
    bundles = inbox.bundles_for_case(vault, case_id)
    latest = bundles[-1]
    record = latest.record
    now = utc_now()
    date = _text(record.get("incident_date"))
    start, end = rules.incident_interval(date)
    fields = {
        "latest_bundle_id": latest.bundle_id,
        "title": _text(record.get("title")),
        "country": _text(record.get("country")).upper(),
        "incident_date": date,
        "incident_start": start,
        "incident_end": end,
        "reporter_risk": _text(record.get("risk")),
        "reporter_consent": _text(record.get("consent")),
        "first_received_at": min(b.received_at for b in bundles),
        "received_at": max(b.received_at for b in bundles),
        "bundle_count": len(bundles),
        "updated_at": now,
    }
    existing = find(vault, case_id)
    if existing is None:
        vault.conn.execute(
            f"INSERT INTO triage_cases({CASE_COLUMNS}) VALUES "  # noqa: S608
            "(:case_id, :latest_bundle_id, :title, :country, :incident_date, :incident_start,"
            " :incident_end, :status, :reporter_risk, :reporter_consent, :risk, :consent,"
            " :first_received_at, :received_at, :bundle_count, :updated_at)",
            {
                **fields,
                "case_id": case_id,
                "status": rules.Status.RECEIVED.value,
                "risk": fields["reporter_risk"],
                "consent": fields["reporter_consent"],
            },
        )
    else:
        assignments = ", ".join(f"{k} = :{k}" for k in fields)
        vault.conn.execute(
            f"UPDATE triage_cases SET {assignments} WHERE case_id = :case_id",  # noqa: S608
            {**fields, "case_id": case_id},
        )
        for field, current in (("risk", existing.risk), ("consent", existing.consent)):
            reported = str(fields[f"reporter_{field}"])
            if not reported:
                continue
            narrower = rules.more_protective(field, current, reported) if current else reported
            if narrower != current:
                set_level(
                    vault,
                    case_id,
                    field,
                    narrower,
                    actor=REPORTER_ACTOR,
                    reason="a newer bundle of the reporter asks for more protection",
                )
    _replace_terms(vault, case_id, record, fresh=existing is None)
    _refresh_duplicates(vault, case_id, fresh=existing is None)
    if index:
        search.reindex_case(vault, case_id)


def _replace_terms(vault: Vault, case_id: str, record: Mapping[str, Any], *, fresh: bool) -> None:
    acts, mechanisms = _terms(record)
    conn = vault.conn
    if not fresh:
        conn.execute("DELETE FROM triage_acts WHERE case_id = ?", (case_id,))
        conn.execute("DELETE FROM triage_mechanisms WHERE case_id = ?", (case_id,))
        conn.execute("DELETE FROM triage_victim_keys WHERE case_id = ?", (case_id,))
    conn.executemany(
        "INSERT INTO triage_acts(case_id, act) VALUES (?, ?)", [(case_id, a) for a in acts]
    )
    conn.executemany(
        "INSERT INTO triage_mechanisms(case_id, mechanism) VALUES (?, ?)",
        [(case_id, m) for m in mechanisms],
    )
    conn.executemany(
        "INSERT INTO triage_victim_keys(case_id, key) VALUES (?, ?)",
        [(case_id, k) for k in victim_keys(record)],
    )


def _refresh_duplicates(vault: Vault, case_id: str, *, fresh: bool) -> None:
    """Recompute the possible duplicates of one case, in both directions."""
    conn = vault.conn
    if not fresh:
        conn.execute("DELETE FROM triage_duplicates WHERE case_id = ?", (case_id,))
        conn.execute("DELETE FROM triage_duplicates WHERE other_id = ?", (case_id,))
    pairs: set[tuple[str, str]] = set()
    for (other,) in conn.execute(
        "SELECT DISTINCT o.case_id FROM triage_victim_keys v "
        "JOIN triage_victim_keys o ON o.key = v.key AND o.case_id <> v.case_id "
        "WHERE v.case_id = ? LIMIT ?",
        (case_id, MAX_DUPLICATES),
    ).fetchall():
        pairs.add((str(other), "victim"))
    row = find(vault, case_id)
    if row is not None and row.country and row.incident_start:
        low = rules.shift_day(row.incident_start, -INCIDENT_WINDOW_DAYS)
        high = rules.shift_day(row.incident_end, INCIDENT_WINDOW_DAYS)
        # An incident date means at most a year, so a case that started more than a
        # year before the window cannot reach it: the lower bound keeps the search to
        # one stretch of the (country, incident_start) index whatever the vault's size.
        earliest = rules.shift_day(low, -366)
        for (other,) in conn.execute(
            "SELECT t.case_id FROM triage_cases t "
            "WHERE t.country = ? AND t.incident_start >= ? AND t.incident_start <= ? "
            "AND t.incident_end >= ? AND t.case_id <> ? AND EXISTS ("
            "SELECT 1 FROM triage_acts a WHERE a.case_id = t.case_id AND a.act IN "
            "(SELECT act FROM triage_acts WHERE case_id = ?)) LIMIT ?",
            (row.country, earliest, high, low, case_id, case_id, MAX_DUPLICATES),
        ).fetchall():
            pairs.add((str(other), "incident"))
    conn.executemany(
        "INSERT OR IGNORE INTO triage_duplicates(case_id, other_id, reason) VALUES (?, ?, ?)",
        [
            (a, b, reason)
            for other, reason in pairs
            for a, b in ((case_id, other), (other, case_id))
        ],
    )


def duplicates_of(vault: Vault, case_id: str) -> list[tuple[str, str]]:
    """(other case, reason) pairs: cases sharing a victim or looking like the incident."""
    rows = vault.conn.execute(
        "SELECT other_id, reason FROM triage_duplicates WHERE case_id = ? "
        "ORDER BY other_id, reason",
        (case_id,),
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def set_status(vault: Vault, case_id: str, new: str, *, actor: str, reason: str | None) -> None:
    old = _current(vault, case_id, "status")
    vault.conn.execute(
        "UPDATE triage_cases SET status = ?, updated_at = ? WHERE case_id = ?",
        (new, utc_now(), case_id),
    )
    _history(vault, case_id, "status", old, new, actor, reason)


def set_level(
    vault: Vault, case_id: str, field: str, new: str, *, actor: str, reason: str | None
) -> None:
    """Change the current risk or consent assessment, keeping the old one as history."""
    if field not in ("risk", "consent"):
        raise ValueError(f"not an assessment field: {field}")
    old = _current(vault, case_id, field)
    vault.conn.execute(
        f"UPDATE triage_cases SET {field} = ?, updated_at = ? WHERE case_id = ?",  # noqa: S608
        (new, utc_now(), case_id),
    )
    _history(vault, case_id, field, old, new, actor, reason)


def _current(vault: Vault, case_id: str, field: str) -> str:
    row = vault.conn.execute(
        f"SELECT {field} FROM triage_cases WHERE case_id = ?",  # noqa: S608
        (case_id,),
    ).fetchone()
    if row is None:
        raise KeyError(case_id)
    return str(row[0])


def _history(
    vault: Vault,
    case_id: str,
    field: str,
    old: str | None,
    new: str,
    actor: str,
    reason: str | None,
) -> None:
    vault.conn.execute(
        "INSERT INTO triage_history(case_id, at, actor, field, old, new, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (case_id, utc_now(), actor, field, old, new, reason),
    )


def history(vault: Vault, case_id: str) -> list[HistoryEntry]:
    rows = vault.conn.execute(
        "SELECT seq, at, actor, field, old, new, reason FROM triage_history "
        "WHERE case_id = ? ORDER BY seq",
        (case_id,),
    ).fetchall()
    return [HistoryEntry(*r) for r in rows]


def add_note(vault: Vault, case_id: str, text: str, *, actor: str) -> int:
    row = vault.conn.execute(
        "INSERT INTO triage_notes(case_id, at, actor, text) VALUES (?, ?, ?, ?) RETURNING seq",
        (case_id, utc_now(), actor, text),
    ).fetchone()
    return int(row[0])


def notes(vault: Vault, case_id: str) -> list[Note]:
    """The case's notes, numbered from 1 in the order they were written."""
    rows = vault.conn.execute(
        "SELECT at, actor, text FROM triage_notes WHERE case_id = ? ORDER BY seq", (case_id,)
    ).fetchall()
    return [Note(i, str(at), str(actor), str(text)) for i, (at, actor, text) in enumerate(rows, 1)]


def _note_seq(vault: Vault, case_id: str, number: int) -> int | None:
    rows = vault.conn.execute(
        "SELECT seq FROM triage_notes WHERE case_id = ? ORDER BY seq", (case_id,)
    ).fetchall()
    return int(rows[number - 1][0]) if 1 <= number <= len(rows) else None


def replace_note(vault: Vault, case_id: str, number: int, text: str | None) -> bool:
    """Replace note ``number`` (from 1) with ``text``, or delete it when ``text`` is None;
    False when the case has no such note. The old words are gone from the vault:
    ``secure_delete`` zeroes the freed space."""
    seq = _note_seq(vault, case_id, number)
    if seq is None:
        return False
    if text is None:
        vault.conn.execute("DELETE FROM triage_notes WHERE seq = ?", (seq,))
    else:
        vault.conn.execute(
            "UPDATE triage_notes SET text = ?, at = ? WHERE seq = ?", (text, utc_now(), seq)
        )
    return True


def link(vault: Vault, case_id: str, other_id: str, kind: str, *, actor: str) -> str | None:
    """Relate ``case_id`` to ``other_id`` (one link per ordered pair, replaced when given
    again); the kind it replaced, if any."""
    row = vault.conn.execute(
        "SELECT kind FROM triage_links WHERE case_id = ? AND other_id = ?", (case_id, other_id)
    ).fetchone()
    vault.conn.execute(
        "INSERT INTO triage_links(case_id, other_id, kind, at, actor) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(case_id, other_id) DO UPDATE SET kind = excluded.kind, at = excluded.at, "
        "actor = excluded.actor",
        (case_id, other_id, kind, utc_now(), actor),
    )
    return None if row is None else str(row[0])


def links(vault: Vault, case_id: str) -> list[Link]:
    """Links from this case and to it."""
    rows = vault.conn.execute(
        "SELECT case_id, other_id, kind, at, actor FROM triage_links "
        "WHERE case_id = ? OR other_id = ? ORDER BY at, case_id, other_id",
        (case_id, case_id),
    ).fetchall()
    return [Link(*r) for r in rows]


# --- queries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    country: str | None = None
    risk: str | None = None
    consent: str | None = None
    act: str | None = None
    mechanism: str | None = None
    incident_from: str | None = None  # ISO day, inclusive
    incident_to: str | None = None
    received_from: str | None = None  # ISO day, inclusive
    received_to: str | None = None
    duplicates: bool = False
    follow_ups: bool = False


SORT_KEYS: dict[str, str] = {
    "received": "first_received_at",
    "updated": "received_at",
    "incident": "incident_start",
    "country": "country",
    "status": "status",
    "risk": "risk",
    "title": "title",
    "id": "case_id",
}


def _where(filters: Filters) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    for column in ("status", "country", "risk", "consent"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"t.{column} = ?")
            params.append(value)
    if filters.act is not None:
        clauses.append("t.case_id IN (SELECT case_id FROM triage_acts WHERE act = ?)")
        params.append(filters.act)
    if filters.mechanism is not None:
        clauses.append("t.case_id IN (SELECT case_id FROM triage_mechanisms WHERE mechanism = ?)")
        params.append(filters.mechanism)
    # An incident matches a date range when the days its date can mean overlap it.
    if filters.incident_from is not None:
        clauses.append("t.incident_end <> '' AND t.incident_end >= ?")
        params.append(filters.incident_from)
    if filters.incident_to is not None:
        clauses.append("t.incident_start <> '' AND t.incident_start <= ?")
        params.append(filters.incident_to)
    if filters.received_from is not None:
        clauses.append("substr(t.first_received_at, 1, 10) >= ?")
        params.append(filters.received_from)
    if filters.received_to is not None:
        clauses.append("substr(t.first_received_at, 1, 10) <= ?")
        params.append(filters.received_to)
    if filters.duplicates:
        clauses.append("t.case_id IN (SELECT case_id FROM triage_duplicates)")
    if filters.follow_ups:
        clauses.append("t.case_id IN (SELECT case_id FROM triage_links WHERE kind = 'follow_up')")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def query(
    vault: Vault,
    filters: Filters,
    *,
    sort: str = "received",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[TriageCase], int]:
    """One page of matching cases, and how many match in all."""
    where, params = _where(filters)
    column = SORT_KEYS[sort]
    direction = "DESC" if descending else "ASC"
    order = f" ORDER BY t.{column} {direction}, t.case_id {direction}"
    # Counted from an index alone where the filters allow (migration 10).
    total = int(
        vault.conn.execute(
            f"SELECT count(*) FROM triage_cases t{where}",  # noqa: S608
            params,
        ).fetchone()[0]
    )
    columns = ", ".join(f"t.{c.strip()}" for c in CASE_COLUMNS.split(","))
    if total == 0 or offset >= total:
        return [], total
    if limit is None and not offset:
        sql = f"SELECT {columns} FROM triage_cases t{where}{order}"  # noqa: S608
    else:
        # A page: its rows are chosen first (the sort keeps rowids, which an index can
        # give without reading a row), then only those rows are read, in the same order
        # (the sort column, then the unique case id: one order whatever the plan).
        wanted = offset + (limit if limit is not None else total)
        page = f" LIMIT {int(limit) if limit is not None else -1} OFFSET {int(offset)}"
        inner = order
        if where and 4 * total * total < wanted * _table_size(vault):
            # Few matches: walking the sort column's index would read about
            # wanted * size / total rows before the page is full, several times more
            # than sorting the matches found through the filter's index (a walk that
            # the filter's own index gives is cheap, hence the margin); a unary + keeps
            # SQLite from walking it (the order itself is the same).
            inner = f" ORDER BY +t.{column} {direction}, +t.case_id {direction}"
        sql = (
            f"SELECT {columns} FROM triage_cases t WHERE t.rowid IN ("  # noqa: S608
            f"SELECT t.rowid FROM triage_cases t{where}{inner}{page}){order}"
        )
    rows = vault.conn.execute(sql, params).fetchall()
    return [TriageCase(*r) for r in rows], total


def _table_size(vault: Vault) -> int:
    """About how many triage rows there are (the largest rowid: one index step)."""
    return int(vault.conn.execute("SELECT max(rowid) FROM triage_cases").fetchone()[0] or 0)


def flags_for(vault: Vault, case_ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
    """(possible duplicate, follow-up) for each of these cases, in two queries."""
    if not case_ids:
        return {}
    marks = ",".join("?" * len(case_ids))
    dup = {
        str(r[0])
        for r in vault.conn.execute(
            f"SELECT DISTINCT case_id FROM triage_duplicates WHERE case_id IN ({marks})",  # noqa: S608
            list(case_ids),
        )
    }
    follow = {
        str(r[0])
        for r in vault.conn.execute(
            "SELECT DISTINCT case_id FROM triage_links "  # noqa: S608
            f"WHERE kind = 'follow_up' AND case_id IN ({marks})",
            list(case_ids),
        )
    }
    return {c: (c in dup, c in follow) for c in case_ids}


def terms_of(vault: Vault, case_id: str) -> tuple[list[str], list[str]]:
    acts = [
        str(r[0])
        for r in vault.conn.execute(
            "SELECT act FROM triage_acts WHERE case_id = ? ORDER BY act", (case_id,)
        )
    ]
    mechanisms = [
        str(r[0])
        for r in vault.conn.execute(
            "SELECT mechanism FROM triage_mechanisms WHERE case_id = ? ORDER BY mechanism",
            (case_id,),
        )
    ]
    return acts, mechanisms


# Statistics dimensions: a single-valued column of the case row, or a multi-valued
# term table (counting case-term pairs).
STAT_DIMENSIONS: dict[str, str] = {
    "country": "t.country",
    "year": "substr(t.incident_start, 1, 4)",
    "status": "t.status",
    "risk": "t.risk",
    "act": "a.act",
    "mechanism": "m.mechanism",
}


def count_by(vault: Vault, dimensions: Sequence[str]) -> list[tuple[tuple[str, ...], int]]:
    """Counts grouped by these dimensions (see ``STAT_DIMENSIONS``): the counting unit
    is a case, or a case-act / case-mechanism pair when those are among them.

    Read from the counts the triggers of migration 6 keep (``stats_cases``,
    ``stats_terms``) for any set of case dimensions, and for one term dimension with at
    most one case dimension; other combinations count afresh (``count_by_scan``)."""
    terms = [d for d in dimensions if d in ("act", "mechanism")]
    others = [d for d in dimensions if d not in ("act", "mechanism")]
    if not terms:
        columns = ", ".join(others)
        rows = vault.conn.execute(
            f"SELECT {columns}, sum(n) FROM stats_cases GROUP BY {columns} "  # noqa: S608
            "HAVING sum(n) > 0"
        ).fetchall()
        found = [(tuple(str(v) for v in r[:-1]), int(r[-1])) for r in rows]
    elif len(terms) == 1 and len(others) <= 1:
        dimension = others[0] if others else ""
        rows = vault.conn.execute(
            "SELECT term, value, n FROM stats_terms WHERE kind = ? AND dimension = ? AND n > 0",
            (terms[0], dimension),
        ).fetchall()
        found = []
        for term, value, n in rows:
            by = {terms[0]: str(term), dimension: str(value)}
            found.append((tuple(by[d] for d in dimensions), int(n)))
    else:
        return count_by_scan(vault, dimensions)
    return sorted(found)


def count_by_scan(vault: Vault, dimensions: Sequence[str]) -> list[tuple[tuple[str, ...], int]]:
    """The same counts, grouped afresh from the case and term tables."""
    joins = ""
    if "act" in dimensions:
        joins += " JOIN triage_acts a ON a.case_id = t.case_id"
    if "mechanism" in dimensions:
        joins += " JOIN triage_mechanisms m ON m.case_id = t.case_id"
    selected = ", ".join(STAT_DIMENSIONS[d] for d in dimensions)
    groups = ", ".join(str(i) for i in range(1, len(dimensions) + 1))
    rows = vault.conn.execute(
        f"SELECT {selected}, count(*) FROM triage_cases t{joins} "  # noqa: S608
        f"GROUP BY {groups} ORDER BY {groups}"
    ).fetchall()
    return [(tuple(str(v) for v in r[:-1]), int(r[-1])) for r in rows]


def card_versions(vault: Vault, bundle_ids: Sequence[str]) -> dict[str, int]:
    """The org card version each bundle was verified against (bundles imported before
    this was recorded have none)."""
    out: dict[str, int] = {}
    for bundle_id in bundle_ids:
        row = vault.conn.execute(
            "SELECT card_version FROM triage_verifications WHERE bundle_id = ?", (bundle_id,)
        ).fetchone()
        if row is not None:
            out[bundle_id] = int(row[0])
    return out


def case_ids(vault: Vault) -> Iterable[str]:
    return [str(r[0]) for r in vault.conn.execute("SELECT case_id FROM triage_cases")]


# --- migration 6 ------------------------------------------------------------------------


def backfill(conn: Any) -> None:
    """Build the triage tables from a vault of an earlier release: every received case,
    its old status ('new', 'updated') as ``received``, an old risk or consent override
    as the current assessment (kept as history), and an old note as the first note."""
    vault = Vault(conn)
    old = {
        str(r[0]): r[1:]
        for r in conn.execute("SELECT case_id, risk, consent, note FROM triage").fetchall()
    }
    cases = [
        str(r[0])
        for r in conn.execute(
            "SELECT case_id FROM inbox_bundles GROUP BY case_id ORDER BY min(rowid)"
        ).fetchall()
    ]
    for case_id in cases:
        on_bundle(vault, case_id, index=False)
        risk, consent, note = old.get(case_id, (None, None, None))
        for field, value in (("risk", risk), ("consent", consent)):
            if value:
                set_level(
                    vault, case_id, field, str(value), actor="migration", reason="set before 0.2"
                )
        if note:
            add_note(vault, case_id, str(note), actor="migration")
