"""Reading canonical JSON back, strictly: one document has exactly one encoding.

Everything a bundle signs or commits to is canonical JSON
(:func:`reprisal_report.model.canonical.canonical_json`). A reader re-encodes what it
parsed and compares bytes, so duplicate keys, whitespace, escapes, floats, a byte
order mark or any other second spelling of the same content is refused: a signed
document cannot be made to look different without breaking its signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, NoReturn

from reprisal_report.errors import BundleMalformed
from reprisal_report.model.canonical import canonical_json


def load_canonical(data: bytes, what: str, max_bytes: int) -> Any:
    """Parse ``data`` as canonical JSON or raise :class:`BundleMalformed` naming ``what``."""
    if len(data) > max_bytes:
        raise BundleMalformed(f"bundle {what} is larger than allowed")
    try:
        doc = json.loads(
            data.decode("utf-8"), parse_float=_refuse_number, parse_constant=_refuse_number
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleMalformed(f"bundle {what} is not valid json") from None
    try:
        canonical = canonical_json(doc)
    except (TypeError, ValueError, RecursionError):
        raise BundleMalformed(f"bundle {what} holds values a bundle cannot hold") from None
    if canonical != data:
        raise BundleMalformed(f"bundle {what} is not canonically encoded")
    return doc


def _refuse_number(text: str) -> NoReturn:
    # Floats and NaN/Infinity have no single text form; canonical JSON has none.
    raise ValueError("non-integer numbers are not allowed")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, what: str, length: int) -> bytes:
    """Decode canonical base64 of exactly ``length`` bytes, or raise BundleMalformed."""
    if not isinstance(text, str):
        raise BundleMalformed(f"bundle {what} is not base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BundleMalformed(f"bundle {what} is not valid base64") from None
    # Re-encoding catches non-zero trailing bits, the one malleability base64 has.
    if len(raw) != length or b64encode(raw) != text:
        raise BundleMalformed(f"bundle {what} is not canonical base64 of {length} bytes")
    return raw
