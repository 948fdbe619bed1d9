"""The one rule for attachment names, wherever a name enters or leaves the tool.

A name is chosen by whoever attached the file and travels inside the bundle to the
coordinator, whose ``triage attachment --out DIR`` writes the file under it. So a name
must be a plain, visible file name: nothing that could steer a path (separators,
``.``/``..``), hide the file (a leading dot: ``.bash_profile`` in a home folder runs at
the next login), read as a command option (a leading dash), or show other than it is
(bidi overrides and isolates that turn ``evil\\u202Efdp.exe`` into ``evilexe.pdf``,
zero-width and other format characters, control characters, any whitespace other than
an inner space, a trailing dot). :func:`attachment_name_problem` is used by
``case attach``, by ``seal`` (through the bundle writer), by the bundle reader on
import, and again by ``triage attachment`` before it writes.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from reprisal_report.model.text import non_printing

MAX_NAME_BYTES: Final = 255


def attachment_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be an attachment name, or None if it can.

    The reason never quotes the name: it is case content (callers that show the name
    pass it through ``model.text.visible``).
    """
    if not isinstance(name, str):
        return "is not text"
    if not name:
        return "is empty"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid unicode"
    if len(encoded) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    if "/" in name or "\\" in name or name in {".", ".."}:
        return "is a path, not a file name"
    if name.startswith("."):
        return "starts with a dot (a hidden file)"
    if name.startswith("-"):
        return "starts with a dash (it reads as a command option)"
    for char in name:
        if not non_printing(char):
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            return f"contains a control character (U+{ord(char):04X})"
        if category == "Cf":
            return f"contains an invisible or text-direction character (U+{ord(char):04X})"
        return f"contains a non-printing character (U+{ord(char):04X})"
    if name != name.strip(" ") or name.endswith("."):
        return "starts or ends with a space, or ends with a dot"
    return None


def safe_file_name(name: str, index: int) -> str:
    """``name`` if it passes the rule, else a neutral ``attachment-<index>`` name.

    Used where a stored name must still reach the disk (an old or foreign bundle):
    the file is written, but never under a name that could hide or disguise it. A
    plain ASCII extension is kept, so the file still opens with the right program.
    """
    if attachment_name_problem(name) is None:
        return name
    _, dot, suffix = name.rpartition(".")
    keep = dot and suffix.isascii() and suffix.isalnum() and len(suffix) <= 8
    return f"attachment-{index}.{suffix.lower()}" if keep else f"attachment-{index}"
