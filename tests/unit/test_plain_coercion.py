"""Option values coerced without pydantic (``cli/options.plain_coercion``): for every
kind of parameter the commands have, the same value, or the same error, as typer's own
coercion; no parameter left to typer's; and a listing with a session never imports
pydantic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from reprisal_report.cli import app as cli_app
from reprisal_report.cli.app import HELP_NAMES
from reprisal_report.cli.options import EMPTY_PATH, plain_coercion


def _commands() -> list[Any]:
    root: Any = typer.main.get_command(cli_app.app)
    found = [root]
    todo = [root.commands[name] for name in list(root.commands)]
    while todo:
        command = todo.pop()
        found.append(command)
        todo.extend(getattr(command, "commands", {}).values())
    return found


def _params() -> list[tuple[Any, Any]]:
    out = []
    for command in _commands():
        params = [*command.params, command.get_help_option(Context(command))]
        out += [(command, p) for p in params if p is not None]
    return out


def test_every_parameter_is_coerced_without_pydantic() -> None:
    left = [
        f"{command.name} {param.name}"
        for command, param in _params()
        if type(param.get_runtime_param()).__name__ != "PlainParam"
    ]
    assert left == []


def _kinds() -> dict[str, tuple[Any, Any]]:
    """One parameter of each kind (annotation, list or not, option or argument)."""
    kinds: dict[str, tuple[Any, Any]] = {}
    for command, param in _params():
        key = f"{param.type_descriptor.annotation!r} {type(param).__name__}"
        kinds.setdefault(key, (command, param))
    return kinds


KINDS = _kinds()


def _outcome(runtime: Any, value: object, param: Any, ctx: Context) -> tuple[str, object]:
    try:
        return "value", runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()
    except ValueError as exc:  # os.stat of a path with a NUL, in both
        return type(exc).__name__, str(exc)


def test_the_kinds_are_the_ones_the_commands_have() -> None:
    annotations = {p.type_descriptor.annotation for _, p in KINDS.values()}
    assert annotations == {str, int, bool, Path, list[str], list[Path]}


VALUES = st.one_of(
    st.text(),
    st.from_regex(r"[-+ ]?[0-9_]{0,22}(\.[0-9]{0,2})?\s?", fullmatch=True),
    st.sampled_from(["", ".", "./x", "x/", "a//b", "/", "-", "0", "-0", "007", "+5", "1e3"]),
    st.sampled_from(["٣", "1.0", "a\x00b", "\ud800", "\udcff", "x\udcfe/y", b"x", b"\xff"]),
    st.integers(),
    st.booleans(),
    st.none(),
)


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(value=st.one_of(VALUES, st.lists(st.one_of(st.text(), st.integers()), max_size=3)))
def test_the_same_value_or_error_as_typer(kind: str, value: object) -> None:
    command, param = KINDS[kind]
    ctx = Context(command)
    plain = param.get_runtime_param()
    assert type(plain).__name__ == "PlainParam"
    theirs = build_runtime_param(param.type_descriptor)
    multi = param.multiple or param.nargs == -1
    if isinstance(value, list) and not multi:
        return
    if multi and not isinstance(value, list) and value is not None:
        value = [value]
    ours = _outcome(plain, value, param, ctx)
    if param.type_descriptor.annotation in (Path, list[Path]) and "" in (
        value if isinstance(value, list) else [value]
    ):
        # The one intended difference: typer would take "" as Path("."), the current folder.
        assert ours[0] == "error" and str(ours[1]).endswith(EMPTY_PATH), ours
        return
    assert ours == _outcome(theirs, value, param, ctx)


def test_paths_that_exist_are_checked_as_typer_checks_them(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    for kind in ("<class 'pathlib.Path'> TyperOption", "<class 'pathlib.Path'> TyperArgument"):
        command, param = KINDS[kind]
        ctx = Context(command)
        theirs = build_runtime_param(param.type_descriptor)
        for name in ("file", "dir", "missing", "file/", "dir/../file"):
            value = str(tmp_path / name) if not name.endswith("/") else f"{tmp_path}/{name}"
            got = _outcome(param.get_runtime_param(), value, param, ctx)
            assert got == _outcome(theirs, value, param, ctx)


def test_a_help_option_made_early_is_the_one_typer_makes() -> None:
    command = typer.main.get_group(typer.Typer())
    plain_coercion(command, HELP_NAMES, subcommands=False)
    made = command.get_help_option(Context(command, help_option_names=list(HELP_NAMES)))
    assert made is not None
    assert type(made.get_runtime_param()).__name__ == "PlainParam"
    assert sorted(made.opts) == sorted(HELP_NAMES)
    assert made.is_eager and not made.expose_value


CHECK = """
import sys
from reprisal_report.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
sys.stderr.write(f"exit {code} pydantic {'pydantic' in sys.modules}\\n")
"""


def test_a_listing_with_a_session_does_not_import_pydantic(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    env |= {
        "REPRISAL_REPORT_HOME": str(tmp_path / "c"),
        "REPRISAL_REPORT_INSECURE_TEST_KDF": "1",
        "REPRISAL_REPORT_PASSPHRASE": "a passphrase for this test",
    }

    def run(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", CHECK, *args],
            env={**env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("init", "--role", "coordinator").returncode == 0
    unlocked = run("unlock", "--json")
    import json

    token = json.loads(unlocked.stdout)["token"]
    listing = run(
        "triage",
        "list",
        "--json",
        "--limit",
        "5",
        "--sort",
        "-incident",
        extra={"REPRISAL_REPORT_SESSION": token, "REPRISAL_REPORT_PASSPHRASE": ""},
    )
    assert listing.stdout == "[]\n"
    assert listing.stderr == "exit 0 pydantic False\n"
    # A value only typer's coercion knows brings it in, with typer's words.
    bad = run("triage", "list", "--limit", "abc", extra={"REPRISAL_REPORT_SESSION": token})
    assert bad.stderr.splitlines() == [
        "reprisal-report: error: invalid value for '--limit': Input should be a valid "
        "integer, unable to parse string as an integer",
        "hint: see 'reprisal-report triage list --help'",
        "exit 2 pydantic True",
    ]
