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
]
