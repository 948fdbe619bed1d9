"""Human-readable rendering of records. Case text is never parsed as rich markup."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from reprisal_report.cli.output import console


def _lines(value: Any, indent: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                out.append((indent, f"{key}:"))
                out.extend(_lines(item, indent + 2))
            else:
                out.append((indent, f"{key}: {item}"))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                sub = _lines(item, indent + 2)
                if sub:
                    _, first = sub[0]
                    out.append((indent, f"- {first}"))
                    out.extend(sub[1:])
            else:
                out.append((indent, f"- {item}"))
    else:
        out.append((indent, str(value)))
    return out


def print_case(document: dict[str, Any]) -> None:
    term = console()
    for indent, line in _lines(document, 0):
        term.print(Text(" " * indent + line), markup=False, highlight=False)
