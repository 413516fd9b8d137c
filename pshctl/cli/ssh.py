"""``pshctl ssh``: a shell or one command in a worker's container, or a command on all.

stdin goes to the shell or the one command, as with ``ssh`` (``--all`` closes it).
Exit status: the remote shell's or command's own; 255 when the connection itself fails
(as OpenSSH's ``ssh`` does); with ``--all``, 0 when every worker's command exited 0,
else 1 with a summary on stderr.
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
from pshctl.cli.options import (
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    ProjectOpt,
    open_environment,
)
from pshctl.errors import ConnectionFailed, ExitCode, OperationFailed, UsageError
from pshctl.outcome import exit_code

if TYPE_CHECKING:
    from pshctl.outcome import Outcome
    from pshctl.ssh import SshOptions
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
    targets = env.targets([worker] if worker else [], all_workers=all_workers,
                          instance=instance)
    if not all_workers and len(targets) > 1:
        output.info(_first_of(targets))
        targets = targets[:1]
    if pipe:
        from pshctl.ssh.config import destination

        sys.stdout.write(destination(targets[0]) + "\n")
        return ExitCode.OK
    options = env.ssh_options
    if all_workers:
        return _run_everywhere(targets, list(command or ()), options)
    if command:
        return _run_one(targets[0], list(command), options)
    return _shell(targets[0], options)


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


class RemoteCommandFailed(OperationFailed):
    def __init__(self, status: int) -> None:
        super().__init__("no exit status" if status == -1 else f"exit {status}")
        self.status = status


def _connection_failed(exc: ConnectionFailed) -> int:
    output.error(exc.message, exc.hint)
    return ExitCode.SSH_CONNECTION


def _shell(target: Target, options: SshOptions) -> int:
    from pshctl.ssh import connect
    from pshctl.ssh.interactive import run_shell

    try:
        with connect(target, options) as session:
            status = run_shell(session)
    except ConnectionFailed as exc:
        return _connection_failed(exc)
    return _status(status)


def _status(status: int) -> int:
    """The remote exit status as ours; none at all (killed by a signal) is 255, as in ssh."""
    return status if 0 <= status <= 255 else ExitCode.SSH_CONNECTION


class _Out:
    """Raw remote bytes to our stdout/stderr, whatever those streams are."""

    def __init__(self, stream: object) -> None:
        self.stream = stream
        self.buffer = getattr(stream, "buffer", None)

    def __call__(self, data: bytes) -> None:
        if self.buffer is not None:
            self.buffer.write(data)
            self.buffer.flush()
        else:  # a text stream (e.g. a test's StringIO)
            self.stream.write(data.decode("utf-8", "replace"))  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]


def _stdin() -> Callable[[], bytes] | None:
    """Our stdin as the remote command's, as ``ssh host CMD`` does (None: there is none)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):  # replaced by a pseudo-file (tests)
        return None
    # os.read, not sys.stdin.buffer: the reader thread may still block in it at exit,
    # and must not hold the buffer's lock then.
    return functools.partial(os.read, fd, 32768)


def _run_one(target: Target, command: list[str], options: SshOptions) -> int:
    from pshctl.ssh import connect

    try:
        with connect(target, options) as session:
            status = session.stream(
                command, on_stdout=_Out(sys.stdout), on_stderr=_Out(sys.stderr), stdin=_stdin()
            )
    except ConnectionFailed as exc:
        return _connection_failed(exc)
    return _status(status)


class _Prefixed:
    """Whole lines, each prefixed with ``name | ``; one lock keeps lines unmixed."""

    lock = threading.Lock()

    def __init__(self, name: str, stream: object) -> None:
        self.prefix = f"{name} | "
        self.stream = stream
        self.pending = b""

    def __call__(self, data: bytes) -> None:
        *lines, self.pending = (self.pending + data).split(b"\n")
        self._emit(lines)

    def finish(self) -> None:
        if self.pending:
            self._emit([self.pending])
            self.pending = b""

    def _emit(self, lines: list[bytes]) -> None:
        if not lines:
            return
        text = "".join(
            self.prefix + line.decode("utf-8", "replace").rstrip("\r") + "\n" for line in lines
        )
        with self.lock:
            self.stream.write(text)  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]


def _run_everywhere(targets: list[Target], command: list[str], options: SshOptions) -> int:
    from pshctl.parallel import DEFAULT_MAX_PARALLEL, run_parallel
    from pshctl.ssh import connect

    def one(target: Target) -> int:
        out, err = _Prefixed(target.name, sys.stdout), _Prefixed(target.name, sys.stderr)
        try:
            with connect(target, options) as session:
                status = session.stream(command, on_stdout=out, on_stderr=err)
        finally:
            out.finish()
            err.finish()
        if status != 0:
            raise RemoteCommandFailed(status)
        return status

    outcomes = run_parallel([(t.name, t) for t in targets], one, max_parallel=DEFAULT_MAX_PARALLEL)
    return _summarize(outcomes)


def _summarize(outcomes: list[Outcome[int]]) -> int:
    """Say which workers failed and why; the exit status of ``--all``."""
    failed = [o for o in outcomes if not o.ok]
    total = len(outcomes)
    if not failed:
        output.info(f"ok: the command exited 0 on all {total} worker(s)")
    else:
        output.error(f"failed on {len(failed)} of {total} worker(s): " +
                     "; ".join(f"{o.name} ({o.message})" for o in failed))
    return exit_code(outcomes)
