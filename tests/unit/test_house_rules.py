"""House rules checked on the source: no ``Any`` in workflows, SQL only in ``vault/``,
no CLI flag named in a core or workflow message."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "reprisal_report"
WORKFLOWS = sorted((SRC / "workflows").glob("*.py"))
# relay/log.py is the relay's own plain SQLite log, outside any vault (docs/relay.md).
SQL_ALLOWED = ("vault/", "relay/log.py")
SQL_METHODS = {"execute", "executemany", "executescript"}


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("path", WORKFLOWS, ids=_rel)
def test_workflows_never_use_any(path: Path) -> None:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            names = {a.name for a in node.names}
            assert "Any" not in names, f"{_rel(path)}:{node.lineno} imports typing.Any"
        elif isinstance(node, ast.Name):
            assert node.id != "Any", f"{_rel(path)}:{node.lineno} uses Any"
        elif isinstance(node, ast.Attribute):
            assert node.attr != "Any", f"{_rel(path)}:{node.lineno} uses typing.Any"


def test_the_any_check_sees_an_import_and_a_use() -> None:
    """The rule above would catch both forms (a guard against a vacuous check)."""
    tree = ast.parse("from typing import Any\nx: Any = 1\n")
    kinds = {type(n).__name__ for n in ast.walk(tree) if getattr(n, "id", None) == "Any"}
    assert kinds == {"Name"}
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))


def _sql_calls(tree: ast.Module) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_METHODS
    ]


def test_sql_lives_in_the_vault() -> None:
    outside = [p for p in sorted(SRC.rglob("*.py")) if not _rel(p).startswith(SQL_ALLOWED)]
    assert outside, "no module outside vault/ found: the check would be vacuous"
    offenders = [f"{_rel(p)}:{line}" for p in outside for line in _sql_calls(_tree(p))]
    assert offenders == [], "SQL outside vault/: " + ", ".join(offenders)


def test_the_sql_check_sees_a_call() -> None:
    tree = ast.parse("vault.conn.execute('SELECT 1')\nconn.executemany('x', [])\n")
    assert _sql_calls(tree) == [1, 2]


# Core and workflow packages whose messages must not name a command-line flag (the cli
# adds flag advice itself: cli/app.py FLAG_HINTS).
FLAG_FREE = (
    "relay",
    "sanitize",
    "workflows",
    "vault",
    "identity",
    "bundle",
    "model",
    "protocol",
    "transport",
    "errors.py",
    "clock.py",
    "crashpoints.py",
)
FLAG = re.compile(r"(?:^|[\s'\"(`/])--[a-z][a-z0-9-]*")


def _docstrings(tree: ast.Module) -> set[int]:
    """``id`` of every docstring node (module, class, function): prose, not messages."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _flag_literals(tree: ast.Module) -> list[tuple[int, str]]:
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and FLAG.search(node.value)
    ]


def _flag_free_modules() -> list[Path]:
    paths: list[Path] = []
    for name in FLAG_FREE:
        target = SRC / name
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return paths


@pytest.mark.parametrize("path", _flag_free_modules(), ids=_rel)
def test_core_and_workflow_messages_name_no_flag(path: Path) -> None:
    found = _flag_literals(_tree(path))
    assert found == [], f"{_rel(path)} names a CLI flag: {found}"


def test_the_flag_check_sees_a_flag_in_a_message() -> None:
    tree = ast.parse(
        '"""A docstring may say --all."""\n'
        'raise InvalidInput("name the cases to seal, or pass --all")\n'
        'hint = f"choose another --home for {x}"\n'
        'ok = "https://relay"\n'
    )
    assert [line for line, _ in _flag_literals(tree)] == [2, 3]


def test_the_cli_adds_flag_advice_by_error_class() -> None:
    from reprisal_report.cli.app import cli_hint
    from reprisal_report.errors import InvalidInput, OrgNotChosen, PlainHttpRefused

    assert cli_hint(OrgNotChosen("several orgs", hint="core hint")) == (
        "name it with --org ('reprisal-report org show' lists the joined orgs)"
    )
    assert cli_hint(PlainHttpRefused("plain http", hint="core hint")) == (
        "use an https:// relay URL, a .onion address over --proxy, or --allow-http"
    )
    assert cli_hint(InvalidInput("other", hint="its own hint")) == "its own hint"
