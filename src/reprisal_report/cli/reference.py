"""The CLI reference, generated from the command tree: ``docs/cli-reference.md``.

``make docs`` (``python -m reprisal_report.cli.reference > docs/cli-reference.md``)
writes it; ``tests/unit/test_cli_reference.py`` fails while the committed file differs
from ``render()``. The Markdown is formatted here, not by click's or rich's help
formatter, so it does not depend on the terminal's width or colours.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import typer

PROG = "reprisal-report"

HEADER = """\
# CLI reference

Generated from the code by `make docs` (`src/reprisal_report/cli/reference.py`); do
not edit by hand. `tests/unit/test_cli_reference.py` fails while this file is stale.
What each command does in detail, the conventions (profile, passphrase, output,
errors) and the exit codes are in [`cli.md`](cli.md).

Every command also takes `-h`, `--help`. The options `--home` and
`--passphrase-file` work before the command name as well as after it.
"""


@dataclass(frozen=True)
class Entry:
    """One command of the tree: its words after the program name, the click command
    and the context it was resolved in."""

    path: tuple[str, ...]
    command: Any
    ctx: Any

    @property
    def name(self) -> str:
        return " ".join((PROG, *self.path))

    @property
    def is_group(self) -> bool:
        return hasattr(self.command, "list_commands")


def walk() -> Iterator[Entry]:
    """Every visible command, depth first, in the order each group lists them.

    Subcommands are resolved through ``list_commands``/``get_command`` (never the
    ``commands`` mapping itself), so a group that builds its commands lazily lists
    and resolves them as it would for ``--help``.
    """
    from reprisal_report.cli.app import app

    root = typer.main.get_command(app)
    yield from _walk(root, root.context_class(root, info_name=PROG), ())


def _walk(command: Any, ctx: Any, path: tuple[str, ...]) -> Iterator[Entry]:
    yield Entry(path, command, ctx)
    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        yield from _walk(sub, sub.context_class(sub, info_name=name, parent=ctx), (*path, name))


def paragraphs(text: str | None) -> list[str]:
    """Help text as paragraphs, each on one line (docstrings are wrapped in the source)."""
    if not text:
        return []
    lines = [line for line in inspect.cleandoc(text).splitlines() if line.strip() != "\b"]
    blocks = re.split(r"\n\s*\n", "\n".join(lines))
    return [_escape(" ".join(block.split())) for block in blocks if block.strip()]


def _escape(text: str) -> str:
    """Keep prose prose: ``prefix*`` must not open emphasis, ``<x>`` not become HTML."""
    return re.sub(r"([\\*<])", r"\\\1", text)


def _help(command: Any) -> list[str]:
    return paragraphs(getattr(command, "help", None) or getattr(command, "short_help", None))


def _summary(command: Any) -> str:
    found = _help(command)
    return found[0] if found else ""


def _type_label(param: Any, ctx: Any) -> str:
    display = getattr(param, "display_type", None)
    if callable(display):
        return str(display(ctx))
    metavar = getattr(param, "metavar", None)
    return str(metavar) if metavar else ""


def _default(param: Any) -> str | None:
    shown = getattr(param, "show_default", None)
    if isinstance(shown, str):
        return shown
    if shown is False:
        return None
    value = param.default
    if getattr(param, "is_flag", False):
        return "on" if value is True else None
    if value is None or value == () or value == []:
        return None
    if callable(value):
        return "(computed at run time)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _argument_name(param: Any) -> str:
    """The metavar as the command declares it (``FILE...``, ``[CASE_ID...]``, ``on|off``)."""
    if param.metavar:
        return str(param.metavar)
    name = str(param.name or "").upper()
    return name + "..." if param.nargs != 1 else name


def _usage(entry: Entry) -> str:
    words = [entry.name]
    if any(p.param_type_name == "option" and not p.hidden for p in entry.command.params):
        words.append("[OPTIONS]")
    for param in entry.command.params:
        if param.param_type_name != "argument":
            continue
        label = _argument_name(param)
        words.append(label if param.required or param.metavar else f"[{label}]")
    if entry.is_group:
        words.append("COMMAND [ARGS]...")
    return " ".join(words)


def _param_line(param: Any, ctx: Any) -> str:
    if param.param_type_name == "argument":
        name = _argument_name(param)
    else:
        name = ", ".join(param.opts)
        if param.secondary_opts:
            name += " / " + ", ".join(param.secondary_opts)
    label = "" if getattr(param, "is_flag", False) else _type_label(param, ctx)
    head = f"`{name} {label}`" if label else f"`{name}`"
    notes = []
    if param.required:
        notes.append("required")
    if getattr(param, "multiple", False):
        notes.append("repeatable")
    default = _default(param)
    if default is not None:
        notes.append(f"default: `{default}`")
    text = " ".join(paragraphs(getattr(param, "help", None)))
    suffix = f" ({'; '.join(notes)})" if notes else ""
    return f"- {head}{suffix}" + (f": {text}" if text else "")


def anchor(name: str) -> str:
    """The anchor GitHub gives a heading of ``name`` in backticks."""
    return re.sub(r"[^a-z0-9 _-]", "", name.lower()).replace(" ", "-")


def _section(entry: Entry) -> list[str]:
    out = [f"## `{entry.name}`", ""]
    for paragraph in _help(entry.command):
        out += [paragraph, ""]
    out += [f"Usage: `{_usage(entry)}`", ""]
    visible = [p for p in entry.command.params if not getattr(p, "hidden", False)]
    arguments = [p for p in visible if p.param_type_name == "argument"]
    options = [p for p in visible if p.param_type_name == "option"]
    for title, params in (("Arguments", arguments), ("Options", options)):
        if params:
            out += [f"{title}:", ""]
            out += [_param_line(p, entry.ctx) for p in params]
            out.append("")
    if entry.is_group:
        out += ["Commands:", ""]
        for name in entry.command.list_commands(entry.ctx):
            sub = entry.command.get_command(entry.ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            full = " ".join((entry.name, name))
            out.append(f"- [`{full}`](#{anchor(full)}): {_summary(sub)}")
        out.append("")
    return out


def render() -> str:
    """The whole reference as Markdown, the same on every machine and terminal."""
    entries = list(walk())
    lines = [HEADER, "## Contents", ""]
    for entry in entries:
        indent = "  " * max(len(entry.path) - 1, 0)
        lines.append(f"{indent}- [`{entry.name}`](#{anchor(entry.name)})")
    lines.append("")
    for entry in entries:
        lines += _section(entry)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.buffer.write(render().encode("utf-8"))


if __name__ == "__main__":
    main()
