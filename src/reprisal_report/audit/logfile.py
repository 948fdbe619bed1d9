"""The custody log file that ``audit log`` writes and ``audit verify-log`` reads.

JSON Lines: every line is one canonical JSON object and a newline, in this order::

    {"type": "header", "format": FORMAT, "origin": O, "first": N, "size": S}
    {"type": "entry", "entry": {...}, "hash": HEX, "signature": BASE64}     entries N..S-1
    {"type": "checkpoint", "size": s, "note": SIGNED_NOTE}                  ascending s
    {"type": "consistency", "from": s, "to": S, "proof": [HEX, ...]}        each s, 0<s<S

``entry`` is the entry as signed (its canonical encoding is the signed bytes); ``hash``
is their SHA-256. The checkpoints are every one the vault holds (the last is of all S
entries, made when the file is written); the consistency proofs (RFC 9162) lead from
each earlier checkpoint to the last, for a reader that holds a checkpoint but not the
entries it covers (an export names one). docs/audit.md specifies each field.
"""

from __future__ import annotations

from typing import Any

from reprisal_report.audit.checkpoint import make_checkpoint, tree_of
from reprisal_report.errors import InvalidInput
from reprisal_report.model.canonical import b64encode, canonical_json, parse_canonical
from reprisal_report.vault import custody
from reprisal_report.vault.store import Vault

FORMAT = "reprisal-report/custody-log/1"
MAX_LINE_BYTES = 256 * 1024


def line(doc: dict[str, Any]) -> bytes:
    return canonical_json(doc) + b"\n"


def write_log(vault: Vault, since: int = 0) -> tuple[bytes, int, int]:
    """The log file from entry ``since`` on, with a fresh checkpoint of the whole log;
    returns (bytes, first index, size)."""
    if since < 0:
        raise InvalidInput("a log starts at an entry index, 0 or more")
    with vault.transaction():
        latest = make_checkpoint(vault)
        size = latest.size
        if since > size:
            raise InvalidInput(f"the custody log has {size} entries; entry {since} is past its end")
        tree = tree_of(vault)
        stored = custody.checkpoints(vault)
        rows = custody.entries(vault, since)
    out = [
        line(
            {
                "type": "header",
                "format": FORMAT,
                "origin": latest.origin,
                "first": since,
                "size": size,
            }
        )
    ]
    for row in rows:
        out.append(
            line(
                {
                    "type": "entry",
                    "entry": parse_canonical(row.entry, MAX_LINE_BYTES),
                    "hash": row.hash.hex(),
                    "signature": b64encode(row.signature),
                }
            )
        )
    for kept in stored:
        if kept.size <= size:
            out.append(line({"type": "checkpoint", "size": kept.size, "note": kept.note}))
    for kept in stored:
        if 0 < kept.size < size:
            proof = tree.consistency_proof(kept.size, size)
            out.append(
                line(
                    {
                        "type": "consistency",
                        "from": kept.size,
                        "to": size,
                        "proof": [p.hex() for p in proof],
                    }
                )
            )
    return b"".join(out), since, size
