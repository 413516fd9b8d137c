"""``pshctl logs``: the last lines of container logs, or a live follow of several at once.

With more than one worker each line starts with the worker's name (in a stable colour on
a terminal, plain ``name | line`` when piped). All lines are written by this thread only,
whole, so workers never mix inside a line. Problems with one worker's log go to stderr
and the others go on.

History (without ``-f``) from several workers is read in full first, then written merged
by time when their lines say when they were written, else worker by worker in the order
asked: the same on every run (:mod:`pshctl.logs.history`).

Exit status: 0; 1 when a worker's log was missing or could not be read; 4 when no worker
could be reached at all; 130 on Ctrl-C.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pshctl.cli import output
from pshctl.cli.complete import complete_log_type, complete_worker
from pshctl.cli.options import (
    MAX_LINES,
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    InstanceOpt,
    JsonOpt,
    ProjectOpt,
    envelope,
    number_option,
    open_environment,
)
from pshctl.defaults import DEFAULT_LOG_LINES
from pshctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from pshctl.logs import LogNotice, LogStream

ALL_LINES = -1  # what `-n all` parses to (None is "not given": 100, or all with --since)

EPILOG = (
    "Examples: pshctl logs  |  pshctl logs queue -n 20  |  pshctl logs --all -f  |  "
    "pshctl logs queue mail -f -t error  |  pshctl logs -n all queue > queue.log  |  "
    "pshctl logs queue --since 10m --grep 'Timeout|refused'  |  "
    "pshctl logs --all --since 2026-12-01T10:00 --timestamps  |  "
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
            help="Workers to read (default: the app container).", metavar="WORKER...",
            show_default=False,
            autocompletion=complete_worker,
        ),
    ] = None,
    worker: Annotated[
        Optional[list[str]],
        typer.Option(
            "--worker", "-w", metavar="NAME", help="A worker to read (repeatable).",
            show_default=False,
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
        Optional[int],
        number_option("--lines", "-n", metavar="N|all", low=0, high=MAX_LINES, whole=True,
                      words={"all": ALL_LINES},
                      help="How many of the last lines to show; 'all' for the whole log "
                           f"(default {DEFAULT_LOG_LINES}; with --since, all since then)."),
    ] = None,
    since: Annotated[
        Optional[str],
        typer.Option("--since", metavar="WHEN", show_default=False,
                     help="Only lines written since then: 10m, 2h, 1d, or a time "
                          "2026-12-01T10:00 (this machine's zone unless it ends with Z or "
                          "+01:00), as each line's own time says."),
    ] = None,
    grep: Annotated[
        Optional[str],
        typer.Option("--grep", "-g", metavar="PATTERN", show_default=False,
                     help="Only lines matching this extended regular expression (grep -E), "
                          "filtered in the container: only they cross the network."),
    ] = None,
    timestamps: Annotated[
        bool,
        typer.Option("--timestamps", "-T",
                     help="Start each line with its time: its own when it says one, else "
                          "when pshctl received it (UTC)."),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new lines (survives rotation, "
                     "truncation and dropped connections) until Ctrl-C."),
    ] = False,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Pass the log's bytes through as they are, control "
                     "characters included (on a terminal they are shown escaped: ^[ for ESC)."),
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
    --json, each line is one JSON object: the envelope ("project", "environment", "app"),
    then {"worker", "instance", "name", "line", "received", "time"}: "received" is the
    UTC time pshctl read the line, "time" the time the line itself says (null when it
    says none).
    """
    from pshctl.api import since_time
    from pshctl.logs import LogRequest

    names = [*(workers or ()), *(worker or ())]
    if all_workers and names:
        raise UsageError("--all reads every worker; name no workers with it")
    if lines is None:
        count: int | None = None if since else DEFAULT_LOG_LINES
    else:
        count = None if lines == ALL_LINES else lines
    request = LogRequest(log_type=log_type, lines=count, follow=follow, grep=grep,
                         since=since_time(since))
    env = open_environment(ctx, project, environment, app_name, announce=not json_,
                           accept_new=accept_new)
    targets = env.targets(names, all_workers=all_workers, instance=instance)
    if not targets:
        output.info(f"app {env.app.name} defines no workers")
        return ExitCode.OK
    order = [t.name for t in targets]
    printer = output.Lines(order, as_json=json_, timestamps=timestamps, times=True,
                           context=envelope(env.context), raw=raw,
                           labels={t.name: (t.container, t.instance) for t in targets})
    try:
        with env.log_stream(request, names, all_workers=all_workers,
                            instance=instance) as stream:
            if follow or len(order) == 1:
                _drain(stream, printer)
            else:
                _merge(stream, printer, order)
    except BrokenPipeError:
        output.drop_stdout()  # the reader went away (`| head`): stop as cat does
        return ExitCode.OK
    return stream.results().exit_code


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


def _merge(stream: LogStream, printer: output.Lines, order: list[str]) -> None:
    """History of several workers: all of it first, then in one order (by time, or
    worker by worker), so that the output is the same on every run."""
    from pshctl.logs import LogLines
    from pshctl.logs.history import merged

    kept: dict[str, list[bytes]] = {name: [] for name in order}
    received: dict[str, float] = {}
    for event in stream.events(idle=IDLE_CHECK):
        if event is None:
            if output.reader_gone():
                raise BrokenPipeError()
        elif isinstance(event, LogLines):
            kept[event.worker].extend(event.data.split(b"\n"))
            received.setdefault(event.worker, event.received)
        else:
            _notice(event)
    for worker, rows in groupby(merged(kept, order), key=lambda row: row[0]):
        printer.write(worker, b"\n".join(line for _, line, _ in rows), received.get(worker))


def _notice(notice: LogNotice) -> None:
    message = f"{notice.worker}: {notice.message}"
    if notice.is_failure:
        output.error(message, getattr(notice.error, "hint", None))
    else:
        output.warn(message)
