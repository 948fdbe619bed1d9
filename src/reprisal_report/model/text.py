"""Making untrusted text safe to show: nothing in it is ever interpreted.

Card labels, org ids, courier-chosen file names and anything else that came from
outside reach messages through :func:`visible`, which replaces every character a
terminal could act on or that hides or reorders text (controls, bidi overrides and
isolates, zero-width and other format characters, line and paragraph separators,
private-use, surrogate and unassigned code points) with a visible ``\\u{XXXX}``
escape. Ordinary spaces and printable characters pass unchanged, so a clean
label reads as written. A backslash is left as is: the escape form is only for
reading, never parsed back.

:func:`non_printing` answers whether a character is one of those; card readers
use it to refuse such text outright rather than show it escaped.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Categories of characters that are never shown raw (see the module docstring).
NON_PRINTING_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def non_printing(char: str) -> bool:
    """True for a control, format, separator, private-use, surrogate or unassigned char.

    Any whitespace other than the ordinary space (U+0020) counts too, so tabs,
    no-break and ideographic spaces cannot pad or disguise a line.
    """
    if char == " ":
        return False
    category = unicodedata.category(char)
    return category in NON_PRINTING_CATEGORIES or category == "Zs"


def first_non_printing(text: str) -> str | None:
    """The first character of ``text`` that :func:`non_printing` refuses, if any."""
    for char in text:
        if non_printing(char):
            return char
    return None


def escape_char(char: str) -> str:
    """The visible form of one character: ``\\u{202E}``."""
    return f"\\u{{{ord(char):04X}}}"


def visible(text: str) -> str:
    """``text`` with every non-printing character replaced by a ``\\u{XXXX}`` escape."""
    if first_non_printing(text) is None:
        return text
    return "".join(escape_char(c) if non_printing(c) else c for c in text)
