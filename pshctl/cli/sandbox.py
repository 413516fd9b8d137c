"""``pshctl sandbox up|down|status|env``: run an app's containers on this machine over SSH.

Thin: each command resolves its arguments, makes one call into
:mod:`pshctl.sandbox.manager` and renders the result with :mod:`pshctl.cli.output`.
Exit statuses: 0 done; ``status`` exits 1 when the sandbox is not running; 3 when the
app cannot be found or read, or sshd/runit are not installed.
"""

from __future__ import annotations

import shlex
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pshctl.cli import output
from pshctl.cli.options import AppOpt, JsonOpt, ProjectOpt, program, selection
from pshctl.errors import OperationFailed, UsageError
from pshctl.outcome import Outcome, exit_code

if TYPE_CHECKING:
    from pshctl.sandbox.results import ContainerStatus, DownResult, SandboxStatus

sandbox_app = typer.Typer(
    name="sandbox",
    help="Run the app's web container and workers locally, each reachable over real SSH "
    "as the environment `sandbox`.",
    no_args_is_help=True,
)

AppDirArg = Annotated[
    Optional[Path],
    typer.Argument(
        help="The app's directory (or any directory below the project root). Default: .",
        show_default=False,
    ),
]
class Supervisor(str, Enum):
    runit = "runit"
    systemd = "systemd"


COLUMNS = ("container", "kind", "ssh", "sshd pid", "supervisor", "service", "web")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("up")
def up_command(
    ctx: typer.Context,
    app_dir: AppDirArg = None,
    app_name: AppOpt = None,
    project: ProjectOpt = None,
    supervisor: Annotated[
        Supervisor,
        typer.Option(
            "--supervisor",
            help="What supervises each container's service: runit (sv), or systemd (a "
            "`systemd --user` per container; needs root). A container whose "
            "`supervisor:` is set in .pshctl.yaml's `sandbox` environment keeps that.",
        ),
    ] = Supervisor.runit,
    instances: Annotated[
        Optional[list[str]],
        typer.Option(
            "--instances", metavar="WORKER=N",
            help="Run N instances of a worker (repeatable), each its own container; wins "
            "over `instances:` in .pshctl.yaml's `sandbox` environment.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> int:
    """Start the sandbox (or report it when it already runs)."""
    from pshctl.sandbox import manager

    chosen = selection(ctx, project=project, app=app_name)
    result = manager.up(app_dir or Path.cwd(), chosen.app, project=chosen.project,
                        supervisor=supervisor.value, instances=_counts(instances or []))
    app = _app_option(chosen.app)
    notes = []
    if result.already_running:
        notes.append(f"the sandbox of {result.app} was already running: nothing started")
        if result.outdated:
            notes.append(
                "the app definition changed since it started; to deploy the change: "
                f"{app} sandbox down {shlex.quote(result.project_root)} && "
                f"{app} sandbox up {shlex.quote(result.project_root)}"
            )
    elif result.replaced:
        notes.append(f"replaced a {result.replaced} sandbox of {result.app} (processes gone)")
    return _emit_status(result, as_json, notes=notes, hints=True, app=app)


@sandbox_app.command("down")
def down_command(
    ctx: typer.Context,
    app_dir: AppDirArg = None,
    app_name: AppOpt = None,
    purge: Annotated[
        bool,
        typer.Option("--purge", help="Also delete the sandbox's mounts, logs and keys."),
    ] = False,
    as_json: JsonOpt = False,
) -> int:
    """Stop every process of the sandbox (services get SIGTERM, SIGKILL 15 s later)."""
    from pshctl.sandbox import manager

    chosen = selection(ctx, app=app_name)
    result = manager.down(app_dir or Path.cwd(), chosen.app, purge=purge)
    return output.emit(_down_report(result), as_json=as_json)


@sandbox_app.command("status")
def status_command(
    ctx: typer.Context,
    app_dir: AppDirArg = None,
    app_name: AppOpt = None,
    all_apps: Annotated[
        bool, typer.Option("--all", help="Every sandbox of this user, whatever the app.")
    ] = False,
    as_json: JsonOpt = False,
) -> int:
    """What the sandbox runs and where: containers, SSH ports, PIDs, service states."""
    from pshctl.sandbox import manager

    if all_apps:
        return _emit_all(manager.list_sandboxes(), as_json)
    chosen = selection(ctx, app=app_name)
    result = manager.status(app_dir or Path.cwd(), chosen.app)
    return _emit_status(result, as_json, app=_app_option(chosen.app))


@sandbox_app.command("env")
def env_command(
    ctx: typer.Context,
    app_dir: AppDirArg = None,
    app_name: AppOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """Print the variables that point pshctl at the sandbox's emulated platform API.

    Use them as `eval "$(pshctl sandbox env)"`, then `pshctl -e main status`: pshctl then
    finds the environment, its containers and an SSH certificate through the API, as on
    Upsun. The token printed is the sandbox's own (it opens nothing else).
    """
    from pshctl.sandbox import manager

    chosen = selection(ctx, app=app_name)
    variables = manager.api_environment(app_dir or Path.cwd(), chosen.app)
    lines = [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return output.emit(output.Report(data=variables, lines=lines), as_json=as_json)


def _counts(values: list[str]) -> dict[str, int]:
    """``queue=3`` -> {"queue": 3}."""
    counts = {}
    for value in values:
        name, equals, number = value.partition("=")
        if not equals or not name or not number.strip().isdigit():
            raise UsageError(f"--instances takes WORKER=N, not {value!r}",
                             hint="e.g. --instances queue=3")
        counts[name.strip()] = int(number)
    return counts


def _app_option(app: str | None) -> str:
    """``pshctl`` (as it was run) and ``-A NAME`` when the app was chosen (several apps):
    the start of the commands suggested."""
    return program() + (f" -A {shlex.quote(app)}" if app else "")


# --- rendering -----------------------------------------------------------------------


def _emit_status(
    result: SandboxStatus,
    as_json: bool,
    *,
    notes: list[str] | None = None,
    hints: bool = False,
    app: str = "pshctl",
) -> int:
    lines = [_summary(result, app)]
    if result.running and hints:
        where = shlex.quote(result.project_root)
        lines += [
            f"try it from {result.project_root}:",
            f"  cd {where} && {app} -e sandbox status",
            f"  {app} -e sandbox ssh --worker=<name>     "
            f"{app} -e sandbox logs -f <name>",
            f"or through its emulated platform API: eval \"$({app} sandbox env {where})\" "
            f"&& {app} -e main status",
            f"stop it: {app} sandbox down {where}",
        ]
    report = output.Report(
        data=result.to_dict(),
        columns=COLUMNS if result.containers else (),
        rows=[_row(c) for c in result.containers],
        lines=lines,
        exit_code=exit_code([_outcome(result)]),
        notes=notes or [],
    )
    return output.emit(report, as_json=as_json)


def _outcome(result: SandboxStatus) -> Outcome[SandboxStatus]:
    """The sandbox as one outcome: it fails unless every process of it runs."""
    failed = None if result.running else OperationFailed(f"the sandbox is {result.health}")
    return Outcome(result.app, result, failed)


def _summary(result: SandboxStatus, app: str = "pshctl") -> str:
    where = shlex.quote(result.project_root)
    if result.health == "stopped":
        return f"no sandbox of {result.app} (start one: {app} sandbox up {where})"
    text = f"sandbox of {result.app}: {result.health}, state in {result.state_dir}"
    if result.health != "running":
        text += f"\nsome of its processes are gone: `{app} sandbox up {where}` "
        text += f"replaces it, `{app} sandbox down {where}` cleans up"
    return text


def _row(container: ContainerStatus) -> list[output.Cell]:
    service = container.service
    style = "green" if service.state == "run" and not service.want else "red"
    sshd = str(container.sshd_pid) if container.sshd_running else f"{container.sshd_pid} (gone)"
    return [
        container.name,
        container.kind,
        container.ssh,
        sshd,
        container.supervisor,
        (service.describe(), style),
        container.web_url or "-",
    ]


def _emit_all(results: list[SandboxStatus], as_json: bool) -> int:
    rows: list[list[output.Cell]] = [
        [r.app, r.health, str(len(r.containers)), r.project_root] for r in results
    ]
    report = output.Report(
        data=[r.to_dict() for r in results],
        columns=("app", "state", "containers", "project root") if results else (),
        rows=rows,
        lines=[] if results else ["no sandboxes"],
    )
    return output.emit(report, as_json=as_json)


def _down_report(result: DownResult) -> output.Report:
    if result.was == "stopped":
        line = f"no sandbox of {result.app} was running"
    else:
        pids = ", ".join(map(str, result.stopped)) or "none left"
        line = f"sandbox of {result.app} stopped ({result.was} before; processes: {pids})"
    if result.purged:
        line += f"; deleted {result.state_dir}"
    return output.Report(data=result.to_dict(), lines=[line])
