"""Options shared by commands, and how pre- and post-command copies merge.

``-p/-e/-A`` are accepted before the command (``pshctl -e main restart mail``) and after
it (``pshctl restart mail -e main``); the one given after the command wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pshctl.cli import output
from pshctl.cli.complete import complete_app, complete_environment
from pshctl.context import Selection

if TYPE_CHECKING:
    from pshctl.api import Environment
    from pshctl.context import Context

PANEL_TARGET = "Target"
PANEL_RUN = "How it runs"

ProjectOpt = Annotated[
    Optional[str],
    typer.Option(
        "--project", "-p", help="Project ID (env: PSHCTL_PROJECT, PLATFORM_PROJECT).",
        show_default=False, rich_help_panel=PANEL_TARGET,
    ),
]
EnvironmentOpt = Annotated[
    Optional[str],
    typer.Option(
        "--environment", "-e", autocompletion=complete_environment,
        help="Environment (env: PSHCTL_ENVIRONMENT, PLATFORM_BRANCH; then default_environment "
        "in .pshctl.yaml; then the git branch).",
        show_default=False, rich_help_panel=PANEL_TARGET,
    ),
]
AppOpt = Annotated[
    Optional[str],
    typer.Option(
        "--app", "-A", autocompletion=complete_app,
        help="Application name (env: PSHCTL_APP, PLATFORM_APPLICATION_NAME).",
        show_default=False, rich_help_panel=PANEL_TARGET,
    ),
]
MaxParallelOpt = Annotated[
    int,
    typer.Option("--max-parallel", min=1,
                 help="Workers handled at once (SSH handshakes: 8 at once whatever this is).",
                 rich_help_panel=PANEL_RUN),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]
InstanceOpt = Annotated[
    Optional[int],
    typer.Option(
        "--instance", "-I", min=0, metavar="N",
        help="Only instance N of each worker (WORKER.N names one instance too). "
        "Default: every instance.", show_default=False,
    ),
]
AcceptNewOpt = Annotated[
    bool,
    typer.Option(
        "--accept-new",
        help="Trust and record the host key of a host never seen before "
        "(as OpenSSH's StrictHostKeyChecking=accept-new). A changed key is still refused.",
    ),
]


@dataclass
class GlobalState:
    """What the top-level callback saw, kept on ``ctx.obj``."""

    selection: Selection = field(default_factory=Selection)
    verbose: int = 0
    refresh: bool = False  # ask the platform's API again, not its cache


def global_state(ctx: typer.Context) -> GlobalState:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalState):
        root.obj = GlobalState()
    return root.obj


def open_environment(
    ctx: typer.Context,
    project: str | None,
    environment: str | None,
    app: str | None,
    *,
    announce: bool,
    accept_new: bool = False,
) -> Environment:
    """The environment a command acts on, resolved by the Python API.

    Flags after the command win over those before it; SSH options come from the config
    files, ``--accept-new`` and ``-v``. ``announce``: say on stderr which
    project, environment and app (human output; JSON carries them in its envelope).
    """
    from pshctl.api import open_environment as resolve

    chosen = selection(ctx, project, environment, app)
    state = global_state(ctx)
    env = resolve(
        chosen.environment,
        project=chosen.project,
        app=chosen.app,
        accept_new=accept_new,
        verbose=state.verbose,
        refresh=state.refresh,
    )
    if announce:
        output.context(context_line(env.context))
    choice = env.context.app.choice
    if choice is not None and choice.note:  # both products' files here: say which were read
        output.info(choice.note)
    return env


def context_line(context: Context) -> str:
    """``project abc · environment main (from the git branch) · app shop``."""
    where = f"environment {context.environment}"
    if context.environment_source:
        where += f" (from {context.environment_source})"
    parts = [f"project {context.project}"] if context.project else []
    return " · ".join([*parts, where, f"app {context.app.name}"])


def program() -> str:
    """How to run pshctl again, as it was run now: ``pshctl`` when that name finds this same
    program on PATH, else its full path, so that a suggested command works as printed
    (``make demo`` runs ``.venv/bin/pshctl``, which a fresh shell does not find)."""
    import os
    import shlex
    import shutil
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) != "pshctl":  # python -m pshctl, embedded, in-process tests
        return "pshctl"
    found = shutil.which("pshctl")
    try:
        if found and os.path.samefile(found, shutil.which(argv0) or argv0):
            return "pshctl"
    except OSError:
        pass
    return shlex.quote(os.path.abspath(argv0))


def selection(
    ctx: typer.Context,
    project: str | None = None,
    environment: str | None = None,
    app: str | None = None,
) -> Selection:
    """The -p/-e/-A flags, command-level values over pre-command ones."""
    before = global_state(ctx).selection
    return Selection(
        project=project or before.project,
        environment=environment or before.environment,
        app=app or before.app,
    )
