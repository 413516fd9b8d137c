"""``pshctl workers`` and ``pshctl workers show NAME``: the app's workers, as configured.

Reads only the app definition: no environment, no SSH. Inherited values carry the text
" (inherited)" so the meaning survives without colour and when piped. Which product's rules
applied is said in both forms (a ``product`` row or key); when a repository holds both
products' definitions, a note on stderr says which were read.
"""

from __future__ import annotations

import json
import shutil
import textwrap
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
# The list's columns beyond name and start command, per product: what means something there.
LIST_KEYS = {
    "platformsh": ("size", "disk", "mounts", "relationships"),
    "upsun": ("container_profile", "mounts", "relationships"),
}
_HEADINGS = {"container_profile": "profile"}
MIN_VALUE_WIDTH = 20  # `workers show` never wraps values narrower than this

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


def _tell(app: AppDefinition, worker: ContainerConfig | None = None) -> None:
    """Which definitions were read, and what is odd in them (stderr, both modes); for one
    worker, not what is odd in the others."""
    note = app.choice.note if app.choice else None
    if note:
        output.info(note)
    others = {w for c in app.containers if c is not worker for w in c.warnings}
    for warning in app.all_warnings():
        if worker is None or warning not in others or warning in worker.warnings:
            output.warn(warning)


@workers_app.callback()
def list_workers(
    ctx: typer.Context,
    json_: JsonOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
) -> int | None:
    """List the app's workers: mounts, relationships, start command (and size and disk on
    Platform.sh, container profile on Upsun)."""
    if ctx.invoked_subcommand is not None:  # `workers -A x --json show NAME`
        global_state(ctx).selection = selection(ctx, project, environment, app_name)
        ctx.meta[_JSON_KEY] = json_
        return None
    app = _load(ctx, project, environment, app_name)
    _tell(app)
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
    """Show one worker's whole effective configuration, each key marked own, inherited,
    default or platform (set outside the file, e.g. Upsun's resources)."""
    app = _load(ctx, project, environment, app_name)
    as_json = json_ or bool(ctx.meta.get(_JSON_KEY))
    worker = app.worker(name)
    _tell(app, worker)
    return output.emit(_show_report(app, worker), as_json=as_json)


def _json(app: AppDefinition, worker: ContainerConfig) -> dict[str, Any]:
    data = worker.to_dict()
    data["choice"] = app.choice.to_dict() if app.choice else None
    return data


# --- the list ------------------------------------------------------------------------


def _list_report(app: AppDefinition) -> output.Report:
    workers = list(app.workers.values())
    notes = [] if workers else [f"app '{app.name}' defines no workers"]
    keys = LIST_KEYS.get(app.product, LIST_KEYS["platformsh"])
    return output.Report(
        data=[_json(app, worker) for worker in workers],
        columns=("name", *(_HEADINGS.get(k, k) for k in keys), "start command"),
        rows=[_row(worker, keys) for worker in workers],
        notes=notes,
    )


def _row(worker: ContainerConfig, keys: tuple[str, ...]) -> list[output.Cell]:
    return [worker.name, *(_cell(worker, key) for key in keys),
            _first_line(worker.start_command)]


def _cell(worker: ContainerConfig, key: str) -> output.Cell:
    value = getattr(worker, key)
    if key in ("mounts", "relationships"):
        text = ", ".join(value) or "none"
    else:
        text = NONE if value is None else str(value)
    if key in worker.inherited:
        return (text + INHERITED, DIM)
    return text


def _first_line(command: str) -> str:
    lines = command.strip().splitlines() or [""]
    return lines[0] + (" …" if len(lines) > 1 else "")


# --- one worker ----------------------------------------------------------------------


def _show_report(app: AppDefinition, worker: ContainerConfig) -> output.Report:
    from pshctl.appdef import rules_for

    rules = rules_for(worker.product)
    rows: list[list[output.Cell]] = [["name", worker.name, "own"],
                                     ["product", rules.label, "rules"]]
    for key in rules.shown:
        source = worker.source_of(key)
        value = rules.from_platform[key] if source == "platform" else getattr(worker, key)
        for path, text in _flatten(key, value):
            rows.append([path, text, (source, DIM) if source != "own" else source])
    for path, text in _flatten("commands", _ordered_commands(worker.commands)):
        rows.append([path, text, "own"])
    return output.Report(
        data=_json(app, worker),
        columns=("key", "value", "source"),
        rows=_wrap(rows),
        title=f"worker {worker.name}",
    )


def _ordered_commands(commands: dict[str, str]) -> dict[str, str]:
    """``pre_start``, ``start``, ``post_start`` in the order they run, then any others."""
    from pshctl.appdef.parse import COMMANDS

    first = {name: commands[name] for name in COMMANDS if name in commands}
    return {**first, **{k: v for k, v in commands.items() if k not in first}}


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


def _wrap(rows: list[list[output.Cell]]) -> list[list[output.Cell]]:
    """Long values continued on rows of their own, so the table fits the terminal
    (``COLUMNS`` when set); ``--json`` keeps every value whole."""
    width = shutil.get_terminal_size().columns
    key_width = max(len(_text(row[0])) for row in rows)
    source_width = max(len(_text(row[2])) for row in rows)
    room = max(MIN_VALUE_WIDTH, width - key_width - source_width - 4)
    wrapped: list[list[output.Cell]] = []
    for key, value, source in rows:
        text = _text(value)
        pieces = textwrap.wrap(text, room, break_on_hyphens=False, drop_whitespace=False,
                               replace_whitespace=False) if len(text) > room else [text]
        for index, piece in enumerate(pieces or [""]):
            wrapped.append([key if index == 0 else "", piece, source if index == 0 else ""])
    return wrapped


def _text(cell: output.Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]
