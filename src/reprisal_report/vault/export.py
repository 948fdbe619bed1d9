"""What an export reads: every received case with its latest bundle, triage state,
notes and follow-up links, in one pass; and the organisation's pseudonym key."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reprisal_report.vault.store import Vault

PSEUDONYM_KEY = "export-pseudonym-key:"


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    org_id: str
    status: str
    risk: str
    consent: str
    record: dict[str, Any]
    salts: dict[str, str]
    manifest: bytes
    signature: bytes
    author_key_id: str
    received_at: str


def cases(vault: Vault) -> Iterator[CaseRow]:
    rows = vault.conn.execute(
        "SELECT t.case_id, b.org_id, t.status, t.risk, t.consent, b.record, b.salts, "
        "b.manifest, b.signature, b.author_key_id, t.first_received_at "
        "FROM triage_cases t JOIN inbox_bundles b ON b.bundle_id = t.latest_bundle_id "
        "ORDER BY t.first_received_at, t.case_id"
    )
    for r in rows:
        yield CaseRow(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            json.loads(r[5]),
            json.loads(r[6]),
            bytes(r[7]),
            bytes(r[8]),
            str(r[9]),
            str(r[10]),
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
