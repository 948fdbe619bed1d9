"""Reading canonical JSON back, strictly: one document has exactly one encoding.

Everything a bundle signs or commits to is canonical JSON
(:func:`reprisal_report.model.canonical.canonical_json`). A reader re-encodes what it
parsed and compares bytes, so duplicate keys, whitespace, escapes, floats, a byte
order mark or any other second spelling of the same content is refused: a signed
document cannot be made to look different without breaking its signature.

The rules live in :mod:`reprisal_report.model.canonical` (one reader for cards and
bundles); this module only words their errors for bundles.
"""

from __future__ import annotations

from typing import Any

from reprisal_report.errors import BundleMalformed
from reprisal_report.model import canonical
from reprisal_report.model.canonical import CanonicalError

_DOCUMENT_PROBLEMS = {
    "too-large": "is larger than allowed",
    "not-json": "is not valid json",
    "bad-values": "holds values a bundle cannot hold",
    "not-canonical": "is not canonically encoded",
}


def load_canonical(data: bytes, what: str, max_bytes: int) -> Any:
    """Parse ``data`` as canonical JSON or raise :class:`BundleMalformed` naming ``what``."""
    try:
        return canonical.parse_canonical(data, max_bytes)
    except CanonicalError as exc:
        raise BundleMalformed(f"bundle {what} {_DOCUMENT_PROBLEMS[exc.reason]}") from None


b64encode = canonical.b64encode


def b64decode(text: object, what: str, length: int) -> bytes:
    """Decode canonical base64 of exactly ``length`` bytes, or raise BundleMalformed."""
    try:
        return canonical.b64decode(text, length)
    except CanonicalError as exc:
        if exc.reason == "not-text":
            raise BundleMalformed(f"bundle {what} is not base64 text") from None
        if exc.reason == "not-base64":
            raise BundleMalformed(f"bundle {what} is not valid base64") from None
        raise BundleMalformed(f"bundle {what} is not canonical base64 of {length} bytes") from None
