"""The command line: a thin typer layer over the domain modules.

:func:`main` is the entry point (the ``pshctl`` script, ``python -m pshctl``). The typer
app lives in :mod:`pshctl.cli.root` and is imported only when needed: a Tab press is
answered from the cached command tree (:mod:`pshctl.cli.tabtree`) without typer, and
typer answers whatever that cannot. ``pshctl.cli.app`` and ``pshctl.cli.run`` are the
app and its error boundary, as before.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import typer

    app: typer.Typer

COMPLETE_VAR = "_PSHCTL_COMPLETE"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turn every user error into its exit code."""
    if argv is None and os.environ.get(COMPLETE_VAR):
        from pshctl.cli import tabtree

        status = tabtree.run_fast()
        if status is not None:
            leave(status)
        _refresh_completion_tree()
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # as the root's --version option prints it, without typer
        from pshctl.cli.output import version

        version()
        leave(0)
    from pshctl.cli import helpcache

    status = helpcache.main(args, lambda: run(list(args)))
    leave(run(args) if status is None else status)


def leave(status: int) -> NoReturn:
    """End the process with ``status`` once the output is out and the atexit handlers ran.

    The interpreter is not torn down: unloading typer, rich, paramiko and cryptography
    while the SSH threads wind down took ~50 ms at the end of every command, and nothing
    pshctl keeps needs it (files are written whole and closed, connections are closed).
    """
    import atexit

    from pshctl.cli.output import flush

    atexit._run_exitfuncs()
    flush()
    os._exit(status)


def run(argv: list[str] | None = None) -> int:
    """Run the app on ``argv`` and return the exit code (see :func:`pshctl.cli.root.run`)."""
    from pshctl.cli.root import run as run_app

    return run_app(argv)


def _refresh_completion_tree() -> None:
    """typer answers this Tab press: keep the command tree so that the next one need not."""
    from pshctl.cli import tabtree

    try:
        tabtree.refresh_cache()
    except Exception:  # noqa: BLE001 - a Tab press never fails over its cache
        pass


def __getattr__(name: str) -> Any:
    if name == "app":
        from pshctl.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
