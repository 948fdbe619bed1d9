"""JSON shapes exchanged between the relay and its clients (besides receipts).

A bundle entry, as ``GET /v1/bundles`` lists it and ``POST /v1/bundles/{sha256}/ack``
answers it::

    {"sha256": hex64, "index": int, "size": int, "acknowledged": bool, "held": bool}

``acknowledged`` is per coordinator: true once the coordinator asking has acknowledged
this bundle. ``held`` says whether the relay still holds its bytes; it deletes them once
every active coordinator acknowledged the bundle, or when its retention period ends.
Parsing is exact (no missing or extra field), so a relay cannot smuggle in meaning.

A batch acknowledgement (``POST /v1/bundles/acks``) carries the canonical JSON body::

    {"bundles": [hex64, ...]}        1 to MAX_ACK_BATCH distinct hashes

and is answered ``{"bundles": [entry, ...]}``, one entry per hash in the order asked.
The body is covered by the request signature (``X-RR-Body-SHA256``) like every body;
being canonical, it has one spelling, so the same list cannot be sent twice under two
different hashes.

Inclusion proofs in a batch (``POST /v1/log/inclusions``, any log reader) take the
canonical body::

    {"indexes": [int, ...], "tree_size": int}   1 to MAX_INCLUSION_BATCH distinct indexes

and are answered ``{"proofs": [{"bundle_sha256": hex64, "index": int, "proof": [hex64,
...]}, ...], "tree_size": int}``, one per index in the order asked: what ``GET
/v1/log/inclusion`` gives for one index, for many in one round trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reprisal_report.errors import RelayAnswerInvalid, RelayRequestRejected
from reprisal_report.model.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalError,
    canonical_json,
    parse_canonical,
)
from reprisal_report.protocol.receipts import MAX_PROOF_HASHES

SHA256_PATTERN = "^[0-9a-f]{64}$"
SHA256 = re.compile(r"[0-9a-f]{64}")
ENTRY_FIELDS = frozenset({"sha256", "index", "size", "acknowledged", "held"})
LIST_FIELDS = frozenset({"bundles", "tree_size"})
BATCH_FIELDS = frozenset({"bundles"})
# Hashes per batch acknowledgement. Its body (about 67 bytes a hash) stays well under
# the 64 KiB the relay reads for a request that is not an upload.
MAX_ACK_BATCH = 500
MAX_ACK_BODY = 64 * 1024
INCLUSIONS_FIELDS = frozenset({"indexes", "tree_size"})
PROOFS_FIELDS = frozenset({"proofs", "tree_size"})
PROOF_FIELDS = frozenset({"bundle_sha256", "index", "proof"})
# Indexes per batch of inclusion proofs: a body of at most 500 integers (under 9 KiB);
# the answer, about 1.5 KiB a proof, well under the client's 16 MiB for JSON.
MAX_INCLUSION_BATCH = 500


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


# --- batch acknowledgements ----------------------------------------------------------------


def ack_batch_body(hashes: list[str] | tuple[str, ...]) -> bytes:
    """The canonical request body acknowledging ``hashes`` (1 to MAX_ACK_BATCH, distinct)."""
    if not 0 < len(hashes) <= MAX_ACK_BATCH:
        raise ValueError(f"a batch acknowledges 1 to {MAX_ACK_BATCH} bundles")
    if len(set(hashes)) != len(hashes):
        raise ValueError("a batch names each bundle once")
    for sha256 in hashes:
        if not isinstance(sha256, str) or SHA256.fullmatch(sha256) is None:
            raise ValueError("a bundle hash is 64 lower-case hex digits")
    return canonical_json({"bundles": list(hashes)})


def _read_body(body: bytes, what: str) -> object:
    """A small canonical JSON request body: 413 over MAX_ACK_BODY bytes, 400 if it is
    not canonical JSON; ``what`` names it in the message."""
    try:
        return parse_canonical(body, MAX_ACK_BODY)
    except CanonicalError as exc:
        if exc.reason == "too-large":
            raise RelayRequestRejected(413, f"{what} larger than {MAX_ACK_BODY} bytes") from None
        raise RelayRequestRejected(400, f"{what} is not canonical JSON") from None


def parse_ack_batch(body: bytes) -> tuple[str, ...]:
    """The hashes of a batch acknowledgement (relay side).

    ``RelayRequestRejected`` 413 for more than MAX_ACK_BATCH hashes or a body over
    MAX_ACK_BODY bytes, 400 for anything else that is not exactly the documented shape:
    not canonical JSON, other fields, an empty list, a malformed or repeated hash.
    """
    doc = _read_body(body, "acknowledgement body")
    if not isinstance(doc, dict) or set(doc) != BATCH_FIELDS:
        raise RelayRequestRejected(400, 'acknowledgement body must be {"bundles": [...]}')
    items = doc["bundles"]
    if not isinstance(items, list) or not items:
        raise RelayRequestRejected(400, "acknowledgement names no bundle")
    if len(items) > MAX_ACK_BATCH:
        raise RelayRequestRejected(
            413, f"at most {MAX_ACK_BATCH} bundles per acknowledgement, not {len(items)}"
        )
    for item in items:
        if not isinstance(item, str) or SHA256.fullmatch(item) is None:
            raise RelayRequestRejected(400, "acknowledgement holds something that is not a hash")
    if len(set(items)) != len(items):
        raise RelayRequestRejected(400, "acknowledgement names a bundle twice")
    return tuple(items)


def ack_batch_answer(entries: list[BundleEntry]) -> dict[str, Any]:
    return {"bundles": [entry_json(e) for e in entries]}


def parse_ack_answer(doc: object, asked: list[str] | tuple[str, ...]) -> list[BundleEntry]:
    """The relay's answer to a batch acknowledgement (client side).

    Exactly one entry per hash asked, in the order asked, each acknowledged; anything
    else is ``RelayAnswerInvalid``, so an answer cannot claim other bundles.
    """
    if not isinstance(doc, dict) or set(doc) != BATCH_FIELDS:
        raise RelayAnswerInvalid("relay acknowledgement answer does not have the expected fields")
    items = doc["bundles"]
    if not isinstance(items, list) or len(items) != len(asked):
        raise RelayAnswerInvalid("relay acknowledged a different number of bundles")
    entries = [parse_entry(item) for item in items]
    for entry, sha256 in zip(entries, asked, strict=True):
        if entry.sha256 != sha256 or not entry.acknowledged:
            raise RelayAnswerInvalid("relay did not acknowledge the bundles asked")
    return entries


def inclusions_body(indexes: list[int] | tuple[int, ...], tree_size: int) -> bytes:
    """The canonical request body asking the inclusion proofs of ``indexes``."""
    if not 0 < len(indexes) <= MAX_INCLUSION_BATCH:
        raise ValueError(f"a batch asks 1 to {MAX_INCLUSION_BATCH} inclusion proofs")
    if len(set(indexes)) != len(indexes):
        raise ValueError("a batch names each index once")
    if not 0 < tree_size <= MAX_SAFE_INTEGER or not all(0 <= i < tree_size for i in indexes):
        raise ValueError("each index lies inside the tree")
    return canonical_json({"indexes": list(indexes), "tree_size": tree_size})


def parse_inclusions(body: bytes) -> tuple[tuple[int, ...], int]:
    """(indexes, tree size) of a batch of inclusion proofs asked (relay side).

    ``RelayRequestRejected`` 413 for more than MAX_INCLUSION_BATCH indexes or a body over
    MAX_ACK_BODY bytes, 400 for anything not exactly the documented shape (the relay
    checks the sizes against its log itself).
    """
    doc = _read_body(body, "inclusion request")
    if not isinstance(doc, dict) or set(doc) != INCLUSIONS_FIELDS:
        raise RelayRequestRejected(
            400, 'inclusion request must be {"indexes": [...], "tree_size": n}'
        )
    indexes, tree_size = doc["indexes"], doc["tree_size"]
    if type(tree_size) is not int or not 0 < tree_size <= MAX_SAFE_INTEGER:
        raise RelayRequestRejected(400, "tree_size is not a positive integer")
    if not isinstance(indexes, list) or not indexes:
        raise RelayRequestRejected(400, "inclusion request names no index")
    if len(indexes) > MAX_INCLUSION_BATCH:
        raise RelayRequestRejected(
            413, f"at most {MAX_INCLUSION_BATCH} indexes per request, not {len(indexes)}"
        )
    for index in indexes:
        if type(index) is not int or not 0 <= index < tree_size:
            raise RelayRequestRejected(400, "an index is not an integer inside the tree")
    if len(set(indexes)) != len(indexes):
        raise RelayRequestRejected(400, "inclusion request names an index twice")
    return tuple(indexes), tree_size


def inclusions_answer(tree_size: int, proofs: list[tuple[int, str, list[bytes]]]) -> dict[str, Any]:
    return {
        "proofs": [
            {"bundle_sha256": sha256, "index": index, "proof": [p.hex() for p in proof]}
            for index, sha256, proof in proofs
        ],
        "tree_size": tree_size,
    }


def parse_proof_hashes(value: object) -> list[bytes]:
    """A proof as the relay sends it: at most MAX_PROOF_HASHES hex SHA-256 hashes."""
    if not isinstance(value, list) or len(value) > MAX_PROOF_HASHES:
        raise RelayAnswerInvalid("relay proof is not a list of hashes")
    out: list[bytes] = []
    for item in value:
        if not isinstance(item, str) or SHA256.fullmatch(item) is None:
            raise RelayAnswerInvalid("relay proof holds something that is not a hash")
        out.append(bytes.fromhex(item))
    return out


def parse_inclusions_answer(
    doc: object, asked: list[int] | tuple[int, ...], tree_size: int
) -> list[tuple[str, list[bytes]]]:
    """(bundle hash, proof) per index asked, in that order (client side): exactly the
    indexes and tree size asked, or ``RelayAnswerInvalid``. The proofs are not checked
    here; a receipt built from one is (``protocol.receipts``)."""
    if not isinstance(doc, dict) or set(doc) != PROOFS_FIELDS:
        raise RelayAnswerInvalid("relay inclusion proofs do not have the expected fields")
    if doc["tree_size"] != tree_size or type(doc["tree_size"]) is not int:
        raise RelayAnswerInvalid("relay answered for another tree size")
    items = doc["proofs"]
    if not isinstance(items, list) or len(items) != len(asked):
        raise RelayAnswerInvalid("relay sent a different number of inclusion proofs")
    out: list[tuple[str, list[bytes]]] = []
    for item, index in zip(items, asked, strict=True):
        if not isinstance(item, dict) or set(item) != PROOF_FIELDS:
            raise RelayAnswerInvalid("relay inclusion proof does not have the expected fields")
        if type(item["index"]) is not int or item["index"] != index:
            raise RelayAnswerInvalid("relay sent inclusion proofs for other indexes")
        sha256 = item["bundle_sha256"]
        if not isinstance(sha256, str) or SHA256.fullmatch(sha256) is None:
            raise RelayAnswerInvalid("relay inclusion proof names no bundle hash")
        out.append((sha256, parse_proof_hashes(item["proof"])))
    return out
