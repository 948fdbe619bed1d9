"""Options shared by many commands, and the per-invocation settings they build.

Only the standard library and typer are imported at module level: ``--help`` and
``--version`` must start fast, so heavy modules are imported inside commands.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from reprisal_report.errors import InvalidInput, NotFound

HOME_ENV = "REPRISAL_REPORT_HOME"
# Names of environment variables, not secrets.
PASSPHRASE_ENV = "REPRISAL_REPORT_PASSPHRASE"  # noqa: S105
NEW_PASSPHRASE_ENV = "REPRISAL_REPORT_NEW_PASSPHRASE"  # noqa: S105
MAX_PASSPHRASE_FILE = 4096

# Declared once; accepted both before the command name (the root) and after it.
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help=f"Profile directory (default: ${HOME_ENV} or the platform's data directory).",
        show_default=False,
    ),
]
PassFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from the first line of FILE (else ${PASSPHRASE_ENV}).",
        show_default=False,
    ),
]
# A root option only: after a command name it is an unknown option (exit 2).
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug", help="Show tracebacks instead of one-line errors (before the command)."
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")
]


@dataclass
class Settings:
    home: Path | None = None
    passphrase_file: Path | None = None
    debug: bool = False


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


def resolve_home(ctx: typer.Context, home: Path | None) -> Path:
    chosen = home or settings(ctx).home
    if chosen is None:
        env = os.environ.get(HOME_ENV)
        if env:
            chosen = Path(env)
    if chosen is None:
        import platformdirs

        chosen = platformdirs.user_data_path("reprisal-report", appauthor=False)
    return chosen.expanduser()


def _read_passphrase_file(path: Path) -> str:
    from reprisal_report.workflows.files import FileTooLarge, read_bounded

    try:
        data = read_bounded(path, MAX_PASSPHRASE_FILE)
    except FileNotFoundError:
        raise NotFound(f"no such passphrase file: {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"passphrase file {path} is a directory") from None
    except FileTooLarge:
        raise InvalidInput(f"passphrase file {path} is too large") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"passphrase file {path} is not UTF-8 text") from None
    line = text.split("\n", 1)[0].removesuffix("\r")
    if not line:
        raise InvalidInput(f"passphrase file {path} is empty")
    return line


def _prompt(label: str, confirm: bool) -> str:
    import getpass

    first = getpass.getpass(f"{label}: ", stream=sys.stderr)
    if confirm:
        again = getpass.getpass(f"{label} (again): ", stream=sys.stderr)
        if first != again:
            raise InvalidInput("the two passphrases differ")
    return first


def passphrase(
    ctx: typer.Context, passphrase_file: Path | None = None, *, confirm: bool = False
) -> str:
    """The profile passphrase: --passphrase-file, then the environment, then a prompt."""
    file = passphrase_file or settings(ctx).passphrase_file
    if file is not None:
        return _read_passphrase_file(file)
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if sys.stdin.isatty():
        return _prompt("Passphrase", confirm)
    raise InvalidInput(
        "no passphrase given",
        hint=f"set {PASSPHRASE_ENV}, use --passphrase-file, or run in a terminal",
    )


def new_passphrase(new_file: Path | None) -> str:
    if new_file is not None:
        return _read_passphrase_file(new_file)
    env = os.environ.get(NEW_PASSPHRASE_ENV)
    if env:
        return env
    if sys.stdin.isatty():
        return _prompt("New passphrase", confirm=True)
    raise InvalidInput(
        "no new passphrase given",
        hint=f"set {NEW_PASSPHRASE_ENV}, use --new-passphrase-file, or run in a terminal",
    )


# Relay connection options (sync push|pull, org publish).
AllowHttpOpt = Annotated[
    bool,
    typer.Option(
        "--allow-http",
        help="Allow plain http to a remote relay (exposes this device's key id to the network).",
    ),
]
ProxyOpt = Annotated[
    str | None,
    typer.Option("--proxy", help="Proxy for relay traffic, e.g. socks5h://127.0.0.1:9050 (Tor)."),
]


# --- option values without pydantic ----------------------------------------------------
#
# typer 0.29 coerces the value of every option and argument that is not a boolean flag
# through a pydantic TypeAdapter, built for each parameter on first use even when the
# value is left at None; importing pydantic for it is a third of a short command's run.
# typer has no setting for this, so each parameter of ours gets, before it is used, a
# coercion that gives the same value for the values it knows (a str as it is, a path
# already in the form Path prints it, a plain decimal integer) and hands any other
# value to typer's own coercion, built then: errors keep typer's wording. The tests
# compare both coercions value by value. One value differs on purpose: an empty path is
# refused (exit 2) where typer would take it as the current folder. With another typer
# (no ``_runtime_param`` or ``typer._coercion``) nothing is replaced and typer coerces
# as usual (a test of the real command line then fails on the empty path).

_SLOW = object()
EMPTY_PATH = "an empty value names no file or folder"
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")


def _plain_leaf(annotation: object, value: object) -> object:
    """``value`` as typer 0.29 coerces it for this annotation, or ``_SLOW``."""
    if annotation is str:
        return value if isinstance(value, str) else _SLOW
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _PLAIN_INT.fullmatch(value):
            return int(value)
        return _SLOW
    if annotation is bool:
        return value if isinstance(value, bool) else _SLOW
    if annotation is Path:
        # Checked by typer's path coercion, then made a Path. Not here: a path Path
        # would rewrite ("./x", "x/"; "" is refused before this), and one the system
        # cannot take (a NUL, a lone surrogate), whose ValueError typer's pydantic
        # turns into its message.
        if not isinstance(value, str) or "\x00" in value:
            return _SLOW
        try:
            os.fsencode(value)
        except UnicodeError:
            return _SLOW
        return value if str(Path(value)) == value else _SLOW
    return _SLOW


def _plain_kind(descriptor: Any) -> tuple[object, bool] | None:
    """(leaf annotation, is a list) when the parameter's coercion can be replaced."""
    info = descriptor.parameter_info
    if info.parser is not None or descriptor.is_file or descriptor.is_choice:
        return None
    annotation = descriptor.annotation
    is_list = typing.get_origin(annotation) is list
    if is_list:
        (annotation,) = typing.get_args(annotation)
    if annotation not in (str, int, bool, Path):
        return None
    if annotation is int and (info.min is not None or info.max is not None or info.clamp):
        return None
    if annotation is Path and (
        info.path_type is not None or info.resolve_path or info.allow_dash or info.exists
    ):
        return None
    return annotation, is_list


def _plain_param_class() -> type | None:
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer._param_types import coerce_cli_path
    except ImportError:
        return None

    @dataclasses.dataclass(frozen=True)
    class PlainParam(RuntimeParam):
        leaf: object = None
        is_list: bool = False
        descriptor: Any = None
        slow: list[RuntimeParam] = dataclasses.field(default_factory=list)

        def _leaf(self, value: object, param: Any, ctx: Any) -> object:
            if self.leaf is Path and value == "":
                # The one value where we differ from typer, which makes it Path("."):
                # a script's empty variable (--out "$DIR") would then write plaintext
                # into whatever folder it runs in.
                raise BadParameter(EMPTY_PATH, ctx=ctx, param=param)
            plain = _plain_leaf(self.leaf, value)
            if plain is not _SLOW and self.leaf is Path:
                checked = coerce_cli_path(
                    str(plain), self.parameter_info, path_type=None, param=param, ctx=ctx
                )
                return Path(str(checked))
            return plain

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.is_list:
                if isinstance(value, (list, tuple)):
                    items = [self._leaf(v, param, ctx) for v in value]
                    if all(i is not _SLOW for i in items):
                        return items
            else:
                plain = self._leaf(value, param, ctx)
                if plain is not _SLOW:
                    return plain
            if not self.slow:
                self.slow.append(build_runtime_param(self.descriptor))
            return self.slow[0]._coerce_value(value, param=param, ctx=ctx)

    return PlainParam


_PLAIN_PARAM: list[type | None] = []


def plain_coercion(command: Any, help_names: Sequence[str], *, subcommands: bool = True) -> None:
    """Give the parameters of ``command`` (and of its subcommands) a coercion without
    pydantic where one gives typer's result (see above). Its help option, which typer
    makes on first use, is made now from ``help_names`` (the root's), as it would be."""
    if not _PLAIN_PARAM:
        _PLAIN_PARAM.append(_plain_param_class())
    plain = _PLAIN_PARAM[0]
    if plain is None:
        return
    params = list(getattr(command, "params", ()))
    if getattr(command, "_help_option", _SLOW) is None and hasattr(command, "get_help_option"):
        from typer._click import Context

        params.append(command.get_help_option(Context(command, help_option_names=list(help_names))))
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", _SLOW) is not None:
            continue
        kind = _plain_kind(descriptor)
        if kind is None:
            continue
        param._runtime_param = plain(
            annotation=descriptor.annotation,
            parameter_info=descriptor.parameter_info,
            leaf=kind[0],
            is_list=kind[1],
            descriptor=descriptor,
        )
    if subcommands:
        for sub in getattr(command, "commands", {}).values():
            plain_coercion(sub, help_names)
