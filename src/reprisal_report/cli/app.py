"""The ``reprisal-report`` command: the root group and the one place errors are shown."""

from __future__ import annotations

import errno
import importlib
import signal
import sys
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Annotated, Any

import typer
from typer._click import Command
from typer._click import exceptions as click_exceptions
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit

from reprisal_report import __version__
from reprisal_report.cli.options import DebugOpt, HomeOpt, PassFileOpt, plain_coercion, settings
from reprisal_report.cli.output import PROG, error
from reprisal_report.errors import (
    AttachmentRefused,
    ExitCode,
    LeakBlocked,
    OrgNotChosen,
    PlainHttpRefused,
    ProfileExists,
    ProfileMissing,
    ProtectionLowered,
    ReportError,
    WrongRole,
)

# Exit status after Ctrl-C (SIGINT): 128 + 2, as shells report it (docs/cli.md).
EXIT_INTERRUPTED = 128 + int(signal.SIGINT)
PR_SET_DUMPABLE = 4


def disable_core_dumps() -> None:
    """Keep the master key, the passphrase and case text out of core files.

    ``RLIMIT_CORE`` 0 stops the kernel writing a core file; ``PR_SET_DUMPABLE`` 0 also
    stops a core handler reached through a pipe (systemd-coredump, apport), which
    ignores the limit, and refuses ptrace attachment by other processes of the same
    user. Best effort: skipped silently where the platform has neither.
    """
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


# Workflow and core errors never name a command-line flag; where a flag is the way
# out, the hint that names it is given here, by error class (the first match wins).
FLAG_HINTS: tuple[tuple[type[ReportError], str], ...] = (
    (ProfileMissing, "create one with 'reprisal-report init --role ROLE', or pass --home"),
    (ProfileExists, "choose another --home; 'panic' destroys a profile you no longer need"),
    (WrongRole, "select the right profile with --home"),
    (OrgNotChosen, "name it with --org ('reprisal-report org show' lists the joined orgs)"),
    (
        AttachmentRefused,
        "pass --keep-metadata to store it as it is; "
        "it may carry names, places, device serials or timestamps",
    ),
    (PlainHttpRefused, "use an https:// relay URL, a .onion address over --proxy, or --allow-http"),
    (ProtectionLowered, "say why with --reason TEXT (kept in the case's history)"),
    (
        LeakBlocked,
        "find the value with 'triage search', then have the case that carries it corrected "
        "(a follow-up from its reporter) or narrow the export with --country or --since",
    ),
)


def cli_hint(exc: ReportError) -> str | None:
    """The hint to print for ``exc``: the cli's flag advice if it has one, else the
    error's own hint."""
    for kind, hint in FLAG_HINTS:
        if isinstance(exc, kind):
            return hint
    return exc.hint


def _report(exc: BaseException) -> int:
    """Print one error line (and a hint); return the exit code."""
    if isinstance(exc, ReportError):
        error(exc.message, cli_hint(exc))
        return int(exc.exit_code)
    if isinstance(exc, click_exceptions.NoArgsIsHelpError) and exc.ctx is not None:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        return int(ExitCode.OK)
    if isinstance(exc, click_exceptions.UsageError):
        message = _lower_first(exc.format_message()).rstrip(".")
        command = exc.ctx.command_path if exc.ctx is not None else PROG
        error(message, f"see '{command} --help'")
        return int(ExitCode.INVALID_INPUT)
    if isinstance(exc, click_exceptions.ClickException):
        error(_lower_first(exc.format_message()).rstrip("."))
        return int(ExitCode.INVALID_INPUT)
    if isinstance(exc, _Interrupted | Abort | KeyboardInterrupt | EOFError):
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # end the prompt line the interrupt cut short
        error("interrupted; nothing was changed by the unfinished step")
        return EXIT_INTERRUPTED
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            error("disk full", "free some space and run the command again")
        elif exc.errno == errno.EPIPE:
            return int(ExitCode.OPERATIONAL)
        else:
            # A failed rename names the file being replaced (``filename2``), not the
            # temporary copy that was to take its place.
            name = exc.filename2 or exc.filename
            where = f": {name}" if name else ""
            error(f"{_lower_first(exc.strerror or 'system error')}{where}")
        return int(ExitCode.OPERATIONAL)
    # A bug: the message might hold case content, so only the type is shown.
    error(
        f"internal error ({type(exc).__name__})",
        f"rerun as '{PROG} --debug COMMAND ...' to see the traceback",
    )
    return int(ExitCode.OPERATIONAL)


_debug = [False]
HELP_NAMES = ("-h", "--help")


class _Interrupted(Exception):
    """Ctrl-C, carried past typer (which would turn it into a silent exit 130)."""


# The cli module that defines each top-level command: running a command imports and
# builds that module alone, not all of them (importing every command module and building
# every command's options from its signature took 0.2 s of each run). A name missing
# here, or not found in its module, falls back to register_all(): slower, never wrong.
COMMAND_MODULES: dict[str, str] = {
    "init": "profile",
    "panic": "profile",
    "passphrase": "profile",
    "id": "identity",
    "org": "org",
    "case": "case",
    "seal": "seal",
    "inbox": "inbox",
    "triage": "triage",
    "export": "export",
    "pseudonym-key": "export",
    "sync": "sync",
    "relay": "relay",
    "settings": "settings",
    "unlock": "unlock",
    "lock": "unlock",
    "demo": "demo",
    "audit": "audit",
}

# Commands built so far in this process, by module ("" for the whole tree); a command
# object holds no state of a run, so the tests' many invocations share them.
_built: dict[str, dict[str, Command]] = {}


def _build(key: str, register: Callable[[typer.Typer], None]) -> dict[str, Command]:
    """The commands ``register`` adds, built as the root would build them."""
    if key not in _built:
        holder = typer.Typer(
            rich_markup_mode=app.rich_markup_mode,
            pretty_exceptions_short=app.pretty_exceptions_short,
            suggest_commands=app.suggest_commands,
            add_completion=False,
        )
        register(holder)
        _built[key] = dict(typer.main.get_group(holder).commands)
        for command in _built[key].values():
            plain_coercion(command, HELP_NAMES)
    return _built[key]


def _register_module(module_name: str, command_name: str) -> Callable[[typer.Typer], None]:
    def register(holder: typer.Typer) -> None:
        module = importlib.import_module(f"reprisal_report.cli.{module_name}")
        if hasattr(module, "register"):
            module.register(holder)
        else:
            holder.add_typer(module.app, name=command_name)

    return register


class _LazyCommands(MutableMapping[str, Command]):
    """The root's subcommands: one looked up by name is built from its own module;
    listing them (``--help``, an unknown name) builds the whole tree."""

    def __init__(self, given: dict[str, Command]) -> None:
        self._data = dict(given)
        self._complete = False

    def _all(self) -> dict[str, Command]:
        if not self._complete:
            self._data = {**_build("", register_all), **self._data}
            self._complete = True
        return self._data

    def __getitem__(self, name: str) -> Command:
        if name not in self._data and not self._complete:
            module = COMMAND_MODULES.get(name)
            built = _build(module, _register_module(module, name)) if module else {}
            if name in built:
                self._data[name] = built[name]
            else:
                self._all()
        return self._data[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._data[name] = command

    def __delitem__(self, name: str) -> None:
        del self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class ReportGroup(TyperGroup):
    """Root group that maps every failure to one line and a documented exit code."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(dict(self.commands))
        plain_coercion(self, HELP_NAMES, subcommands=False)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted() from exc

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        # Only the root option (before the command name) shows tracebacks; the root
        # callback sets it once click has parsed it, so `case list --debug` is a
        # usage error like any unknown option.
        _debug[0] = False
        try:
            result = super().main(
                argv, prog_name or PROG, complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
        except Exit as exc:
            code = exc.exit_code
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            if _debug[0]:
                raise
            code = _report(exc)
        sys.exit(code)


app = typer.Typer(
    cls=ReportGroup,
    name=PROG,
    help="Document reprisals safely: encrypted vault, sealed bundles, do-no-harm exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": list(HELP_NAMES)},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{PROG} {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    debug: DebugOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Document reprisals safely: encrypted vault, sealed bundles, do-no-harm exports."""
    current = settings(ctx)
    current.home = home
    current.passphrase_file = passphrase_file
    current.debug = debug
    _debug[0] = debug


def register_all(app: typer.Typer) -> None:
    """Add every command to ``app``, in the order ``--help`` lists them. A command added
    here is found by name through COMMAND_MODULES, or else by building them all."""
    from reprisal_report.cli import (
        audit,
        case,
        demo,
        identity,
        inbox,
        org,
        profile,
        relay,
        seal,
        sync,
        triage,
        unlock,
    )
    from reprisal_report.cli import export as export_cmd
    from reprisal_report.cli import settings as settings_group

    profile.register(app)
    app.add_typer(identity.app, name="id")
    app.add_typer(org.app, name="org")
    app.add_typer(case.app, name="case")
    seal.register(app)
    inbox.register(app)
    triage.register(app)
    export_cmd.register(app)
    sync.register(app)
    relay.register(app)
    settings_group.register(app)
    unlock.register(app)
    demo.register(app)
    audit.register(app)


def main() -> None:
    disable_core_dumps()
    app()
