"""docs/cli-reference.md is generated from the command tree and never stale."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from reprisal_report.cli import reference
from reprisal_report.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "cli-reference.md"


def command_names(command: object, ctx: object, path: tuple[str, ...] = ()) -> list[str]:
    """Every command name, found through the click API a lazy group also answers."""
    names = [" ".join(("reprisal-report", *path))]
    lister = getattr(command, "list_commands", None)
    if lister is None:
        return names
    for name in lister(ctx):
        sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
        if sub is None or sub.hidden:
            continue
        sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
        names += command_names(sub, sub_ctx, (*path, name))
    return names


def every_command() -> list[str]:
    root = typer.main.get_command(app)
    return command_names(root, root.context_class(root, info_name="reprisal-report"))


def test_the_committed_reference_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == reference.render(), (
        "docs/cli-reference.md is stale: regenerate it with `make docs` "
        "(.venv/bin/python -m reprisal_report.cli.reference > docs/cli-reference.md) "
        "and commit it"
    )


def test_every_command_has_a_section() -> None:
    rendered = reference.render()
    names = every_command()
    assert len(names) > 50
    missing = [name for name in names if f"\n## `{name}`\n" not in rendered]
    assert missing == []
    assert len([line for line in rendered.splitlines() if line.startswith("## `")]) == len(names)


def test_every_option_and_argument_is_listed() -> None:
    rendered = reference.render()
    for entry in reference.walk():
        section = rendered.split(f"\n## `{entry.name}`\n", 1)[1].split("\n## ", 1)[0]
        for param in entry.command.params:
            if param.hidden:
                continue
            shown = param.opts[0] if param.param_type_name == "option" else param.metavar
            assert f"- `{shown}" in section, f"{entry.name}: {shown} missing"


@pytest.mark.parametrize("columns", ["20", "80", "400"])
def test_the_output_does_not_depend_on_the_terminal(
    monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    expected = reference.render()
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setenv("NO_COLOR", "1")
    assert reference.render() == expected


def test_known_details_are_rendered() -> None:
    rendered = reference.render()
    serve = rendered.split("\n## `reprisal-report relay serve`\n", 1)[1].split("\n## ", 1)[0]
    assert "- `--port <int>` (default: `8787`): Port to listen on." in serve
    assert "- `--data <path>` (required): The relay's data directory." in serve
    assert "Usage: `reprisal-report case attach [OPTIONS] ID FILE...`" in rendered
    assert "Usage: `reprisal-report seal [OPTIONS] [CASE_ID...]`" in rendered
    assert "prefix\\*" in rendered  # prose is escaped, not emphasis
