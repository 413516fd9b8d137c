"""``pshctl logs``: the last lines of container logs, or a live follow of several at once.

With more than one worker each line starts with the worker's name (in a stable colour on
a terminal, plain ``name | line`` when piped). All lines are written by this thread only,
whole, so workers never mix inside a line. Problems with one worker's log go to stderr
and the others go on.

Exit status: 0; 1 when a worker's log was missing or could not be read; 4 when no worker
could be reached at all; 130 on Ctrl-C.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Mapping, Sequence
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
    from pshctl.logs import LogLines, LogNotice, LogStream

EPILOG = (
    "Examples: pshctl logs  |  pshctl logs queue -n 20  |  pshctl logs --all -f  |  "
    "pshctl logs queue mail -f -t error  |  pshctl logs -n all queue > queue.log  |  "
    "pshctl logs -f queue --json | jq .line"
)
IDLE_CHECK = 0.5  # seconds: how often a quiet follow checks whether stdout's reader left
# Colours a worker's prefix can get; the name picks one, so it is the same every run.
PALETTE = (
    "cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta",
    "bright_green", "bright_yellow", "bright_blue",
)


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
    printer = _Printer([t.name for t in targets], as_json=json_,
                       labels={t.name: (t.container, t.instance) for t in targets})
    try:
        with env.log_stream(request, names, all_workers=all_workers,
                            instance=instance) as stream:
            _drain(stream, printer)
    except BrokenPipeError:
        _quiet_stdout()  # the reader went away (`| head`): stop as cat does
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


def _drain(stream: LogStream, printer: _Printer) -> None:
    from pshctl.logs import LogLines

    for event in stream.events(idle=IDLE_CHECK):
        if event is None:
            if _reader_gone():
                raise BrokenPipeError()
        elif isinstance(event, LogLines):
            printer.lines(event)
        else:
            _notice(event)


def _notice(notice: LogNotice) -> None:
    message = f"{notice.worker}: {notice.message}"
    if notice.is_failure:
        output.error(message, getattr(notice.error, "hint", None))
    else:
        output.warn(message)


class _Printer:
    """Writes line batches: plain text, JSON lines, or coloured prefixes on a terminal."""

    def __init__(self, names: Sequence[str], *, as_json: bool,
                 labels: Mapping[str, tuple[str, int | str]] | None = None) -> None:
        # name -> (worker, instance), for JSON; a name not in it is a worker's own.
        self.labels = dict(labels or {})
        self.as_json = as_json
        self.prefixed = len(names) > 1
        width = max((len(n) for n in names), default=0)
        self.prefixes = {n: f"{n.ljust(width)} | " for n in names}
        self.raw_prefixes = {n: p.encode() for n, p in self.prefixes.items()}
        out = output.console()
        self.styled = (
            self.prefixed and out.is_terminal and out.color_system is not None and not out.no_color
        )

    def lines(self, batch: LogLines) -> None:
        if self.as_json:
            self._json(batch)
        elif self.styled:
            self._styled(batch)
        else:
            self._plain(batch)

    def _plain(self, batch: LogLines) -> None:
        data = batch.data
        if self.prefixed:
            prefix = self.raw_prefixes[batch.worker]
            data = prefix + data.replace(b"\n", b"\n" + prefix)
        binary = getattr(sys.stdout, "buffer", None)  # bytes as they came, no re-encoding
        if binary is None:  # a text-only stdout (tests)
            sys.stdout.write(data.decode("utf-8", "replace") + "\n")
            sys.stdout.flush()
            return
        binary.write(data)
        binary.write(b"\n")
        binary.flush()

    def _json(self, batch: LogLines) -> None:
        import json

        name, received = batch.worker, utc_stamp(batch.received)
        worker, instance = self.labels.get(name, (name, 0))
        sys.stdout.write("".join(
            json.dumps({"worker": worker, "instance": instance, "name": name, "line": line,
                        "received": received}) + "\n"
            for line in batch.lines
        ))
        sys.stdout.flush()

    def _styled(self, batch: LogLines) -> None:
        from rich.text import Text

        prefix = self.prefixes[batch.worker]
        style = colour_for(batch.worker)
        text = Text()
        for line in batch.lines:
            text.append(prefix, style=style)
            text.append(line)  # never markup: plain text into a Text object
            text.append("\n")
        output.console().print(text, end="")


def utc_stamp(seconds: float) -> str:
    """``2026-11-29T03:50:27.123Z``: ISO 8601 in UTC, to the millisecond."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def colour_for(name: str) -> str:
    """A worker's prefix colour: the same for the same name, run after run."""
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


def _reader_gone() -> bool:
    """True when stdout is a pipe whose reading end was closed (``| head`` finished)."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests' StringIO)
        return False
    poller = select.poll()
    poller.register(fd, 0)  # errors and hang-ups are always reported
    return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that flushing at exit cannot complain again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
