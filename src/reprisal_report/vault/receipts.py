"""Relay receipts of received bundles: the relay's signed tree head and the inclusion
proof of the bundle's SHA-256 in it, kept by ``sync pull`` (migration 9).

A receipt is public data (hashes, a signature, a log index), stored as the canonical
JSON of ``Receipt.to_json()``; it proves the relay logged exactly these bytes, which an
auditor checks offline with ``audit verify-receipts``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reprisal_report.vault.store import Vault

MIGRATION: list[str | Callable[[Any], None]] = [
    """CREATE TABLE inbox_receipts (
        bundle_sha256 TEXT PRIMARY KEY,
        relay_url TEXT NOT NULL,
        receipt TEXT NOT NULL,
        stored_at TEXT NOT NULL
    )""",
]


def store(vault: Vault, rows: list[tuple[str, str, str]], at: str) -> None:
    """Keep (bundle SHA-256, relay URL, receipt text) rows; a bundle that already has a
    receipt keeps its first one."""
    vault.conn.executemany(
        "INSERT INTO inbox_receipts(bundle_sha256, relay_url, receipt, stored_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(bundle_sha256) DO NOTHING",
        [(sha, url, text, at) for sha, url, text in rows],
    )


def missing(vault: Vault, hashes: list[str]) -> list[tuple[str, str, str]]:
    """(SHA-256, bundle id, case id) of those of ``hashes`` that name a received bundle
    without a stored receipt."""
    rows = vault.conn.execute(
        "SELECT b.bundle_sha256, b.bundle_id, b.case_id FROM inbox_bundles b"
        " LEFT JOIN inbox_receipts r ON r.bundle_sha256 = b.bundle_sha256"
        " WHERE b.bundle_sha256 IN (SELECT value FROM json_each(?))"
        " AND r.bundle_sha256 IS NULL",
        (json.dumps(hashes),),
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def receipt_for(vault: Vault, sha256: str) -> tuple[str, str] | None:
    """(relay URL, receipt text) kept for the received bundle with this SHA-256."""
    row = vault.conn.execute(
        "SELECT relay_url, receipt FROM inbox_receipts WHERE bundle_sha256 = ?", (sha256,)
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def all_receipts(vault: Vault) -> dict[str, str]:
    """Receipt text by bundle SHA-256, every one kept."""
    rows = vault.conn.execute("SELECT bundle_sha256, receipt FROM inbox_receipts").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}
