"""``pshctl logs``: the last lines of container logs, or a live follow of several at once.

With more than one worker each line starts with the worker's name (in a stable colour on
a terminal, plain ``name | line`` when piped). All lines are written by this thread only,
whole, so workers never mix inside a line. Problems with one worker's log go to stderr
and the others go on.

Exit status: 0; 1 when a worker's log was missing or could not be read; 4 when no worker
could be reached at all; 130 on Ctrl-C.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pshctl.cli import output
from pshctl.cli.complete import complete_log_type, complete_worker
from pshctl.cli.options import (
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    InstanceOpt,
    JsonOpt,
    ProjectOpt,
    open_environment,
)
from pshctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from pshctl.logs import LogNotice, LogStream

EPILOG = (
    "Examples: pshctl logs  |  pshctl logs queue -n 20  |  pshctl logs --all -f  |  "
    "pshctl logs queue mail -f -t error  |  pshctl logs -n all queue > queue.log  |  "
    "pshctl logs -f queue --json | jq .line"
)
IDLE_CHECK = 0.5  # seconds: how often a quiet follow checks whether stdout's reader left


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("logs", epilog=EPILOG)(logs)


def logs(
    ctx: typer.Context,
    workers: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Workers to read (default: the app container).", show_default=False,
            autocompletion=complete_worker,
        ),
    ] = None,
    worker: Annotated[
        Optional[list[str]],
        typer.Option(
            "--worker", "-w", help="A worker to read (repeatable).", show_default=False,
            autocompletion=complete_worker,
        ),
    ] = None,
    all_workers: Annotated[bool, typer.Option("--all", help="Read every worker's log.")] = False,
    log_type: Annotated[
        str,
        typer.Option("--type", "-t", metavar="TYPE", autocompletion=complete_log_type,
                     help="Which log: <log dir>/<TYPE>.log (app, deploy, cron, error, ...)."),
    ] = "app",
    lines: Annotated[
        str,
        typer.Option("--lines", "-n", metavar="N|all",
                     help="How many of the last lines to show; 'all' for the whole log."),
    ] = "100",
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new lines (survives rotation, "
                     "truncation and dropped connections) until Ctrl-C."),
    ] = False,
    instance: InstanceOpt = None,
    json_: JsonOpt = False,
    accept_new: AcceptNewOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
) -> int:
    """Show the last lines of worker logs, or follow them live.

    Every instance of a scaled worker, merged, each line prefixed `queue.1 | `. With
    --json, each line is one JSON object: {"worker", "instance", "name", "line",
    "received"}, where "received" is the UTC time pshctl read the line (the log itself
    has no time stamps).
    """
    from pshctl.logs import LogRequest

    names = [*(workers or ()), *(worker or ())]
    if all_workers and names:
        raise UsageError("--all reads every worker; name no workers with it")
    request = LogRequest(log_type=log_type, lines=_line_count(lines), follow=follow)
    env = open_environment(ctx, project, environment, app_name, announce=not json_,
                           accept_new=accept_new)
    targets = env.targets(names, all_workers=all_workers, instance=instance)
    if not targets:
        output.info(f"app {env.app.name} defines no workers")
        return ExitCode.OK
    printer = output.Lines([t.name for t in targets], as_json=json_,
                           labels={t.name: (t.container, t.instance) for t in targets})
    try:
        with env.log_stream(request, names, all_workers=all_workers,
                            instance=instance) as stream:
            _drain(stream, printer)
    except BrokenPipeError:
        output.drop_stdout()  # the reader went away (`| head`): stop as cat does
        return ExitCode.OK
    return stream.results().exit_code


def _line_count(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise UsageError(f"--lines takes a number of lines or 'all', not {value!r}")
    return count


def _drain(stream: LogStream, printer: output.Lines) -> None:
    from pshctl.logs import LogLines

    for event in stream.events(idle=IDLE_CHECK):
        if event is None:
            if output.reader_gone():
                raise BrokenPipeError()
        elif isinstance(event, LogLines):
            printer.write(event.worker, event.data, event.received)
        else:
            _notice(event)


def _notice(notice: LogNotice) -> None:
    message = f"{notice.worker}: {notice.message}"
    if notice.is_failure:
        output.error(message, getattr(notice.error, "hint", None))
    else:
        output.warn(message)
