"""The typer app: the root options, the command modules, and the one error boundary.

:func:`run` is the one place where exceptions become exit codes. Command modules
import nothing heavy at module level, so ``--help``, ``--version`` and Tab completion
stay fast (a test checks it). Start through :func:`pshctl.cli.main`, which answers most
Tab presses without importing this module (see :mod:`pshctl.cli.tabtree`).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pshctl import __version__
from pshctl.cli import output
from pshctl.cli.interrupts import as_keyboard_interrupt
from pshctl.cli.options import AppOpt, EnvironmentOpt, GlobalState, ProjectOpt
from pshctl.context import Selection
from pshctl.errors import ExitCode, PshctlError

app = typer.Typer(
    name="pshctl",
    help="Manage the background workers of Platform.sh-style apps over SSH.",
    no_args_is_help=True,
    add_completion=False,  # `pshctl completion SHELL` prints the scripts instead
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        output.write_text(f"pshctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
    verbose: Annotated[
        int, typer.Option(
            "--verbose", "-v", count=True, show_default=False,
            help="Show an SSH debug trail on stderr (-vv: paramiko's own lines too).",
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


def _register_commands() -> None:
    from pshctl.cli import auth, completion, cp, lifecycle, logs, sandbox, ssh, top, workers

    for module in (workers, lifecycle, top, logs, ssh, cp, sandbox, auth, completion):
        module.register(app)


_register_commands()


def run(argv: list[str] | None = None) -> int:
    with as_keyboard_interrupt():
        try:
            result = app(args=argv, prog_name="pshctl", standalone_mode=False)
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
    app(args=[*path, "--help"], prog_name="pshctl", standalone_mode=False)
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
