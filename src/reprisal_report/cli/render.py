"""The one rule for showing untrusted text: it is printed, never interpreted.

Case fields, card labels, org ids, file names and anything a courier or relay sent
reach the terminal only through this module:

- :func:`safe` gives the text with every control, bidi and other non-printing
  character shown as a visible ``\\u{XXXX}`` escape (``model.text.visible``, the same
  rule the core uses for its messages);
- :func:`plain` wraps that in a ``rich.text.Text``, which rich never parses for
  markup (``[link=…]``, ``[/bold]``) or emoji codes. Every table cell is one.

``output.py`` passes every line it writes through :func:`safe`, and ``--json`` output
through :func:`json_text`, so a message that quotes a file name is covered too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from reprisal_report.model.text import non_printing, visible

if TYPE_CHECKING:
    from rich.text import Text


def safe(value: object) -> str:
    """``value`` as text a terminal shows literally (``None`` is the empty string)."""
    return visible("" if value is None else str(value))


def plain(value: object) -> Text:
    """``value`` as a rich ``Text``: no markup, no emoji codes, escapes for the rest."""
    from rich.text import Text

    return Text(safe(value))


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


# The only characters json_text may have to escape: anything but a newline and printable
# ASCII (which non_printing never refuses). Each one found is then judged by
# non_printing, so the rule stays that one function's; pure ASCII output costs one scan.
_MAYBE_NON_PRINTING = re.compile(r"[^\n\x20-\x7e]+")


@lru_cache(maxsize=4096)
def _json_char(char: str) -> str:
    return _json_escape(char) if non_printing(char) else char


def _json_run(match: re.Match[str]) -> str:
    return "".join(map(_json_char, match.group()))


def json_text(document: Any) -> str:
    """``document`` as indented JSON in which no raw non-printing character remains.

    ``json.dumps`` already escapes C0 controls inside strings; bidi overrides, C1
    controls and the like are escaped here the same way (``\\u202e``), so the output
    is still exact JSON and reads back to the same values. A raw newline or space in
    the output is JSON's own layout, never string content.
    """
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return _MAYBE_NON_PRINTING.sub(_json_run, text)


def _lines(value: Any, indent: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                out.append((indent, f"{safe(key)}:"))
                out.extend(_lines(item, indent + 2))
            else:
                first, *more = _text_lines(item)
                out.append((indent, f"{safe(key)}: {first}"))
                out.extend((indent + 2, line) for line in more)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                sub = _lines(item, indent + 2)
                if sub:
                    _, first = sub[0]
                    out.append((indent, f"- {first}"))
                    out.extend(sub[1:])
            else:
                first, *more = _text_lines(item)
                out.append((indent, f"- {first}"))
                out.extend((indent + 2, line) for line in more)
    else:
        out.extend((indent, line) for line in _text_lines(value))
    return out


def _text_lines(value: Any) -> list[str]:
    """A multi-line field (a narrative) as its lines, each made safe on its own."""
    text = "" if value is None else str(value)
    return [safe(line) for line in text.split("\n")] or [""]


def print_case(document: dict[str, Any]) -> None:
    from reprisal_report.cli.output import console

    term = console()
    for indent, line in _lines(document, 0):
        term.print(plain(" " * indent + line), markup=False, highlight=False, emoji=False)


# The first column names the row (a case id, a key id): it is never cut or wrapped, since
# an id cut to "ylqkszr…" cannot be typed into the next command. Other columns fold
# (nothing is replaced by an ellipsis); long free text (titles, labels) takes the width
# left. Output that is not a terminal is as wide as the table needs.
SHORT_CELL = 26


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table on stdout whose every cell is plain text."""
    from rich.table import Column, Table

    from reprisal_report.cli.output import console

    cells = [[plain(cell) for cell in row] for row in rows]
    widths = [
        max([len(name), *(row[i].cell_len for row in cells)]) for i, name in enumerate(columns)
    ]

    def column(i: int, name: str, width: int) -> Column:
        if i == 0 and width <= SHORT_CELL:
            return Column(name, no_wrap=True, min_width=width)
        if width <= SHORT_CELL:
            return Column(name, overflow="fold")
        return Column(name, overflow="fold", ratio=1, min_width=min(width, 12))

    table = Table(*(column(i, n, w) for i, (n, w) in enumerate(zip(columns, widths, strict=True))))
    for row in cells:
        table.add_row(*row)
    from rich.measure import Measurement

    out = console()
    needed = Measurement.get(out, out.options.update_width(100_000), table)
    # A terminal too narrow for the table's least width gets longer lines, never a cut.
    out.width = max(out.width, needed.minimum if out.is_terminal else needed.maximum)
    out.print(table)


def print_bars(labels: Sequence[str], counts: Sequence[int], width: int = 40) -> None:
    """A bar per label, scaled to the largest count; labels are plain text."""
    from rich.table import Table

    from reprisal_report.cli.output import console

    top = max(counts, default=0)
    table = Table(show_header=False, box=None)
    for label, count in zip(labels, counts, strict=True):
        bar = "#" * (round(width * count / top) if top else 0)
        table.add_row(plain(label), plain(bar or "."), plain(count))
    console().print(table)
