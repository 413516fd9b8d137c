"""Options shared by commands, and how pre- and post-command copies merge.

``-p/-e/-A`` are accepted before the command (``pshctl -e main restart mail``) and after
it (``pshctl restart mail -e main``); the one given after the command wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Optional

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
        "--project", "-p", metavar="ID", help="Project ID (env: PSHCTL_PROJECT, PLATFORM_PROJECT).",
        show_default=False, rich_help_panel=PANEL_TARGET,
    ),
]
EnvironmentOpt = Annotated[
    Optional[str],
    typer.Option(
        "--environment", "-e", metavar="NAME", autocompletion=complete_environment,
        help="Environment (env: PSHCTL_ENVIRONMENT, PLATFORM_BRANCH; then default_environment "
        "in .pshctl.yaml; then the git branch).",
        show_default=False, rich_help_panel=PANEL_TARGET,
    ),
]
AppOpt = Annotated[
    Optional[str],
    typer.Option(
        "--app", "-A", metavar="NAME", autocompletion=complete_app,
        help="Application name (env: PSHCTL_APP, PLATFORM_APPLICATION_NAME).",
        show_default=False, rich_help_panel=PANEL_TARGET,
    ),
]
# The ranges of the command line's numbers. Bounded so that every value is finite and
# representable where it goes (a socket timeout, a sleep, a thread count, `tail -n`).
MAX_SECONDS = 3600  # a grace, a verification, a refresh: an hour is already absurd
MAX_WAIT_SECONDS = 86400  # `wait --timeout`, `--wait-lock`: a day
MAX_PARALLEL = 256
MAX_LINES = 10**9
MAX_INSTANCE = 9999


def number(
    low: float, high: float, *, whole: bool = False, unit: str = "seconds",
    words: dict[str, Any] | None = None,
) -> Callable[[Any], Any]:
    """The parser of one numeric option: a finite number from ``low`` to ``high``
    (inclusive), a whole one when ``whole``, or one of ``words`` (``{"all": None}``).

    Every numeric option of every command parses through this, so that ``nan``, ``inf``,
    ``1e400`` or ``10**30`` is a usage error (exit 2) naming the option (click adds
    "Invalid value for '--verify'") and the valid range, before anything runs.
    """
    kind = "a whole number" if whole else f"a number of {unit}"
    valid = f"{kind} from {_plain(low)} to {_plain(high)}"
    if words:
        valid += "".join(f" or '{word}'" for word in words)

    def parse(value: Any) -> Any:
        if not isinstance(value, str):  # the option's default, already a value
            return value
        text = value.strip()
        if words and text.lower() in words:
            return words[text.lower()]
        try:
            parsed: float = int(text) if whole else float(text)
        except ValueError:
            parsed = math.nan
        if not (math.isfinite(parsed) and low <= parsed <= high):
            import typer

            shown = value if len(value) <= 40 else value[:40] + "..."
            raise typer.BadParameter(f"must be {valid}, not {shown!r}")
        return parsed

    parse.__name__ = "integer" if whole else "number"  # click names the type after it
    return parse


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def number_option(
    *names: str, help: str, low: float, high: float, whole: bool = False,
    metavar: str = "SECONDS", words: dict[str, Any] | None = None, panel: str | None = None,
) -> Any:
    """A ``typer.Option`` parsed by :func:`number`, its range said in its help."""
    shown = f"{_plain(low)}-{_plain(high)}" + "".join(f" or {w}" for w in words or ())
    return typer.Option(*names, parser=number(low, high, whole=whole, words=words),
                        metavar=metavar, help=f"{help} [{shown}]", rich_help_panel=panel)


def seconds_option(name: str, help: str, *, low: float = 0, high: float = MAX_SECONDS,
                   panel: str | None = None) -> Any:
    return number_option(name, help=help, low=low, high=high, panel=panel)


MaxParallelOpt = Annotated[int, number_option(
    "--max-parallel", help="Workers handled at once (SSH handshakes: 8 at once whatever this is).",
    low=1, high=MAX_PARALLEL, whole=True, metavar="N", panel=PANEL_RUN)]
GraceOpt = Annotated[int, number_option(
    "--grace", help="Seconds from SIGTERM to SIGKILL (as Platform.sh).", low=0,
    high=MAX_SECONDS, whole=True, panel=PANEL_RUN)]
VerifyOpt = Annotated[
    float, seconds_option("--verify", "Seconds a started worker must stay up.", panel=PANEL_RUN),
]
BatchOpt = Annotated[int, number_option(
    "--batch", help="Workers (instances) per batch with --rolling.", low=1, high=MAX_PARALLEL,
    whole=True,
    metavar="N", panel=PANEL_RUN)]
WaitLockOpt = Annotated[float, number_option(
    "--wait-lock", help="Seconds to wait for a worker another pshctl run is acting on "
    "(0: refuse at once, exit 6).", low=0, high=MAX_WAIT_SECONDS, panel=PANEL_RUN)]
IntervalOpt = Annotated[
    float, seconds_option("--interval", "Seconds between refreshes (--watch).", low=0.2),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]
InstanceOpt = Annotated[
    Optional[int],
    number_option(
        "--instance", "-I", low=0, high=MAX_INSTANCE, whole=True, metavar="N",
        help="Only instance N of each worker (WORKER.N names one instance too). "
        "Default: every instance.",
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


def envelope(context: Context) -> dict[str, Any]:
    """What every ``--json`` document starts with: where the command acted."""
    return {"project": context.project, "environment": context.environment,
            "app": context.app.name}


def located(report: output.Report, env: Environment) -> output.Report:
    """The report, with the envelope of the environment it is about (its ``--json``)."""
    report.context = envelope(env.context)
    return report


def app_envelope(ctx: typer.Context, app_name: str, project: str | None = None,
                 environment: str | None = None) -> dict[str, Any]:
    """The envelope of a command that reads only the app (``workers``): the environment
    is the one a command acting on workers would choose here, null when there is none."""
    from pshctl.context import resolve_context
    from pshctl.errors import PshctlError

    chosen = selection(ctx, project, environment, app_name)
    try:
        return envelope(resolve_context(chosen))
    except PshctlError:
        return {"project": chosen.project, "environment": chosen.environment, "app": app_name}


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
