"""`pshctl status | stop | start | restart | wait`: thin commands over the Python API.

Each command turns its options into one call on :class:`pshctl.api.Environment` (the
same calls a runbook makes) and renders what comes back.

Progress goes to stderr: a live row per worker on a terminal, one plain line per event
otherwise. Results go to stdout as one table or one JSON document. During stop, start
and restart, Ctrl-C or SIGTERM lets pshctl finish starting what it stopped; a second
one aborts at once, naming the workers left down and the command that starts them.
"""

from __future__ import annotations

import inspect
import os
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, ClassVar, Optional, TypeVar

import typer

from pshctl.cli import output
from pshctl.cli.complete import complete_worker
from pshctl.cli.interrupts import two_step
from pshctl.cli.options import (
    PANEL_RUN,
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    InstanceOpt,
    JsonOpt,
    MaxParallelOpt,
    ProjectOpt,
    open_environment,
    program,
)
from pshctl.defaults import (
    DEFAULT_GRACE,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_VERIFY,
    DEFAULT_WAIT_TIMEOUT,
)
from pshctl.errors import ExitCode, UsageError
from pshctl.outcome import exit_code, failure_summary

if TYPE_CHECKING:
    from pshctl.api import Environment
    from pshctl.context import Context
    from pshctl.lifecycle import ActionResult, Control, Event, WorkerStatus
    from pshctl.outcome import Outcome, Results, WorkerOutcomes
    from pshctl.supervisor import Step
    from pshctl.targets import Target

T = TypeVar("T")


WorkersArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="Worker names.", metavar="WORKER...", show_default=False,
        autocompletion=complete_worker,
    ),
]
WorkerOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--worker", "-w", help="A worker name (repeatable).", show_default=False,
        autocompletion=complete_worker,
    ),
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every worker of the app.")]
GraceOpt = Annotated[
    int,
    typer.Option("--grace", min=0, help="Seconds from SIGTERM to SIGKILL (as Platform.sh).",
                 rich_help_panel=PANEL_RUN),
]
VerifyOpt = Annotated[
    float,
    typer.Option("--verify", min=0, help="Seconds a started worker must stay up.",
                 rich_help_panel=PANEL_RUN),
]
RollingOpt = Annotated[
    bool,
    typer.Option("--rolling", help="One batch at a time; stop at the first failure. A "
                 "batch never holds every instance of a worker.",
                 rich_help_panel=PANEL_RUN),
]
BatchOpt = Annotated[
    int,
    typer.Option("--batch", min=1, help="Workers (instances) per batch with --rolling.",
                 rich_help_panel=PANEL_RUN),
]
KeepGoingOpt = Annotated[
    bool,
    typer.Option("--keep-going", help="With --rolling, go on after a failed batch.",
                 rich_help_panel=PANEL_RUN),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the remote commands per worker; run nothing.")
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("status")(status_command)
    for action in ACTION_HELP:
        app.command(action)(_action_command(action))
    app.command("wait")(wait_command)


# ---------------------------------------------------------------- shared


def _resolve(
    ctx: typer.Context, project: str | None, environment: str | None, app: str | None,
    names: Sequence[str], *, all_workers: bool, verb: str | None, accept_new: bool,
    announce: bool,
) -> Environment:
    """The environment; ``verb`` set means names (or --all) are required."""
    if names and all_workers:
        raise UsageError("--all acts on every worker; name no workers with it",
                         hint=f"pshctl {verb or 'status'} {' '.join(names)}  or  "
                              f"pshctl {verb or 'status'} --all")
    if not names and not all_workers and verb is not None:
        raise UsageError(f"`pshctl {verb}` needs worker names, or --all",
                         hint=f"pshctl {verb} WORKER... | pshctl {verb} --all")
    return open_environment(ctx, project, environment, app, announce=announce,
                            accept_new=accept_new)


def _kept(outcome: Outcome[T]) -> T:
    """The value lifecycle keeps for every worker, failed ones included."""
    if outcome.value is None:
        raise AssertionError(f"{outcome.name}: no value") from outcome.error
    return outcome.value


def _names(positional: list[str] | None, flagged: list[str] | None) -> list[str]:
    return list(dict.fromkeys([*(positional or []), *(flagged or [])]))


def _start_command(context: Context, names: Sequence[str]) -> str:
    """The command line that starts these workers again, for the same environment."""
    argv = ["start", *names, "-e", context.environment]
    if context.project:
        argv += ["-p", context.project]
    argv += ["-A", context.app.name]
    return f"{program()} {shlex.join(argv)}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    value = int(value)
    if value < 60:
        return f"{value}s"
    if value < 3600:
        return f"{value // 60}m{value % 60:02d}s"
    if value < 86400:
        return f"{value // 3600}h{value % 3600 // 60:02d}m"
    return f"{value // 86400}d{value % 86400 // 3600:02d}h"


_HEALTH_STYLE = {"up": "green", "starting": "yellow", "down": "yellow",
                 "crash-looping": "red bold", "unsupervised": "red", "unreachable": "red"}


def health_cell(word: str) -> output.Cell:
    return (word, _HEALTH_STYLE.get(word, ""))


def grouped_rows(results: Results[T], row: Callable[[Outcome[T]], list[output.Cell]],
                 summary: Callable[[WorkerOutcomes[T]], output.Cell],
                 ) -> list[list[output.Cell]]:
    """One row per outcome; the instances of a scaled worker indented under a row of
    their worker that holds ``summary`` (``queue  2/3 up``). A worker of one instance is
    one row, as it always was."""
    rows: list[list[output.Cell]] = []
    for group in results.by_worker():
        cells = [row(outcome) for outcome in group.items]
        if len(cells) == 1:
            rows += cells
            continue
        width = len(cells[0])
        rows.append([group.worker, summary(group), *[""] * (width - 2)])
        rows += [[f"  {output.cell_text(c[0])}", *c[1:]] for c in cells]
    return rows


def up_summary(group: WorkerOutcomes[WorkerStatus]) -> output.Cell:
    """``2/3 up``: how many instances of the worker run (``(1 starting)``: of which so
    many only just started), in the colour of the worst."""
    words = [o.value.health if o.value is not None else "unknown" for o in group.items]
    up, starting, total = _running(words), words.count("starting"), len(words)
    text = f"{up}/{total} up" + (f" ({starting} starting)" if starting else "")
    return (text, "green" if up == total else "red bold" if not up else "yellow")


def _running(words: Sequence[str]) -> int:
    return sum(1 for word in words if word in ("up", "starting"))


# ---------------------------------------------------------------- status


STATUS_COLUMNS = ("worker", "state", "pid", "uptime", "restarts", "error")


def _restarts(status: WorkerStatus) -> str:
    """``3 (last exit 1)``; ``-`` where the supervisor does not count them (runit)."""
    if status.restarts is None:
        return "-"
    return f"{status.restarts}" + (f" (last {status.last_exit})" if status.last_exit else "")


def _status_report(results: Results[WorkerStatus], *, wide: bool = False) -> output.Report:
    from pshctl.cli.top import USAGE_COLUMNS, usage_cells

    def row(outcome: Outcome[WorkerStatus]) -> list[output.Cell]:
        s = _kept(outcome)
        extra = usage_cells(s.usage) if wide else []
        return [outcome.name, health_cell(s.health), "-" if s.pid is None else str(s.pid),
                seconds(s.uptime_s) if s.pid is not None else "-", _restarts(s), *extra,
                outcome.message or ""]

    columns = (*STATUS_COLUMNS[:5], *USAGE_COLUMNS, "error") if wide else STATUS_COLUMNS
    data = {"workers": [o.to_dict() for o in results], "summary": status_summary(results)}
    return output.Report(data, columns, grouped_rows(results, row, up_summary),
                         exit_code=results.exit_code)


def status_summary(results: Results[WorkerStatus]) -> list[dict[str, object]]:
    """Per worker: how many instances it has, and how many of them run (up or starting)."""
    return [{"worker": g.worker, "instances": len(g.items),
             "up": _running([o.value.health for o in g.items if o.value is not None])}
            for g in results.by_worker()]


def status_command(
    ctx: typer.Context,
    workers: WorkersArg = None,
    worker: WorkerOpt = None,
    as_json: JsonOpt = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.2,
                                            help="Seconds between refreshes (--watch).")] = 2.0,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Also the columns of `pshctl top`: processes, CPU %, memory.")] = False,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
    instance: InstanceOpt = None,
    accept_new: AcceptNewOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app: AppOpt = None,
) -> int:
    """Show each worker's state: up, down, starting, crash-looping, unsupervised, unreachable.

    Every worker of the environment when none is named; one row per instance of a
    scaled worker, under a row of its worker (`queue  2/3 up`). Exit 1 when a worker
    could not be read (4 when none could be reached).
    """
    names = _names(workers, worker)
    env = _resolve(ctx, project, environment, app, names, all_workers=False, verb=None,
                   accept_new=accept_new, announce=not as_json)
    with env.status_reader(names, usage=wide, instance=instance,
                           max_parallel=max_parallel) as read:
        if not watch:
            return output.emit(_status_report(read(), wide=wide), as_json=as_json)
        return watch_reports(lambda: _status_report(read(), wide=wide), interval, as_json)


def watch_reports(render: Callable[[], output.Report], interval: float, as_json: bool) -> int:
    """Render again every ``interval`` s until Ctrl-C: in place on a terminal, else one
    table (or one JSON line) after the other."""
    if as_json or not output.is_terminal():
        while True:
            report = render()
            if as_json:
                output.print_json_line(report.data)
            else:
                output.emit(report)
                output.write_text("\n")
            time.sleep(interval)
    with output.LiveTable() as live:
        while True:
            report = render()
            title = f"every {interval:g}s · {time.strftime('%H:%M:%S')} · Ctrl-C to quit"
            live.show(report.columns, report.rows, title=title)
            time.sleep(interval)


# ---------------------------------------------------------------- progress and interrupts


class _Progress:
    """Live rows per worker on a terminal (stderr); one line per event otherwise."""

    PHASE_STYLE: ClassVar[dict[str, str]] = {
        "done": "green", "failed": "red bold", "skipped": "yellow",
    }

    def __init__(self, names: Sequence[str]) -> None:
        self.rows: dict[str, tuple[str, str]] = {n: ("waiting", "") for n in names}
        self.live: output.LiveTable | None = None

    def __enter__(self) -> _Progress:
        if output.is_terminal(stderr=True):
            self.live = output.LiveTable(stderr=True, transient=True).__enter__()
            self._show()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.close()

    def _show(self) -> None:
        assert self.live is not None
        rows: list[list[output.Cell]] = [[name, (phase, self.PHASE_STYLE.get(phase, "")), detail]
                                         for name, (phase, detail) in self.rows.items()]
        self.live.show(("worker", "step", "detail"), rows)

    def __call__(self, event: Event) -> None:
        same = self.rows.get(event.worker) == (event.phase, event.detail)
        self.rows[event.worker] = (event.phase, event.detail)
        if self.live is not None:
            self._show()
        # A stop's progress repeats its event every second: one line per change.
        elif event.phase != "connecting" and not same:
            detail = f": {event.detail}" if event.detail else ""
            output.info(f"{event.worker}: {event.phase}{detail}")

    def say(self, message: str) -> None:
        if self.live is not None:
            self.live.say(message)
        else:
            output.info(message)


@contextmanager
def _interrupt_guard(control: Control, progress: _Progress, context: Context,
                     action: str) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP: first, finish what is in flight; again, abort and say
    what is down."""

    def first() -> None:
        control.interrupt()
        busy = control.in_flight()
        doing = "finishing " + ", ".join(busy) if busy else "stopping"
        what = "starting what was stopped; " if action == "restart" else ""
        try:
            progress.say(f"interrupted: {doing} ({what}no new worker begins). "
                         "Interrupt again to abort at once.")
        except OSError:  # the terminal is gone (SIGHUP): the work goes on all the same
            pass

    def again() -> None:
        control.interrupt()
        _abort(control, progress, context, action)

    with two_step(first, again):
        yield


def _abort(control: Control, progress: _Progress, context: Context, action: str) -> None:
    """The second interrupt: say exactly what is down and how to bring it back, exit now."""
    try:
        progress.__exit__()
        down = control.possibly_down() if action != "stop" else []
        if down:
            output.error(f"aborted; these workers may be down: {', '.join(down)}",
                         f"bring them back with: {_start_command(context, down)}")
        else:
            output.error("aborted; no worker was left down by pshctl")
        output.flush()
    finally:
        # Threads may be blocked in network reads: leave without waiting for them.
        os._exit(int(ExitCode.INTERRUPTED))


# ---------------------------------------------------------------- stop / start / restart


ACTION_COLUMNS = ("worker", "result", "stop", "old pid", "new pid", "state", "error")


def _action_report(results: Results[ActionResult], context: Context,
                   interrupted: bool) -> output.Report:
    def row(outcome: Outcome[ActionResult]) -> list[output.Cell]:
        r = _kept(outcome)
        verdict = ("ok", "green") if outcome.ok else ("skipped", "yellow") \
            if not r.attempted else ("failed", "red bold")
        stop = f"{r.stop} {r.stop_s:.1f}s" if r.stop and r.stop_s is not None else "-"
        error = (outcome.message or "") + (" (the worker is down)" if r.left_down else "")
        return [outcome.name, verdict, stop, str(r.old_pid or "-"), str(r.new_pid or "-"),
                health_cell(r.health), error]

    def summary(group: WorkerOutcomes[ActionResult]) -> output.Cell:
        done = sum(1 for o in group.items if o.ok)
        return (f"{done}/{len(group.items)} ok", "green" if group.ok else "red bold")

    rows = grouped_rows(results, row, summary)
    notes = []
    if results.failed:  # a worker with one failed instance is a failed worker
        notes.append(f"{failure_summary(results.items)}: "
                     f"{', '.join(o.name for o in results.failed)}")
    down = [o.name for o in results if o.value is not None and o.value.left_down]
    if down:
        notes.append(f"left down: {', '.join(down)}; start them with: "
                     f"{_start_command(context, down)}")
    data = {"workers": [o.to_dict() for o in results], "interrupted": interrupted}
    # An interrupt that came after the last worker finished still counts.
    code = exit_code(results.items, interrupted=interrupted or results.interrupted)
    return output.Report(data, ACTION_COLUMNS, rows, notes=notes, exit_code=code)


def _dry_run(plans: Sequence[tuple[Target, list[Step]]], as_json: bool) -> int:
    workers, lines = [], []
    for target, steps in plans:
        where = target.destination + (f":{target.port}" if target.port else "")
        lines.append(f"{target.name} ({where}):")
        commands = []
        for step in steps:
            command = step.command
            lines.append(f"  {command}" + (f"    # {step.when}" if step.when else ""))
            commands.append({"argv": list(step.argv), "command": command, "when": step.when})
        workers.append({"name": target.name, "destination": where, "commands": commands})
    return output.emit(output.Report({"workers": workers, "dry_run": True}, lines=lines),
                       as_json=as_json)


ACTION_HELP = {
    "stop": "Stop workers as Platform.sh does: SIGTERM, then SIGKILL after --grace seconds.",
    "start": "Start workers and check each stays up for --verify seconds.",
    "restart": "Restart workers: stop (SIGTERM, SIGKILL after --grace), start, verify a new "
               "pid\nthat stays up for --verify seconds. Exit 1 if any worker failed.",
}
# The options an action does not use are left out of its signature, so typer neither
# offers nor passes them.
_UNUSED = {"stop": {"verify"}, "start": {"grace"}, "restart": set()}


def _action_command(action: str) -> Callable[..., int]:
    """The typer command for ``stop``, ``start`` or ``restart``: one body for all three."""

    def command(
        ctx: typer.Context,
        workers: WorkersArg = None,
        worker: WorkerOpt = None,
        all_workers: AllOpt = False,
        instance: InstanceOpt = None,
        grace: GraceOpt = DEFAULT_GRACE,
        verify: VerifyOpt = DEFAULT_VERIFY,
        max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
        rolling: RollingOpt = False,
        batch: BatchOpt = 1,
        keep_going: KeepGoingOpt = False,
        dry_run: DryRunOpt = False,
        as_json: JsonOpt = False,
        accept_new: AcceptNewOpt = False,
        project: ProjectOpt = None,
        environment: EnvironmentOpt = None,
        app: AppOpt = None,
    ) -> int:
        from pshctl.lifecycle import Control

        names = _names(workers, worker)
        env = _resolve(ctx, project, environment, app, names, all_workers=all_workers,
                       verb=action, accept_new=accept_new, announce=not as_json)
        if dry_run:
            return _dry_run(env.plan(action, names, all_workers=all_workers, grace=grace,
                                     verify=verify, instance=instance), as_json)
        control = Control()
        rows = [t.name for t in env.targets(names, all_workers=all_workers,
                                            instance=instance)]  # kept by env
        with _Progress(rows) as progress, \
                _interrupt_guard(control, progress, env.context, action):
            results = env.act(action, names, all_workers=all_workers, grace=grace,
                              verify=verify, max_parallel=max_parallel, rolling=rolling,
                              batch=batch, keep_going=keep_going, control=control,
                              on_event=progress, instance=instance)
        return output.emit(_action_report(results, env.context, control.interrupted),
                           as_json=as_json)

    signature = inspect.signature(command, eval_str=True)
    command.__signature__ = signature.replace(parameters=[  # type: ignore[attr-defined]
        p for p in signature.parameters.values() if p.name not in _UNUSED[action]])
    command.__name__ = f"{action}_command"
    command.__doc__ = ACTION_HELP[action]
    return command


# ---------------------------------------------------------------- wait


def wait_command(
    ctx: typer.Context,
    workers: WorkersArg = None,
    worker: WorkerOpt = None,
    all_workers: AllOpt = False,
    instance: InstanceOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0,
                                           help="Give up after this many seconds (exit 5).")
                       ] = DEFAULT_WAIT_TIMEOUT,
    stable: Annotated[float, typer.Option("--stable", min=0,
                                          help="Seconds a worker must have been up.")
                      ] = DEFAULT_VERIFY,
    as_json: JsonOpt = False,
    accept_new: AcceptNewOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app: AppOpt = None,
) -> int:
    """Wait until every named worker (every instance of it) is up and stable: exit 0, or
    5 on --timeout.

    Exit 1 at once when a worker's service does not exist (waiting cannot help).
    """
    names = _names(workers, worker)
    env = _resolve(ctx, project, environment, app, names, all_workers=all_workers,
                   verb="wait", accept_new=accept_new, announce=not as_json)
    results = env.wait(names, all_workers=all_workers, timeout=timeout, stable=stable,
                       instance=instance)
    report = _status_report(results)
    late = [o.name for o in results.failed]  # each one not stable in time
    report.data = {**report.data, "ok": not late, "waited_s": round(results.elapsed_s or 0, 2)}
    code = output.emit(report, as_json=as_json)
    if code == ExitCode.TIMEOUT:
        output.error(f"timed out after {timeout:g}s waiting for: {', '.join(late)}")
    elif late:
        output.error(f"cannot come up by waiting: {', '.join(late)}",
                     "their runit service does not exist; see the error column")
    return code
