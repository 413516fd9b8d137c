"""``pshctl ssh``: a shell or one command in a worker's container, or a command on all.

stdin goes to the shell or the one command, as with ``ssh`` (``--all`` closes it).
Exit status: the remote shell's or command's own; 255 when the connection itself fails
(as OpenSSH's ``ssh`` does); with ``--all``, the exit code of every command over workers
(docs/exit-codes.md: 0 when each command exited 0; 4 when none could be reached; 130 on
Ctrl-C, which ends the remote commands) with a summary on stderr.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pshctl.cli import output
from pshctl.cli.complete import complete_worker
from pshctl.cli.interrupts import two_step
from pshctl.cli.options import (
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    MaxParallelOpt,
    ProjectOpt,
    open_environment,
)
from pshctl.defaults import DEFAULT_MAX_PARALLEL
from pshctl.errors import ConnectionFailed, ExitCode, UsageError

if TYPE_CHECKING:
    from pshctl.api import Environment
    from pshctl.ssh import Session
    from pshctl.targets import Target

EPILOG = (
    "Examples: pshctl ssh --worker queue  |  pshctl ssh --worker queue -- ls -la /app  |  "
    "pshctl ssh --all -- uptime  |  ssh $(pshctl ssh --pipe --worker queue). "
    "Arguments after -- are quoted and arrive as written; for shell syntax run "
    "`-- sh -c 'A | B'`. Standard input goes to the command (`pshctl ssh --worker queue -- "
    "tar xf - < files.tar`), except with --all."
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command(
        "ssh",
        epilog=EPILOG,
        context_settings={"allow_interspersed_args": False},
    )(ssh)


def ssh(
    ctx: typer.Context,
    command: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="A command to run instead of a shell (put it after --).", show_default=False
        ),
    ] = None,
    worker: Annotated[
        Optional[str],
        typer.Option(
            "--worker",
            help="The worker's container (default: the app container).",
            show_default=False,
            autocompletion=complete_worker,
        ),
    ] = None,
    instance: Annotated[
        Optional[int],
        typer.Option(
            "--instance",
            "-I",
            help="Instance N of a scaled worker (default: its first, 0); with --all, "
            "instance N of every worker.",
            show_default=False,
            metavar="N",
            min=0,
        ),
    ] = None,
    pipe: Annotated[
        bool,
        typer.Option(
            "--pipe",
            help="Print the SSH destination only: user@host (ssh://user@host:port off port 22).",
        ),
    ] = False,
    all_workers: Annotated[
        bool, typer.Option("--all", help="Run the command on every worker (every instance "
                           "of each), in parallel.")
    ] = False,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
    accept_new: AcceptNewOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app_name: AppOpt = None,
) -> int:
    """Open a shell in a worker's container, or run one command there."""
    _check_usage(worker, pipe, all_workers, command)
    # A command's own output passes through untouched: the context is said for a shell
    # and for --all (whose output pshctl prefixes), not for --pipe or one command.
    announce = all_workers or not (pipe or command)
    env = open_environment(ctx, project, environment, app_name, announce=announce,
                           accept_new=accept_new)
    if all_workers:
        return _run_everywhere(env, list(command or ()), max_parallel, instance)
    found = env.targets([worker] if worker else [], instance=instance)
    if len(found) > 1:  # a scaled worker: its first instance, as the platform's CLI does
        output.info(_first_of(found))
    target = found[0]
    if pipe:
        from pshctl.ssh.config import destination

        output.write_text(destination(target) + "\n")
        return ExitCode.OK
    try:
        with env.session(worker, instance=target.instance) as session:
            status = _run_one(session, command) if command else _shell(session)
    except ConnectionFailed as exc:  # as `ssh` says it
        output.error(exc.message, exc.hint)
        return ExitCode.SSH_CONNECTION
    # The remote status as ours; none at all (killed by a signal) is 255, as with ssh.
    return status if 0 <= status <= 255 else ExitCode.SSH_CONNECTION


def _first_of(instances: list[Target]) -> str:
    """What a shell (or one command) on a scaled worker says: which instance, of how many."""
    first = instances[0]
    numbers = ", ".join(str(t.instance) for t in instances)
    return (f"{first.container} has {len(instances)} instances ({numbers}); this is "
            f"instance {first.instance} (-I N for another)")


def _check_usage(
    worker: str | None, pipe: bool, all_workers: bool, command: list[str] | None
) -> None:
    if all_workers and worker:
        raise UsageError("--all and --worker exclude each other")
    if all_workers and pipe:
        raise UsageError("--pipe prints one destination; it does not combine with --all")
    if all_workers and not command:
        raise UsageError("--all needs a command", hint="pshctl ssh --all -- CMD [ARGS...]")
    if pipe and command:
        raise UsageError("--pipe prints the destination only; it takes no command")


def _shell(session: Session) -> int:
    from pshctl.ssh.interactive import run_shell

    return run_shell(session)


def _stdin() -> Callable[[], bytes] | None:
    """Our stdin as the remote command's, as ``ssh host CMD`` does (None: there is none)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):  # replaced by a pseudo-file (tests)
        return None
    # os.read, not sys.stdin.buffer: the reader thread may still block in it at exit,
    # and must not hold the buffer's lock then.
    return functools.partial(os.read, fd, 32768)


def _run_one(session: Session, command: list[str]) -> int:
    return session.stream(command, on_stdout=output.write_bytes,
                          on_stderr=functools.partial(output.write_bytes, stderr=True),
                          stdin=_stdin())


def _run_everywhere(env: Environment, command: list[str], max_parallel: int,
                    instance: int | None) -> int:
    """The command on every worker, in parallel; each line prefixed with its worker.

    The first interrupt ends the remote commands (exit 130); a second leaves at once.
    """
    names = [t.name for t in env.targets(all_workers=True, instance=instance)]
    out, err = output.Lines(names), output.Lines(names, stderr=True)
    stop = threading.Event()

    def first() -> None:
        stop.set()
        output.info("interrupted: ending the remote commands (interrupt again to leave now)")

    def again() -> None:
        output.flush()
        os._exit(int(ExitCode.INTERRUPTED))  # threads may be blocked in network reads

    with two_step(first, again):
        results = env.stream(command, all_workers=True, check=True, max_parallel=max_parallel,
                             stop=stop, instance=instance,
                             on_output=lambda o: (out if o.stream == "stdout"
                                                             else err).write(o.worker, o.data))
    failed = results.failed
    if results.interrupted:
        output.info("interrupted")
    elif not failed:
        output.info(f"ok: the command exited 0 on all {len(results)} worker(s)")
    else:
        output.error(f"failed on {len(failed)} of {len(results)} worker(s): " +
                     "; ".join(f"{o.name} ({o.message})" for o in failed))
    return results.exit_code
