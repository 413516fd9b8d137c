"""The typer app: the root options, the command modules, and the one error boundary.

:func:`run` is the one place where exceptions become exit codes. Command modules
import nothing heavy at module level, so ``--help``, ``--version`` and Tab completion
stay fast (a test checks it). Start through :func:`pshctl.cli.main`, which answers most
Tab presses without importing this module (see :mod:`pshctl.cli.tabtree`).
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from pshctl.cli import output
from pshctl.cli.interrupts import as_keyboard_interrupt
from pshctl.cli.options import AppOpt, EnvironmentOpt, GlobalState, ProjectOpt
from pshctl.context import Selection
from pshctl.errors import ExitCode, PshctlError

_app = typer.Typer(  # its commands come from register(); ``app`` is the whole of it
    name="pshctl",
    help="Manage the background workers of Platform.sh-style apps over SSH.",
    no_args_is_help=True,
    add_completion=False,  # `pshctl completion SHELL` prints the scripts instead
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples: pshctl status  |  pshctl restart mail  |  pshctl logs -f queue mail  |  "
    "pshctl ssh --worker queue  |  pshctl -e staging restart --all --rolling --json",
)


def _version(value: bool) -> None:
    if value:
        output.version()
        raise typer.Exit()


@_app.callback()
def _root(
    ctx: typer.Context,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
    verbose: Annotated[
        int, typer.Option(
            "--verbose", "-v", count=True, show_default=False, metavar="",
            help="A counter: -v shows an SSH debug trail on stderr, -vv paramiko's own "
            "lines too.",
        )
    ] = 0,
    refresh: Annotated[
        bool, typer.Option(
            "--refresh",
            help="Ask the platform's API again instead of using its cached answers.",
        )
    ] = False,
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    ctx.obj = GlobalState(
        selection=Selection(project=project, environment=environment, app=app_name),
        verbose=verbose,
        refresh=refresh,
    )


# The command modules, in the order their commands are listed, and which one registers
# each command. A command line that names a command needs only its module: importing and
# building every command costs more than some commands take to run. The help, an unknown
# command or no command at all get every module. tests/test_cli_registry.py checks both
# tables against the modules and the root's options.
MODULES = ("workers", "lifecycle", "top", "logs", "ssh", "cp", "sandbox", "auth",
           "completion")
COMMANDS = {
    "workers": "workers", "status": "lifecycle", "restart": "lifecycle", "stop": "lifecycle",
    "start": "lifecycle", "wait": "lifecycle", "top": "top", "logs": "logs", "ssh": "ssh",
    "cp": "cp", "sandbox": "sandbox", "auth": "auth", "completion": "completion",
}
ROOT_VALUE_OPTIONS = ("-p", "--project", "-e", "--environment", "-A", "--app")
_registered: list[str] = []


def register(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """The app with (at least) the commands of ``modules``, kept in :data:`MODULES` order."""
    import importlib

    wanted = [name for name in MODULES if name in modules or name in _registered]
    if wanted[: len(_registered)] != _registered:  # one goes before those there: redo
        _app.registered_commands.clear()
        _app.registered_groups.clear()
        _registered.clear()
    for name in wanted:
        if name not in _registered:
            importlib.import_module(f"pshctl.cli.{name}").register(_app)
            _registered.append(name)
    return _app


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names after the root's options, or None (help, none, unknown)."""
    words = iter(argv)
    for word in words:
        if word in ROOT_VALUE_OPTIONS:
            next(words, None)
        elif word.startswith("--") or word == "-":
            if word == "--" or word in ("--help", "--version"):
                return None
        elif word.startswith("-"):
            if word[1] in "peA":
                if len(word) == 2:
                    next(words, None)
            elif "h" in word or set(word[1:]) - {"v"}:
                return None
        else:
            return word if word in COMMANDS else None
    return None


def modules_for(argv: list[str]) -> tuple[str, ...]:
    command = command_of(argv)
    return MODULES if command is None else (COMMANDS[command],)


def __getattr__(name: str) -> object:
    if name == "app":  # whoever asks for the app gets every command
        return register()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    register(modules_for(args))
    with as_keyboard_interrupt():
        try:
            result = _app(args=args, prog_name="pshctl", standalone_mode=False)
        except PshctlError as exc:
            output.error(exc.message, exc.hint)
            return int(exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            output.info("interrupted")
            return int(ExitCode.INTERRUPTED)
        except typer.TyperException as exc:  # click's usage errors, vendored by typer
            if type(exc).__name__ == "NoArgsIsHelpError":  # `pshctl`, `pshctl sandbox`
                return _help(exc)
            _show_usage_error(exc)
            return int(exc.exit_code)
    # A reader that went away (`| head`): output.emit keeps the exit code; output written
    # outside it reaches typer, which exits 1 quietly.
    if result == ExitCode.INTERRUPTED:
        output.info("interrupted")
    return result if isinstance(result, int) else int(ExitCode.OK)


def _help(exc: typer.TyperException) -> int:
    """A group run with nothing to do shows its help on stdout and succeeds, as ``kubectl``
    and ``git help`` do: asking what there is is not an error."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path.split()[1:] if ctx is not None else []
    _app(args=[*path, "--help"], prog_name="pshctl", standalone_mode=False)
    return int(ExitCode.OK)


def _show_usage_error(exc: typer.TyperException) -> None:
    if output.is_terminal(stderr=True):
        from typer import rich_utils

        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
    else:
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            output.error(exc.format_message())
