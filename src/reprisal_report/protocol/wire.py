"""JSON shapes exchanged between the relay and its clients (besides receipts).

A bundle entry, as ``GET /v1/bundles`` lists it and ``POST /v1/bundles/{sha256}/ack``
answers it::

    {"sha256": hex64, "index": int, "size": int, "acknowledged": bool, "held": bool}

``acknowledged`` is per coordinator: true once the coordinator asking has acknowledged
this bundle. ``held`` says whether the relay still holds its bytes; it deletes them once
every active coordinator acknowledged the bundle, or when its retention period ends.
Parsing is exact (no missing or extra field), so a relay cannot smuggle in meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reprisal_report.errors import RelayAnswerInvalid
from reprisal_report.model.canonical import MAX_SAFE_INTEGER

SHA256_PATTERN = "^[0-9a-f]{64}$"
SHA256 = re.compile(r"[0-9a-f]{64}")
ENTRY_FIELDS = frozenset({"sha256", "index", "size", "acknowledged", "held"})
LIST_FIELDS = frozenset({"bundles", "tree_size"})


@dataclass(frozen=True)
class BundleEntry:
    sha256: str
    index: int
    size: int
    # By the coordinator who asked (acknowledgements are per coordinator).
    acknowledged: bool
    # False once the relay deleted the bytes (every coordinator acked, or retention).
    held: bool = True


def entry_json(entry: BundleEntry) -> dict[str, Any]:
    return {
        "sha256": entry.sha256,
        "index": entry.index,
        "size": entry.size,
        "acknowledged": entry.acknowledged,
        "held": entry.held,
    }


def parse_entry(item: object) -> BundleEntry:
    """A bundle entry from a relay answer; ``RelayAnswerInvalid`` unless exact."""
    if not isinstance(item, dict) or set(item) != ENTRY_FIELDS:
        raise RelayAnswerInvalid("relay bundle entry does not have the expected fields")
    sha256, index, size = item["sha256"], item["index"], item["size"]
    acked, held = item["acknowledged"], item["held"]
    if (
        not isinstance(sha256, str)
        or SHA256.fullmatch(sha256) is None
        or type(index) is not int
        or not 0 <= index <= MAX_SAFE_INTEGER
        or type(size) is not int
        or not 0 < size <= MAX_SAFE_INTEGER
        or type(acked) is not bool
        or type(held) is not bool
    ):
        raise RelayAnswerInvalid("relay bundle entry is malformed")
    return BundleEntry(sha256, index, size, acked, held)
