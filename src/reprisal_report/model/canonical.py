"""Canonical JSON: the one byte encoding that signatures and commitments cover.

Rules (docs/bundle-format.md restates them for other implementations):

- values are objects with text keys, arrays, text, integers, ``true``, ``false``
  and ``null``; nothing else (no floats: their text form is not stable across
  implementations);
- integers lie in the I-JSON safe range ``-(2**53 - 1) .. 2**53 - 1``;
- text is valid Unicode (no lone surrogates) and is **not** normalised, so it
  round-trips byte for byte;
- object keys are sorted by code point, no whitespace between tokens
  (separators ``,`` and ``:``), non-ASCII written as UTF-8 rather than ``\\u``
  escapes; the escapes json emits for ``"``, ``\\`` and C0 controls are fixed;
- output is UTF-8 without a byte order mark or trailing newline.

Anything outside these rules is a programming error and raises ``TypeError``;
user input is validated long before it gets here.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Final

MAX_SAFE_INTEGER: Final = 2**53 - 1
# Far deeper than any record we encode; stops cycles and runaway recursion early.
MAX_DEPTH: Final = 64
_ALLOWED_TYPES: Final = frozenset({type(None), bool, int, str, list, dict})


def canonical_json(obj: object) -> bytes:
    """Encode ``obj`` as canonical JSON bytes (see the module docstring)."""
    _check(obj, 0)
    text = json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def _check(obj: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TypeError("canonical json: nesting too deep")
    # Exact types only: subclasses (IntEnum, str enums, OrderedDict ...) may
    # serialise differently, so they are refused rather than guessed at.
    if type(obj) not in _ALLOWED_TYPES:
        raise TypeError(f"canonical json: cannot encode {type(obj).__name__}")
    if obj is None or isinstance(obj, bool):
        return
    if isinstance(obj, int):
        if not -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
            raise TypeError("canonical json: integer outside the safe range")
    elif isinstance(obj, str):
        _check_text(obj)
    elif isinstance(obj, list):
        for item in obj:
            _check(item, depth + 1)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if type(key) is not str:
                raise TypeError("canonical json: object keys must be str")
            _check_text(key)
            _check(value, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError("canonical json: text is not valid unicode (lone surrogate)") from None


# --- reading back ------------------------------------------------------------------------
# One strict reader for every signed or committed document (cards, manifests, records):
# callers wrap ``CanonicalError`` in their own error class with their own wording.


class CanonicalError(ValueError):
    """Bytes that are not the one canonical encoding; ``reason`` says which rule broke.

    Reasons: ``too-large``, ``not-json``, ``bad-values``, ``not-canonical`` (documents);
    ``not-text``, ``not-base64``, ``wrong-length``, ``not-canonical`` (base64).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_canonical(data: bytes, max_bytes: int) -> object:
    """Parse ``data`` and insist that it is exactly the canonical encoding of what it holds.

    Duplicate keys, whitespace, escapes, floats, NaN, a byte order mark, lone surrogates
    or any other second spelling of the same content raise :class:`CanonicalError`.
    The size is checked before anything is parsed.
    """
    if len(data) > max_bytes:
        raise CanonicalError("too-large")
    try:
        doc = json.loads(
            data.decode("utf-8"), parse_float=_refuse_number, parse_constant=_refuse_number
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CanonicalError("not-json") from None
    try:
        canonical = canonical_json(doc)
    except (TypeError, ValueError, RecursionError):
        raise CanonicalError("bad-values") from None
    if canonical != data:
        raise CanonicalError("not-canonical")
    return doc


def _refuse_number(text: str) -> object:
    # Floats and NaN/Infinity have no single text form; canonical JSON has none.
    raise ValueError("non-integer numbers are not allowed")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, length: int | None = None) -> bytes:
    """Decode canonical base64 (of exactly ``length`` bytes when given).

    Re-encoding catches non-zero trailing bits, the one malleability base64 has.
    """
    if not isinstance(text, str):
        raise CanonicalError("not-text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CanonicalError("not-base64") from None
    if length is not None and len(raw) != length:
        raise CanonicalError("wrong-length")
    if b64encode(raw) != text:
        raise CanonicalError("not-canonical")
    return raw
