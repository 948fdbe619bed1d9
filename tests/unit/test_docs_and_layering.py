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


# Every package and top-level module of src/reprisal_report, by layer. A module may
# import (at run time) only modules of a strictly lower layer, so no two modules of
# one layer import each other and no cycle can form. A new package must be placed here.
LAYERS: dict[str, int] = {
    "errors": 0,
    "clock": 0,
    "crashpoints": 0,
    "__init__": 0,
    "examples": 0,
    "model": 1,
    "vault": 2,
    "sanitize": 2,
    "identity": 3,
    "bundle": 4,
    "protocol": 4,
    "transport": 5,
    "redact": 5,
    "relay": 5,
    "audit": 5,
    "workflows": 6,
    "cli": 7,
    "__main__": 8,
}
CORE_PACKAGES = [name for name, layer in LAYERS.items() if layer < LAYERS["cli"]]


def top_level(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def test_the_layer_map_names_every_package_and_only_existing_ones() -> None:
    present = {top_level(p) for p in SRC.rglob("*.py")}
    assert present == set(LAYERS)


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_flow_one_way(path: Path) -> None:
    here = top_level(path)
    for module in runtime_imports(ast.parse(path.read_text())):
        parts = module.split(".")
        if parts[0] != "reprisal_report":
            continue
        target = parts[1] if len(parts) > 1 else "__init__"
        if target == here:
            continue
        assert LAYERS[target] < LAYERS[here], f"{here} (layer {LAYERS[here]}) imports {module}"


def core_files() -> list[Path]:
    files: list[Path] = []
    for package in CORE_PACKAGES:
        single = SRC / f"{package}.py"
        files.extend([single] if single.is_file() else sorted((SRC / package).rglob("*.py")))
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
        "reprisal_report.model.text",
        "reprisal_report.model.states",
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
