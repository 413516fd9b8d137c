"""``pshctl workers`` and ``pshctl workers show NAME``: the app's workers, as configured.

Reads only the app definition: no environment, no SSH. Inherited values carry the text
" (inherited)" so the meaning survives without colour and when piped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pshctl.cli import output
from pshctl.cli.complete import complete_worker
from pshctl.cli.options import AppOpt, EnvironmentOpt, JsonOpt, ProjectOpt, global_state, selection

if TYPE_CHECKING:
    from pshctl.appdef import AppDefinition, ContainerConfig

INHERITED = " (inherited)"
DIM = "dim"
NONE = "-"
_JSON_KEY = "pshctl.workers.json"

workers_app = typer.Typer(
    name="workers",
    help="List the app's workers and their effective configuration.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(workers_app)


def _load(ctx: typer.Context, project: str | None, environment: str | None,
          app_name: str | None) -> AppDefinition:
    from pshctl.context import resolve_app

    chosen = selection(ctx, project, environment, app_name)
    global_state(ctx).selection = chosen  # so `workers -A x show NAME` keeps the -A
    return resolve_app(chosen)[1]


@workers_app.callback()
def list_workers(
    ctx: typer.Context,
    json_: JsonOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
) -> int | None:
    """List the app's workers: size, disk, mounts, relationships, start command."""
    if ctx.invoked_subcommand is not None:  # `workers -A x --json show NAME`
        global_state(ctx).selection = selection(ctx, project, environment, app_name)
        ctx.meta[_JSON_KEY] = json_
        return None
    app = _load(ctx, project, environment, app_name)
    return output.emit(_list_report(app), as_json=json_)


@workers_app.command("show")
def show_worker(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
            help="The worker's name.", show_default=False, autocompletion=complete_worker
        )],
    json_: JsonOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
) -> int:
    """Show one worker's whole effective configuration, each key marked own or inherited."""
    app = _load(ctx, project, environment, app_name)
    as_json = json_ or bool(ctx.meta.get(_JSON_KEY))
    return output.emit(_show_report(app.worker(name)), as_json=as_json)


# --- the list ------------------------------------------------------------------------


def _list_report(app: AppDefinition) -> output.Report:
    workers = list(app.workers.values())
    notes = [] if workers else [f"app '{app.name}' defines no workers"]
    return output.Report(
        data=[worker.to_dict() for worker in workers],
        columns=("name", "size", "disk", "mounts", "relationships", "start command"),
        rows=[_row(worker) for worker in workers],
        notes=notes,
    )


def _row(worker: ContainerConfig) -> list[output.Cell]:
    return [
        worker.name,
        _cell(worker, "size", worker.size or NONE),
        _cell(worker, "disk", NONE if worker.disk is None else str(worker.disk)),
        _cell(worker, "mounts", ", ".join(worker.mounts) or "none"),
        _cell(worker, "relationships", ", ".join(worker.relationships) or "none"),
        _first_line(worker.start_command),
    ]


def _cell(worker: ContainerConfig, key: str, text: str) -> output.Cell:
    if key in worker.inherited:
        return (text + INHERITED, DIM)
    return text


def _first_line(command: str) -> str:
    lines = command.strip().splitlines() or [""]
    return lines[0] + (" …" if len(lines) > 1 else "")


# --- one worker ----------------------------------------------------------------------


def _show_report(worker: ContainerConfig) -> output.Report:
    from pshctl.appdef import INHERITABLE

    rows: list[list[output.Cell]] = [["name", worker.name, "own"]]
    for key in (*INHERITABLE, "commands"):
        source = worker.source_of(key) if key != "commands" else "own"
        for path, text in _flatten(key, getattr(worker, key)):
            rows.append([path, text, (source, DIM) if source != "own" else source])
    return output.Report(
        data=worker.to_dict(),
        columns=("key", "value", "source"),
        rows=rows,
        title=f"worker {worker.name}",
    )


def _flatten(key: str, value: Any) -> list[tuple[str, str]]:
    """Dotted ``key.sub`` rows; a multi-line string continues on rows with an empty key."""
    if isinstance(value, dict) and value:
        rows = []
        for sub, item in value.items():
            rows.extend(_flatten(f"{key}.{sub}", item))
        return rows
    if value is None:
        return [(key, NONE)]
    if isinstance(value, dict):
        return [(key, "none")]
    text = value if isinstance(value, str) else json.dumps(value)
    lines = text.splitlines() or [""]
    return [(key, lines[0]), *(("", line) for line in lines[1:])]
