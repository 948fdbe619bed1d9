"""Numbered schema migrations; the index in MIGRATIONS + 1 is the schema version.

Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
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
]
