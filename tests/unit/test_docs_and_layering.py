"""Docs that cannot rot, and the one-way import rule of DESIGN.md."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from reprisal_report.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "reprisal_report"


def walk(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "root" for p, _ in COMMANDS]
)
def test_every_command_and_option_has_help(path: tuple[str, ...], command: object) -> None:
    assert (getattr(command, "help", None) or "").strip(), f"no help text: {path}"
    for param in getattr(command, "params", []):
        if param.param_type_name == "option":
            assert (param.help or "").strip(), f"option {param.name} of {path} has no help"


def test_every_command_is_in_the_cli_reference() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    missing = [
        " ".join(path)
        for path, command in COMMANDS
        if path and not getattr(command, "commands", None) and f"`{' '.join(path)}" not in reference
    ]
    assert missing == []


CORE_PACKAGES = [
    "vault",
    "model",
    "identity",
    "bundle",
    "sanitize",
    "redact",
    "transport",
    "relay",
    "audit",
    "workflows",
]


def core_files() -> list[Path]:
    files = [SRC / "errors.py"]
    for package in CORE_PACKAGES:
        files.extend(sorted((SRC / package).rglob("*.py")))
    return files


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_never_talks_to_the_terminal(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            for name in names:
                assert not name.startswith(("reprisal_report.cli", "typer", "rich")), (
                    f"{path.name} imports {name}"
                )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"print", "input", "exit"}, (
                f"{path.name} calls {node.func.id}"
            )
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) != ("sys", "exit"), f"{path.name} calls sys.exit"
        if isinstance(node, ast.Assert):
            pytest.fail(f"{path.name}:{node.lineno} validates with assert; raise instead")


def runtime_imports(tree: ast.Module) -> Iterator[str]:
    """Modules imported outside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        is_if = isinstance(node, ast.If) and isinstance(node.test, ast.Name)
        if is_if and node.test.id == "TYPE_CHECKING":  # type: ignore[attr-defined]
            skipped.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            yield node.module or ""
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_cli_calls_only_workflows() -> None:
    allowed = (
        "reprisal_report.cli",
        "reprisal_report.workflows",
        "reprisal_report.errors",
        "reprisal_report.model.vocabulary",
    )
    for path in sorted((SRC / "cli").rglob("*.py")):
        for module in runtime_imports(ast.parse(path.read_text())):
            if module.startswith("reprisal_report."):
                assert module.startswith(allowed), f"{path.name} imports {module}"


def test_no_command_takes_a_passphrase_argument() -> None:
    """Secrets never go on argv: only files or the environment carry passphrases."""
    for path, command in COMMANDS:
        for param in getattr(command, "params", []):
            for opt in getattr(param, "opts", []):
                lowered = opt.lower()
                if "pass" in lowered or "secret" in lowered:
                    assert lowered.endswith("-file"), f"{' '.join(path)} takes {opt}"
