"""Writing to the terminal: data on stdout, everything else on stderr.

Every line written here goes through ``render.safe`` and every JSON document through
``render.json_text``: a message quoting a card label or a file name shows its control
and bidi characters as visible escapes instead of letting the terminal act on them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from reprisal_report.cli.render import json_text, safe

if TYPE_CHECKING:
    from rich.console import Console

PROG = "reprisal-report"


def emit_json(document: Any) -> None:
    sys.stdout.write(json_text(document) + "\n")
    sys.stdout.flush()


def stdout_line(text: str) -> None:
    sys.stdout.write(safe(text) + "\n")


def err_line(text: str) -> None:
    sys.stderr.write(safe(text) + "\n")
    sys.stderr.flush()


def error(message: str, hint: str | None = None) -> None:
    err_line(f"{PROG}: error: {message}")
    if hint:
        err_line(f"hint: {hint}")


def warn(message: str) -> None:
    err_line(f"{PROG}: warning: {message}")


def info(message: str) -> None:
    err_line(message)


def console(stderr: bool = False) -> Console:
    """A rich console; rich honours NO_COLOR and plain pipes by itself."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False, markup=False)
