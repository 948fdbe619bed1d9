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
