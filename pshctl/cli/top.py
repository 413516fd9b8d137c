"""``pshctl top``: CPU %, memory and uptime of each worker's process tree.

One connection per container: the supervisor's status (as ``pshctl status`` reads it),
then one read of ``/proc`` that looks twice, ``--sample`` seconds apart, for CPU %.
``status --wide`` shows the same columns next to the status ones (:func:`usage_cells`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pshctl.cli import output
from pshctl.cli.lifecycle import (
    MaxParallelOpt,
    WorkersArg,
    grouped_rows,
    health_cell,
    seconds,
    up_summary,
    watch_reports,
)
from pshctl.cli.options import (
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    InstanceOpt,
    JsonOpt,
    ProjectOpt,
    open_environment,
)
from pshctl.defaults import DEFAULT_MAX_PARALLEL, DEFAULT_USAGE_SAMPLE

if TYPE_CHECKING:
    from pshctl.lifecycle import WorkerStatus
    from pshctl.outcome import Outcome, Results
    from pshctl.top import TreeUsage

EPILOG = (
    "Examples: pshctl top  |  pshctl top queue mail  |  pshctl top --watch  |  "
    "pshctl top --json | jq '.workers[] | {name, cpu: .usage.cpu_percent}'. "
    "CPU 100% is one core busy; MEMORY adds up the RSS of the tree's processes."
)
USAGE_COLUMNS = ("procs", "cpu", "memory")
TOP_COLUMNS = ("worker", "state", "pid", *USAGE_COLUMNS, "uptime", "error")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("top", epilog=EPILOG)(top_command)


def human_bytes(count: int) -> str:
    """``512B``, ``12.5M``, ``1.2G``: binary units, as ``top`` and ``ps`` show them."""
    value = float(count)
    for unit in ("B", "K", "M", "G"):
        if value < 1024:
            return f"{int(value)}B" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}T"


def usage_cells(usage: TreeUsage | None) -> list[output.Cell]:
    """PROCS, CPU and MEMORY of one worker ("-" when it runs nothing)."""
    if usage is None:
        return ["-", "-", "-"]
    cpu = "-" if usage.cpu_percent is None else f"{usage.cpu_percent:.1f}%"
    return [str(usage.processes), cpu, human_bytes(usage.rss_bytes)]


def top_report(results: Results[WorkerStatus]) -> output.Report:
    def row(outcome: Outcome[WorkerStatus]) -> list[output.Cell]:
        status = outcome.value
        assert status is not None, "a status read keeps a value for every worker"
        usage = status.usage
        return [outcome.name, health_cell(status.health),
                "-" if status.pid is None else str(status.pid), *usage_cells(usage),
                seconds(usage.uptime_s) if usage else "-", outcome.message or ""]

    return output.Report({"workers": [o.to_dict() for o in results]}, TOP_COLUMNS,
                         grouped_rows(results, row, up_summary), exit_code=results.exit_code)


def top_command(
    ctx: typer.Context,
    workers: WorkersArg = None,
    as_json: JsonOpt = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.2, metavar="SECONDS",
                                            help="Seconds between refreshes (--watch).")] = 2.0,
    sample: Annotated[float, typer.Option("--sample", min=0.1, max=60, metavar="SECONDS",
                                          help="Seconds CPU % is measured over.")
                      ] = DEFAULT_USAGE_SAMPLE,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
    instance: InstanceOpt = None,
    accept_new: AcceptNewOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app: AppOpt = None,
) -> int:
    """Show CPU %, memory (RSS) and uptime of each worker's process tree, read from /proc.

    Every worker of the environment when none is named; WORKER.N (or -I N) for one
    instance of a scaled worker. Exit 1 when a worker could not be read (4 when none
    could be reached).
    """
    names = list(dict.fromkeys(workers or []))
    env = open_environment(ctx, project, environment, app, announce=not as_json,
                           accept_new=accept_new)
    with env.status_reader(names, usage=True, usage_sample=sample, instance=instance,
                           max_parallel=max_parallel) as read:
        if watch:
            return watch_reports(lambda: top_report(read()), interval, as_json)
        return output.emit(top_report(read()), as_json=as_json)

