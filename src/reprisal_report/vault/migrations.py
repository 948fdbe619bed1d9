"""Numbered schema migrations; the index in MIGRATIONS + 1 is the schema version.

Never edit a released migration: append a new one. A step is an SQL statement, or a
function given the connection (a backfill that needs Python, e.g. parsing records); each
migration runs in one transaction with its version row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reprisal_report.vault import custody, export, receipts, search

Step = str | Callable[[Any], None]


def _backfill_triage(conn: Any) -> None:
    # Imported here: the triage index module builds on the store, which imports this list.
    from reprisal_report.vault import triage

    triage.backfill(conn)


def _triage_indexes(conn: Any) -> None:
    # Imported here, as for the backfill above.
    from reprisal_report.vault import triage

    for sql in triage.MIGRATION:
        conn.execute(sql)


def _case_dims(row: str) -> str:
    return f"{row}.country, substr({row}.incident_start, 1, 4), {row}.status, {row}.risk"


def _term_rows(kind: str, case: str, term: str, sign: str) -> list[str]:
    """Upserts adding ``sign``1 to the per-term counts of one case-term pair."""
    out = []
    for dimension, value in (
        ("", "''"),
        ("country", "c0.country"),
        ("year", "substr(c0.incident_start, 1, 4)"),
        ("status", "c0.status"),
        ("risk", "c0.risk"),
    ):
        out.append(
            f"INSERT INTO stats_terms(kind, term, dimension, value, n) "  # noqa: S608
            f"SELECT '{kind}', {term}, '{dimension}', {value}, {sign}1 FROM triage_cases c0 "
            f"WHERE c0.case_id = {case}.case_id "
            f"ON CONFLICT(kind, dimension, term, value) DO UPDATE SET n = n {sign} 1;"
        )
    return out


# Each dimension of a case row before and after an update.
_MOVES = (
    "(SELECT 'country' AS dimension, OLD.country AS old, NEW.country AS new UNION ALL "
    "SELECT 'year', substr(OLD.incident_start, 1, 4), substr(NEW.incident_start, 1, 4) "
    "UNION ALL SELECT 'status', OLD.status, NEW.status UNION ALL "
    "SELECT 'risk', OLD.risk, NEW.risk)"
)


def _stats_triggers() -> list[str]:
    """The triggers that keep ``stats_cases`` and ``stats_terms`` equal to counting
    ``triage_cases``, ``triage_acts`` and ``triage_mechanisms`` afresh (a test checks)."""
    add_case = (
        "INSERT INTO stats_cases(country, year, status, risk, n) "  # noqa: S608
        f"VALUES ({_case_dims('NEW')}, 1) "
        "ON CONFLICT(country, year, status, risk) DO UPDATE SET n = n + 1;"
    )
    drop_case = (
        "UPDATE stats_cases SET n = n - 1 WHERE (country, year, status, risk) = "  # noqa: S608
        f"({_case_dims('OLD')});"
    )
    triggers = [
        f"CREATE TRIGGER stats_case_in AFTER INSERT ON triage_cases BEGIN {add_case} END",
        f"CREATE TRIGGER stats_case_out AFTER DELETE ON triage_cases BEGIN {drop_case} END",
    ]
    moved: list[str] = [drop_case, add_case]
    for kind, table, column in (
        ("act", "triage_acts", "act"),
        ("mechanism", "triage_mechanisms", "mechanism"),
    ):
        moved += [
            f"INSERT INTO stats_terms(kind, term, dimension, value, n) "  # noqa: S608
            f"SELECT '{kind}', x.{column}, d.dimension, d.old, -1 FROM {table} x, "
            f"{_MOVES} d "
            f"WHERE x.case_id = OLD.case_id AND d.old IS NOT d.new "
            f"ON CONFLICT(kind, dimension, term, value) DO UPDATE SET n = n - 1;",
            f"INSERT INTO stats_terms(kind, term, dimension, value, n) "  # noqa: S608
            f"SELECT '{kind}', x.{column}, d.dimension, d.new, 1 FROM {table} x, "
            f"{_MOVES} d "
            f"WHERE x.case_id = NEW.case_id AND d.old IS NOT d.new "
            f"ON CONFLICT(kind, dimension, term, value) DO UPDATE SET n = n + 1;",
        ]
        new_term = " ".join(_term_rows(kind, "NEW", f"NEW.{column}", "+"))
        old_term = " ".join(_term_rows(kind, "OLD", f"OLD.{column}", "-"))
        triggers += [
            f"CREATE TRIGGER stats_{kind}_in AFTER INSERT ON {table} BEGIN {new_term} END",
            f"CREATE TRIGGER stats_{kind}_out BEFORE DELETE ON {table} BEGIN {old_term} END",
        ]
    triggers.append(
        "CREATE TRIGGER stats_case_moved AFTER UPDATE OF country, incident_start, status, risk "
        f"ON triage_cases BEGIN {' '.join(moved)} END"
    )
    return triggers


MIGRATIONS: list[list[Step]] = [
    # 1: profile metadata, secrets, cases, attachments, custody events.
    [
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
        """CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            org_id TEXT,
            state TEXT NOT NULL CHECK (state IN ('draft', 'ready', 'sealed', 'purged')),
            record TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            original_sha256 TEXT NOT NULL,
            metadata TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX attachments_case ON attachments(case_id)",
        """CREATE TABLE attachment_chunks (
            attachment_id TEXT NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (attachment_id, seq)
        )""",
        """CREATE TABLE custody_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT,
            action TEXT NOT NULL,
            at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
    ],
    # 2: organisations this profile created or joined (pinned root key, current card).
    [
        """CREATE TABLE orgs (
            org_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            root_public BLOB NOT NULL,
            card BLOB NOT NULL,
            version INTEGER NOT NULL,
            expires TEXT NOT NULL,
            own INTEGER NOT NULL DEFAULT 0,
            pinned_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ],
    # 3: sealed bundles (reporter outbox) and received bundles (coordinator inbox).
    [
        "ALTER TABLE cases ADD COLUMN sealed_revision INTEGER",
        "ALTER TABLE cases ADD COLUMN last_bundle_id TEXT",
        """CREATE TABLE outbox (
            bundle_id TEXT PRIMARY KEY,
            case_id TEXT NOT NULL,
            org_id TEXT NOT NULL,
            case_revision INTEGER NOT NULL,
            previous_bundle_id TEXT,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'acknowledged')),
            receipt TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT
        )""",
        """CREATE TABLE inbox_bundles (
            bundle_id TEXT PRIMARY KEY,
            bundle_sha256 TEXT NOT NULL UNIQUE,
            case_id TEXT NOT NULL,
            org_id TEXT NOT NULL,
            author_key_id TEXT NOT NULL,
            previous_bundle_id TEXT,
            manifest BLOB NOT NULL,
            signature BLOB NOT NULL,
            record TEXT NOT NULL,
            salts TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""",
        "CREATE INDEX inbox_case ON inbox_bundles(case_id)",
        """CREATE TABLE inbox_attachments (
            id TEXT PRIMARY KEY,
            bundle_id TEXT NOT NULL REFERENCES inbox_bundles(bundle_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        )""",
        """CREATE TABLE inbox_chunks (
            attachment_id TEXT NOT NULL REFERENCES inbox_attachments(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (attachment_id, seq)
        )""",
        """CREATE TABLE triage (
            case_id TEXT PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'new',
            risk TEXT,
            consent TEXT,
            note TEXT,
            updated_at TEXT NOT NULL
        )""",
    ],
    # Reporter blob store: an attachment's bytes in an age file under blobs/, named
    # here; NULL for attachments of earlier releases, still read from attachment_chunks.
    [
        "ALTER TABLE attachments ADD COLUMN blob TEXT",
        "CREATE UNIQUE INDEX attachments_blob ON attachments(blob) WHERE blob IS NOT NULL",
    ],
    # Coordinator evidence store: the received bundle kept as a file under evidence/
    # (named here, with its size; NULL for bundles of earlier releases, whose
    # attachments stay in inbox_chunks) and each attachment's place in the container
    # (plaintext offset of its data record) instead of its bytes.
    [
        "ALTER TABLE inbox_bundles ADD COLUMN evidence_file TEXT",
        "ALTER TABLE inbox_bundles ADD COLUMN evidence_size INTEGER",
        "ALTER TABLE inbox_attachments ADD COLUMN data_offset INTEGER",
    ],
    # 6: the coordinator's triage workflow. One row per received case with the fields
    # that lists, filters and statistics read (from the latest bundle, so nothing parses
    # JSON per query); the reporter's risk and consent beside the current assessment;
    # every change as history; notes; links between cases; possible duplicates found at
    # import. Custody events gain their actor. The old one-row `triage` table is folded
    # in ('new' and 'updated' become 'received') and dropped.
    [
        "ALTER TABLE custody_events ADD COLUMN actor TEXT",
        """CREATE TABLE triage_cases (
            case_id TEXT PRIMARY KEY,
            latest_bundle_id TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            country TEXT NOT NULL DEFAULT '',
            incident_date TEXT NOT NULL DEFAULT '',
            incident_start TEXT NOT NULL DEFAULT '',
            incident_end TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('received', 'under_review', 'verified',
                'submitted_to_un', 'closed', 'rejected')),
            reporter_risk TEXT NOT NULL DEFAULT '',
            reporter_consent TEXT NOT NULL DEFAULT '',
            risk TEXT NOT NULL DEFAULT '',
            consent TEXT NOT NULL DEFAULT '',
            first_received_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            bundle_count INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX triage_cases_status ON triage_cases(status, first_received_at)",
        "CREATE INDEX triage_cases_country ON triage_cases(country, incident_start)",
        "CREATE INDEX triage_cases_incident ON triage_cases(incident_start)",
        "CREATE INDEX triage_cases_received ON triage_cases(first_received_at)",
        "CREATE INDEX triage_cases_risk ON triage_cases(risk)",
        "CREATE INDEX triage_cases_consent ON triage_cases(consent)",
        """CREATE TABLE triage_acts (
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            act TEXT NOT NULL,
            PRIMARY KEY (case_id, act)
        ) WITHOUT ROWID""",
        "CREATE INDEX triage_acts_act ON triage_acts(act, case_id)",
        """CREATE TABLE triage_mechanisms (
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            mechanism TEXT NOT NULL,
            PRIMARY KEY (case_id, mechanism)
        ) WITHOUT ROWID""",
        "CREATE INDEX triage_mechanisms_mechanism ON triage_mechanisms(mechanism, case_id)",
        """CREATE TABLE triage_victim_keys (
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            PRIMARY KEY (case_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX triage_victim_keys_key ON triage_victim_keys(key, case_id)",
        """CREATE TABLE triage_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            field TEXT NOT NULL CHECK (field IN ('status', 'risk', 'consent')),
            old TEXT,
            new TEXT NOT NULL,
            reason TEXT
        )""",
        "CREATE INDEX triage_history_case ON triage_history(case_id, seq)",
        """CREATE TABLE triage_notes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            text TEXT NOT NULL
        )""",
        "CREATE INDEX triage_notes_case ON triage_notes(case_id, seq)",
        """CREATE TABLE triage_links (
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            other_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('follow_up', 'duplicate', 'related')),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            PRIMARY KEY (case_id, other_id),
            CHECK (case_id <> other_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX triage_links_other ON triage_links(other_id, case_id)",
        """CREATE TABLE triage_duplicates (
            case_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            other_id TEXT NOT NULL REFERENCES triage_cases(case_id) ON DELETE CASCADE,
            reason TEXT NOT NULL CHECK (reason IN ('victim', 'incident')),
            PRIMARY KEY (case_id, other_id, reason),
            CHECK (case_id <> other_id)
        ) WITHOUT ROWID""",
        # Which version of the org card a bundle was verified against at import.
        """CREATE TABLE triage_verifications (
            bundle_id TEXT PRIMARY KEY REFERENCES inbox_bundles(bundle_id) ON DELETE CASCADE,
            card_version INTEGER NOT NULL
        )""",
        # Statistics kept as counts, up to date through triggers, so `triage stats`
        # reads a few thousand rows instead of grouping every case: one row per
        # (country, year, status, risk) with its number of cases, and for acts and
        # mechanisms one row per (term, other dimension, value) with its number of
        # case-term pairs ('' / '' for the term alone).
        """CREATE TABLE stats_cases (
            country TEXT NOT NULL,
            year TEXT NOT NULL,
            status TEXT NOT NULL,
            risk TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (country, year, status, risk)
        ) WITHOUT ROWID""",
        """CREATE TABLE stats_terms (
            kind TEXT NOT NULL CHECK (kind IN ('act', 'mechanism')),
            term TEXT NOT NULL,
            dimension TEXT NOT NULL CHECK (dimension IN ('', 'country', 'year', 'status', 'risk')),
            value TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (kind, dimension, term, value)
        ) WITHOUT ROWID""",
        *_stats_triggers(),
        _backfill_triage,
        "DROP TABLE triage",
    ],
    # 7: full-text search over received cases (FTS5, secure-delete; vault/search.py),
    # built for every case already received.
    search.MIGRATION,
    # 8: the custody log (hash-chained, signed entries; checkpoints) and every version
    # of each org card; earlier custody events become the first entries (vault/custody.py).
    custody.MIGRATION,
    # 9: relay receipts (tree head + inclusion proof) of bundles pulled from a relay
    # (vault/receipts.py).
    receipts.MIGRATION,
    # 10: indexes that give a filtered page of `triage list`, and the count of its
    # matches, from an index alone (vault/triage.py).
    [_triage_indexes],
    # 11: the leak gate's forms of each received case's sensitive values, naming the
    # content (latest bundle, notes) and the normalisation they come from, forgotten by
    # triggers when that content changes (vault/export.py); filled by imports, note
    # changes and the first export.
    export.MIGRATION,
]
