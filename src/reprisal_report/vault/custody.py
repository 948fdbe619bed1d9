"""The custody log inside the vault: hash-chained entries signed by this profile's key,
its checkpoints, and every version of each org card (docs/audit.md).

``vault.cases.record_event`` is the one writer of entries: it calls :func:`append` in
the transaction of the action it records. An entry is the canonical JSON of::

    {"actor", "case_id", "detail", "event", "index", "prev", "time"[, "migrated"]}

signed with Ed25519 over ``ENTRY_DOMAIN || entry``; ``prev`` is the SHA-256 (hex) of
the previous entry's bytes (``null`` for entry 0). ``detail`` is :func:`public_detail`
of what the caller recorded: ids, hashes, counts and names of fields, never case
content. The tables refuse UPDATE and DELETE, so nothing here rewrites an entry.

The signing key is read from the vault's secrets by its row name (the vault layer sits
below ``identity``, which owns that key; a unit test checks the names agree).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nacl.signing

from reprisal_report import clock
from reprisal_report.errors import CorruptVault
from reprisal_report.model.canonical import CanonicalError, canonical_json, parse_canonical

if TYPE_CHECKING:
    from collections.abc import Callable

    from reprisal_report.vault.store import Vault

ENTRY_DOMAIN = b"reprisal-report/custody-entry/1\x00"
# The row of ``identity.keys.SIGNING_SECRET`` (a test checks they are equal).
SIGNING_SECRET = "identity/ed25519-seed"  # noqa: S105 - a row name, not a secret
ENTRY_FIELDS = frozenset({"actor", "case_id", "detail", "event", "index", "prev", "time"})
MAX_DETAIL_BYTES = 64 * 1024

# What of a caller's detail goes into the log as it is: ids, hashes, counts, names of
# fields, states, booleans. Each is a value the code chose, never text a person typed
# about a case. Anything else is left out and its key listed under "omitted".
KEPT = frozenset(
    {
        "attachment",
        "bundle_id",
        "cases",
        "checkpoint_size",
        "evidence",
        "fields",
        "format",
        "from",
        "high_risk_cases",
        "high_risk_reason_sha256",
        "kind",
        "log_index",
        "org_id",
        "other_case_id",
        "profile",
        "reason_given",
        "receipt_verified",
        "revision",
        "role",
        "sha256",
        "state",
        "to",
        "version",
        "withheld",
    }
)
# Free text a coordinator typed (why plaintext left the vault): only its SHA-256.
HASHED = frozenset({"purpose"})


def key_id(public_key: bytes) -> str:
    """The key id of ``identity.fingerprint.key_id`` (first 10 bytes of SHA-256,
    lower-case base32); repeated here because the vault sits below ``identity``."""
    digest = hashlib.sha256(public_key).digest()[:10]
    return base64.b32encode(digest).decode("ascii").lower()


def _safe(value: object, depth: int = 0) -> bool:
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, str):
        return len(value) <= 512
    if depth < 2 and isinstance(value, list):
        return all(_safe(v, depth + 1) for v in value)
    if depth < 2 and isinstance(value, dict):
        return all(isinstance(k, str) and _safe(v, depth + 1) for k, v in value.items())
    return False


def public_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """The part of ``detail`` that may leave the vault in the log (module docstring).

    ``files`` (name and hash of each file written out) keeps the hashes only: a file
    name can carry a person's name, and an unsalted hash of a short name is guessable.
    """
    out: dict[str, Any] = {}
    omitted: list[str] = []
    for key, value in detail.items():
        if key in KEPT and _safe(value):
            out[key] = value
        elif key in HASHED and isinstance(value, str):
            out[f"{key}_sha256"] = hashlib.sha256(value.encode("utf-8")).hexdigest()
        elif key == "files" and isinstance(value, list):
            out["files"] = [
                f["sha256"]
                for f in value
                if isinstance(f, dict) and isinstance(f.get("sha256"), str)
            ]
        else:
            omitted.append(key)
    if omitted:
        out["omitted"] = sorted(omitted)
    return out


@dataclass(frozen=True)
class StoredEntry:
    index: int
    entry: bytes
    hash: bytes
    signature: bytes


def _signing_key(conn: Any) -> nacl.signing.SigningKey:
    row = conn.execute("SELECT value FROM secrets WHERE name = ?", (SIGNING_SECRET,)).fetchone()
    if row is None or len(bytes(row[0])) != 32:
        raise CorruptVault("this profile has no signing key to sign its custody log")
    return nacl.signing.SigningKey(bytes(row[0]))


def _now() -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _append(
    conn: Any,
    key: nacl.signing.SigningKey,
    *,
    case_id: str | None,
    event: str,
    detail: dict[str, Any],
    at: str,
    migrated: str | None = None,
) -> int:
    last = conn.execute(
        "SELECT idx, hash, at FROM custody_log ORDER BY idx DESC LIMIT 1"
    ).fetchone()
    index = 0 if last is None else int(last[0]) + 1
    # Never before the previous entry: a clock set back (or a test moving it) would
    # otherwise write a log whose times go backwards (docs/audit.md, clock claims).
    if last is not None and str(last[2]) > at:
        at = str(last[2])
    entry: dict[str, Any] = {
        "actor": key_id(bytes(key.verify_key)),
        "case_id": case_id,
        "detail": public_detail(detail),
        "event": event,
        "index": index,
        "prev": None if last is None else bytes(last[1]).hex(),
        "time": at,
    }
    if migrated is not None:
        entry["migrated"] = migrated
    data = canonical_json(entry)
    signature = key.sign(ENTRY_DOMAIN + data).signature
    conn.execute(
        "INSERT INTO custody_log(idx, entry, hash, signature, at) VALUES (?, ?, ?, ?, ?)",
        (index, data, hashlib.sha256(data).digest(), bytes(signature), at),
    )
    return index


def append(vault: Vault, case_id: str | None, event: str, detail: dict[str, Any], at: str) -> int:
    """Sign and append one entry (the caller holds the transaction); return its index."""
    key = _signing_key(vault.conn)
    return _append(vault.conn, key, case_id=case_id, event=event, detail=detail, at=at)


def _stored(row: tuple[Any, ...]) -> StoredEntry:
    return StoredEntry(int(row[0]), bytes(row[1]), bytes(row[2]), bytes(row[3]))


def entries(vault: Vault, since: int = 0) -> list[StoredEntry]:
    """Entries from index ``since`` on, in order."""
    rows = vault.conn.execute(
        "SELECT idx, entry, hash, signature FROM custody_log WHERE idx >= ? ORDER BY idx",
        (since,),
    ).fetchall()
    return [_stored(r) for r in rows]


def size(vault: Vault) -> int:
    row = vault.conn.execute("SELECT max(idx) FROM custody_log").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def leaves(vault: Vault) -> list[bytes]:
    """Every entry's bytes, in order (the Merkle tree's leaf data)."""
    rows = vault.conn.execute("SELECT entry FROM custody_log ORDER BY idx").fetchall()
    return [bytes(r[0]) for r in rows]


# --- checkpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    made_at: str


def store_checkpoint(vault: Vault, tree_size: int, root: bytes, note: str) -> None:
    """Keep a signed checkpoint; one per tree size (the same bytes if signed again)."""
    vault.conn.execute(
        "INSERT INTO custody_checkpoints(size, root, note, made_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(size) DO NOTHING",
        (tree_size, root, note, _now()),
    )


def checkpoints(vault: Vault) -> list[StoredCheckpoint]:
    rows = vault.conn.execute(
        "SELECT size, root, note, made_at FROM custody_checkpoints ORDER BY size"
    ).fetchall()
    return [StoredCheckpoint(int(r[0]), bytes(r[1]), str(r[2]), str(r[3])) for r in rows]


# --- org card history -------------------------------------------------------------------


def record_card(vault: Vault, org_id: str, version: int, card: bytes) -> None:
    """Keep this signed version of an org card (called wherever a card is stored)."""
    vault.conn.execute(
        "INSERT INTO org_card_history(org_id, version, card, stored_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(org_id, version) DO NOTHING",
        (org_id, version, card, _now()),
    )


def card_history(vault: Vault, org_id: str) -> list[bytes]:
    """Every stored version of the org's card, oldest first."""
    rows = vault.conn.execute(
        "SELECT card FROM org_card_history WHERE org_id = ? ORDER BY version", (org_id,)
    ).fetchall()
    return [bytes(r[0]) for r in rows]


# --- in-vault evidence, for the receipt checks ---------------------------------------------


def received_bundles(vault: Vault) -> list[tuple[str, str, str | None]]:
    """(bundle id, bundle SHA-256, evidence file name or None) of every received bundle."""
    rows = vault.conn.execute(
        "SELECT bundle_id, bundle_sha256, evidence_file FROM inbox_bundles"
        " ORDER BY received_at, bundle_id"
    ).fetchall()
    return [(str(r[0]), str(r[1]), None if r[2] is None else str(r[2])) for r in rows]


def meta_with_prefix(vault: Vault, prefix: str) -> list[tuple[str, str]]:
    """(key, value) of the profile's settings whose key starts with ``prefix`` (the
    relay tree heads ``sync push`` keeps as ``relay-sth:URL``)."""
    rows = vault.conn.execute(
        "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
        (len(prefix), prefix),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


# --- migration 8 ------------------------------------------------------------------------


def _backfill(conn: Any) -> None:
    """Chain the custody events of earlier releases: each becomes an entry, in order,
    with its own time and ``migrated`` (when it was signed), signed now by this
    profile's key. A vault without events (a new profile) starts an empty chain."""
    events = conn.execute(
        "SELECT case_id, action, at, detail FROM custody_events ORDER BY seq"
    ).fetchall()
    if not events:
        return
    key = _signing_key(conn)
    signed_at = _now()
    for case_id, action, at, detail in events:
        try:
            parsed = parse_canonical(str(detail).encode("utf-8"), MAX_DETAIL_BYTES)
        except CanonicalError:
            parsed = {}
        _append(
            conn,
            key,
            case_id=case_id,
            event=str(action),
            detail=parsed if isinstance(parsed, dict) else {},
            at=str(at),
            migrated=signed_at,
        )


def _append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


MIGRATION: list[str | Callable[[Any], None]] = [
    """CREATE TABLE custody_log (
        idx INTEGER PRIMARY KEY,
        entry BLOB NOT NULL,
        hash BLOB NOT NULL,
        signature BLOB NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE TABLE custody_checkpoints (
        size INTEGER PRIMARY KEY,
        root BLOB NOT NULL,
        note TEXT NOT NULL,
        made_at TEXT NOT NULL
    )""",
    """CREATE TABLE org_card_history (
        org_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        card BLOB NOT NULL,
        stored_at TEXT NOT NULL,
        PRIMARY KEY (org_id, version)
    )""",
    "INSERT INTO org_card_history(org_id, version, card, stored_at)"
    " SELECT org_id, version, card, updated_at FROM orgs",
    _backfill,
    *_append_only("custody_log"),
    *_append_only("custody_checkpoints"),
    *_append_only("org_card_history"),
]
