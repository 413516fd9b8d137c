"""The Python API for runbooks: what the commands do, as calls that return results.

::

    from pshctl.api import open_environment

    env = open_environment("staging", cwd="/srv/shop")       # like `pshctl -e staging`
    results = env.restart(["queue"], grace=30, verify=5)
    if not results.ok:
        for failure in results.failed:
            print(failure.name, failure.error)

Every call that touches workers returns :class:`Results`: one :class:`WorkerResult` per
worker, in the order asked, holding the worker's value *or* the exception that stopped
it (the one actually raised, e.g. :class:`HostKeyError`); one failing worker never hides
the others. Nothing here prints. Errors that stop the whole call (an unknown worker, a
broken config file) raise :class:`~pshctl.errors.PshctlError` subclasses, exactly as the
CLI would report them. The commands of :mod:`pshctl.cli` are built on these calls.

This module is a facade: the work is done by :mod:`pshctl.context`, :mod:`pshctl.targets`,
:mod:`pshctl.ssh`, :mod:`pshctl.lifecycle`, :mod:`pshctl.logs` and :mod:`pshctl.parallel`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar, overload

from pshctl.context import Selection
from pshctl.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    ExitCode,
    HostKeyError,
    NameNotFound,
    OperationFailed,
    OperationTimeout,
    PshctlError,
    UsageError,
)
from pshctl.parallel import DEFAULT_MAX_PARALLEL, Outcome

if TYPE_CHECKING:
    from pshctl.appdef import AppDefinition, ContainerConfig
    from pshctl.context import Context
    from pshctl.lifecycle import ActionResult, Connector, Control, Event, WorkerStatus
    from pshctl.logs import LogRequest, LogStream
    from pshctl.ssh import CommandResult, SshOptions
    from pshctl.supervisor import Step
    from pshctl.targets import Target

__all__ = [
    "AuthenticationFailed",
    "CommandFailed",
    "ConfigError",
    "ConnectionFailed",
    "Environment",
    "HostKeyError",
    "NameNotFound",
    "OperationFailed",
    "OperationTimeout",
    "PshctlError",
    "Results",
    "UsageError",
    "WorkerResult",
    "open_environment",
]

T = TypeVar("T")

DEFAULT_GRACE = 15  # as pshctl.lifecycle: Platform.sh's SIGTERM-to-SIGKILL delay
DEFAULT_VERIFY = 3.0
DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_LOG_LINES = 100
ACTIONS = ("stop", "start", "restart")


class CommandFailed(OperationFailed):
    """A command run with ``check=True`` exited with a non-zero status."""

    def __init__(self, worker: str, result: CommandResult) -> None:
        super().__init__(f"{worker}: command exited with status {result.exit_status}")
        self.result = result


# --- results -------------------------------------------------------------------------


# What one worker gave back: a value, or the exception that stopped it (``.ok``,
# ``.unwrap()``). A failed lifecycle action or status read keeps its details as ``value``
# too (the pids, the state seen), so a failure can be both explained and inspected; its
# ``error`` is the exception lifecycle caught, with its original type.
WorkerResult = Outcome


@dataclass(frozen=True)
class Results(Generic[T]):
    """One result per worker, in the order asked; index by position or by worker name."""

    items: tuple[WorkerResult[T], ...] = ()
    elapsed_s: float | None = None  # for wait(): how long it waited
    # Set by the calls whose command judges its own exit status (status, wait, stop,
    # start, restart), so that ``exit_code`` is what that command exits with.
    _exit_code: ExitCode | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[WorkerResult[T]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, key: int) -> WorkerResult[T]: ...
    @overload
    def __getitem__(self, key: str) -> WorkerResult[T]: ...
    def __getitem__(self, key: int | str) -> WorkerResult[T]:
        if isinstance(key, int):
            return self.items[key]
        for item in self.items:
            if item.name == key:
                return item
        raise KeyError(key)

    @property
    def ok(self) -> bool:
        """True when every worker succeeded (and there was at least one)."""
        return bool(self.items) and all(item.ok for item in self.items)

    @property
    def succeeded(self) -> list[WorkerResult[T]]:
        return [item for item in self.items if item.ok]

    @property
    def failed(self) -> list[WorkerResult[T]]:
        return [item for item in self.items if not item.ok]

    def values(self) -> dict[str, T | None]:
        return {item.name: item.value for item in self.items}

    @property
    def exit_code(self) -> ExitCode:
        """The status the matching command would exit with (docs/exit-codes.md): 0 when
        all succeeded; 4 when no worker could be reached; 5 when the failures are
        timeouts; 130 for an interrupted stop/start/restart; else 1."""
        if self._exit_code is not None:
            return self._exit_code
        errors = [item.error for item in self.items if item.error is not None]
        if not errors:
            return ExitCode.OK
        if len(errors) == len(self.items) and all(
            isinstance(e, ConnectionFailed) for e in errors
        ):
            return ExitCode.CONNECTION
        if all(isinstance(e, OperationTimeout) for e in errors):
            return ExitCode.TIMEOUT
        return ExitCode.FAILED

    def raise_on_failure(self) -> Results[T]:
        """Raise :class:`OperationFailed` naming every failed worker; else return self."""
        failed = self.failed
        if failed:
            detail = "; ".join(f"{item.name}: {item.error}" for item in failed)
            raise OperationFailed(f"failed on {len(failed)} of {len(self)} worker(s): {detail}")
        return self


# --- the environment ------------------------------------------------------------------


def open_environment(
    environment: str | None = None,
    *,
    project: str | None = None,
    app: str | None = None,
    cwd: str | Path | None = None,
    accept_new: bool = False,
    verbose: int = 0,
    ssh_options: SshOptions | None = None,
) -> Environment:
    """Resolve project, environment and app as ``pshctl -p -e -A`` would, from ``cwd``.

    Unset values come from ``PSHCTL_*``/``PLATFORM_*`` variables, the project files and
    the current git branch (docs/configuration.md). SSH timeouts come from the config
    files' ``ssh:`` section unless ``ssh_options`` is given. Passphrase prompts happen
    only when stdin is a terminal (``SshOptions(interactive=False)`` turns them off).
    """
    from pshctl.context import resolve_context
    from pshctl.ssh import options_for

    context = resolve_context(Selection(project=project, environment=environment, app=app),
                              cwd=Path(cwd) if cwd is not None else None)
    options = ssh_options or options_for(context.settings, verbose=verbose)
    if accept_new:
        options = replace(options, accept_new=True)
    return Environment(context, options)


@dataclass(frozen=True)
class Environment:
    """One resolved environment of one app; every method acts on its workers."""

    context: Context
    ssh_options: SshOptions = field(repr=False)
    # Resolved targets per selection: resolving may ask the Platform.sh CLI (a network
    # round trip), and the CLI resolves once to show its rows, once to act.
    _resolved: dict[tuple[tuple[str, ...], bool, bool], tuple[Target, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    # what it is

    @property
    def name(self) -> str:
        return self.context.environment

    @property
    def project(self) -> str | None:
        return self.context.project

    @property
    def root(self) -> Path:
        return self.context.root

    @property
    def app(self) -> AppDefinition:
        return self.context.app

    @property
    def workers(self) -> list[str]:
        """The app's worker names, in definition order."""
        return list(self.context.app.workers)

    def worker(self, name: str) -> ContainerConfig:
        """One worker's effective configuration; NameNotFound suggests the closest name."""
        return self.context.app.worker(name)

    def targets(self, workers: Sequence[str] = (), *, all_workers: bool = False,
                app_container: bool = False) -> list[Target]:
        """Where each worker is reached (no names, not all: the app container).

        Resolved once per selection and kept for the life of this object.
        """
        from pshctl.targets import resolve_targets

        key = (tuple(workers), all_workers, app_container)
        if key not in self._resolved:
            self._resolved[key] = tuple(resolve_targets(
                self.context, list(workers), all_workers=all_workers,
                app_container=app_container))
        return list(self._resolved[key])

    # reading

    def status(self, workers: Sequence[str] = (), *,
               max_parallel: int = DEFAULT_MAX_PARALLEL) -> Results[WorkerStatus]:
        """Each worker's state (every worker when none is named); unreadable ones fail."""
        with self.status_reader(workers, max_parallel=max_parallel) as read:
            return read()

    @contextmanager
    def status_reader(self, workers: Sequence[str] = (), *,
                      max_parallel: int = DEFAULT_MAX_PARALLEL,
                      ) -> Iterator[Callable[[], Results[WorkerStatus]]]:
        """A function that reads :meth:`status` again and again over the same connections.

        One connection per destination stays open until the ``with`` block ends; one that
        drops is opened again on the next read. ``pshctl status --watch`` polls with it.
        """
        from pshctl import lifecycle

        with lifecycle.StatusReader(self._many(workers), self.connector(),
                                    max_parallel=max_parallel, keep_open=True) as reader:
            yield lambda: _status_results(reader.read())

    def wait(self, workers: Sequence[str] = (), *, all_workers: bool = False,
             timeout: float = DEFAULT_WAIT_TIMEOUT, stable: float = DEFAULT_VERIFY,
             max_parallel: int = DEFAULT_MAX_PARALLEL) -> Results[WorkerStatus]:
        """Wait until each worker runs one process for ``stable`` s; a timeout each if not."""
        from pshctl import lifecycle

        targets = self._many(workers, all_workers=all_workers)
        waited = lifecycle.wait(targets, timeout=timeout, stable=stable,
                                connector=self.connector(), max_parallel=max_parallel)
        hopeless = {s.name for s in waited.hopeless}
        items = []
        for s in waited.statuses:
            error: BaseException | None = None
            if s.name in hopeless and s.exception is not None:
                error = s.exception  # its service does not exist: waiting cannot help
            elif not s.stable(stable):
                error = OperationTimeout(
                    f"{s.name} not up and stable for {stable:g}s after {timeout:g}s "
                    f"(state: {s.health}{'; ' + s.error if s.error else ''})")
                error.__cause__ = s.exception  # why the last read failed, if it did
            items.append(WorkerResult(s.name, s, error))
        return Results(tuple(items), elapsed_s=waited.waited_s, _exit_code=waited.exit_code)

    def logs(self, workers: Sequence[str] = (), *, lines: int = DEFAULT_LOG_LINES,
             log_type: str = "app", app_container: bool = False) -> Results[list[str]]:
        """The last ``lines`` lines of each worker's ``<log_type>.log``."""
        from pshctl.logs import LogRequest, read_logs

        targets = self._many(workers, app_container=app_container)
        found = read_logs(targets, LogRequest(log_type=log_type, lines=lines),
                          options=self.ssh_options)
        items = []
        for target in targets:
            got = found[target.name]
            if isinstance(got, list):
                items.append(WorkerResult(target.name, got))
            else:
                items.append(WorkerResult(target.name, None,
                                          got.error or OperationFailed(got.message)))
        return Results(tuple(items))

    def follow_logs(self, workers: Sequence[str] = (), *, lines: int = 10,
                    log_type: str = "app", app_container: bool = False) -> LogStream:
        """A live, merged stream of log events; use it in a ``with`` block and iterate.

        It yields :class:`pshctl.logs.LogLines` and :class:`pshctl.logs.LogNotice`
        (reconnects, rotations, failures) and reconnects by itself after a dropped link.
        """
        from pshctl.logs import LogRequest

        request = LogRequest(log_type=log_type, lines=lines, follow=True)
        return self.log_stream(request, workers, all_workers=not workers,
                               app_container=app_container)

    def log_stream(self, request: LogRequest, workers: Sequence[str] = (), *,
                   all_workers: bool = False, app_container: bool = False) -> LogStream:
        """A :class:`~pshctl.logs.LogStream` for any :class:`~pshctl.logs.LogRequest`.

        Targets are chosen as :meth:`targets` chooses them: no names and not
        ``all_workers`` means the app container (as ``pshctl logs`` does).
        """
        from pshctl.logs import LogStream

        return LogStream(self.targets(workers, all_workers=all_workers,
                                      app_container=app_container),
                         request, options=self.ssh_options)

    # acting

    def stop(self, workers: Sequence[str] = (), *, all_workers: bool = False,
             grace: int = DEFAULT_GRACE, max_parallel: int = DEFAULT_MAX_PARALLEL,
             rolling: bool = False, batch: int = 1, keep_going: bool = False,
             on_event: Callable[[Event], None] | None = None,
             control: Control | None = None) -> Results[ActionResult]:
        """Stop workers: SIGTERM, then SIGKILL after ``grace`` seconds."""
        return self._act("stop", workers, all_workers, on_event, control, grace=grace,
                         max_parallel=max_parallel, rolling=rolling, batch=batch,
                         keep_going=keep_going)

    def start(self, workers: Sequence[str] = (), *, all_workers: bool = False,
              verify: float = DEFAULT_VERIFY, max_parallel: int = DEFAULT_MAX_PARALLEL,
              rolling: bool = False, batch: int = 1, keep_going: bool = False,
              on_event: Callable[[Event], None] | None = None,
              control: Control | None = None) -> Results[ActionResult]:
        """Start workers and check each stays up for ``verify`` seconds."""
        return self._act("start", workers, all_workers, on_event, control, verify=verify,
                         max_parallel=max_parallel, rolling=rolling, batch=batch,
                         keep_going=keep_going)

    def restart(self, workers: Sequence[str] = (), *, all_workers: bool = False,
                grace: int = DEFAULT_GRACE, verify: float = DEFAULT_VERIFY,
                max_parallel: int = DEFAULT_MAX_PARALLEL, rolling: bool = False,
                batch: int = 1, keep_going: bool = False,
                on_event: Callable[[Event], None] | None = None,
                control: Control | None = None) -> Results[ActionResult]:
        """Stop, start and verify workers, in parallel or in rolling batches.

        With ``rolling=True`` it goes ``batch`` workers at a time and stops at the first
        failed batch (the rest are reported as not attempted) unless ``keep_going``.
        ``control`` (a :class:`pshctl.lifecycle.Control`) lets another thread or a signal
        handler interrupt: no new worker begins, and those in flight are started again.
        """
        return self._act("restart", workers, all_workers, on_event, control, grace=grace,
                         verify=verify, max_parallel=max_parallel, rolling=rolling,
                         batch=batch, keep_going=keep_going)

    def plan(self, action: str, workers: Sequence[str] = (), *, all_workers: bool = False,
             grace: int = DEFAULT_GRACE, verify: float = DEFAULT_VERIFY,
             ) -> list[tuple[Target, list[Step]]]:
        """The remote commands ``stop``, ``start`` or ``restart`` would run, per worker.

        Nothing is connected to nor run (``--dry-run``).
        """
        from pshctl import lifecycle

        targets = self._chosen(action, workers, all_workers)
        settings = lifecycle.Settings(grace=grace, verify=verify)
        return list(lifecycle.iter_plans(action, targets, settings))

    def run(self, command: Sequence[str] | str, workers: Sequence[str] = (), *,
            all_workers: bool = False, app_container: bool = False,
            timeout: float | None = None, check: bool = False,
            max_parallel: int = DEFAULT_MAX_PARALLEL) -> Results[CommandResult]:
        """Run one command in each worker's container, in parallel.

        An argv list is quoted for the remote shell and arrives as written; a string is
        passed to the remote shell as is. With ``check=True`` a non-zero exit status is
        a :class:`CommandFailed` error; otherwise look at ``value.exit_status``.
        """
        from pshctl.parallel import run_parallel
        from pshctl.ssh import connect

        if not (workers or all_workers or app_container):
            raise UsageError("run() needs worker names, all_workers=True or app_container=True")
        targets = self.targets(workers, all_workers=all_workers, app_container=app_container)

        def one(target: Target) -> CommandResult:
            with connect(target, self.ssh_options) as session:
                result = session.run(command, timeout=timeout)
            if check and not result.ok:
                raise CommandFailed(target.name, result)
            return result

        outcomes = run_parallel([(t.name, t) for t in targets], one, max_parallel=max_parallel)
        return Results(tuple(WorkerResult(o.name, o.value, o.error) for o in outcomes))

    # helpers

    def _many(self, workers: Sequence[str], *, all_workers: bool = False,
              app_container: bool = False) -> list[Target]:
        """The named workers, or every worker when none is named (or ``all_workers``)."""
        return self.targets(workers, all_workers=all_workers or not workers,
                            app_container=app_container)

    def connector(self) -> Connector:
        """Opens one SSH session per target with this environment's options."""
        from pshctl.lifecycle import ssh_connector

        return ssh_connector(self.ssh_options)

    def _chosen(self, action: str, workers: Sequence[str], all_workers: bool) -> list[Target]:
        """The targets of a stop/start/restart, which needs names or ``all_workers``."""
        if action not in ACTIONS:
            raise UsageError(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
        if not (workers or all_workers):
            raise UsageError(f"{action}() needs worker names, or all_workers=True")
        return self.targets(workers, all_workers=all_workers)

    def _act(self, action: str, workers: Sequence[str], all_workers: bool,
             on_event: Callable[[Event], None] | None, control: Control | None,
             **settings: object) -> Results[ActionResult]:
        from pshctl import lifecycle

        targets = self._chosen(action, workers, all_workers)
        run = {"stop": lifecycle.stop, "start": lifecycle.start,
               "restart": lifecycle.restart}[action]
        results = run(targets, lifecycle.Settings(**settings),  # type: ignore[arg-type]
                      connector=self.connector(), control=control, on_event=on_event)
        interrupted = control is not None and control.interrupted
        return Results(tuple(_action_result(r) for r in results),
                       _exit_code=lifecycle.action_exit_code(results, interrupted=interrupted))


def _status_results(statuses: Sequence[WorkerStatus]) -> Results[WorkerStatus]:
    from pshctl.lifecycle import status_exit_code

    return Results(tuple(_status_result(s) for s in statuses),
                   _exit_code=status_exit_code(statuses))


def _status_result(status: WorkerStatus) -> WorkerResult[WorkerStatus]:
    if status.reachable and status.health != "unsupervised":
        return WorkerResult(status.name, status)
    if status.exception is not None:
        return WorkerResult(status.name, status, status.exception)
    kind = ConnectionFailed if not status.reachable else OperationFailed
    return WorkerResult(status.name, status,
                        kind(status.error or f"{status.name}: {status.health}"))


def _action_result(result: ActionResult) -> WorkerResult[ActionResult]:
    if result.ok:
        return WorkerResult(result.name, result)
    if result.exception is not None:
        return WorkerResult(result.name, result, result.exception)
    # Nothing was raised for this worker: it was not attempted (a rolling halt, Ctrl-C).
    message = result.error or f"{result.name}: {result.action} failed"
    kind = ConnectionFailed if result.unreachable else OperationFailed
    return WorkerResult(result.name, result, kind(message))
