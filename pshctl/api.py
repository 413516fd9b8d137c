"""The Python API for runbooks: what the commands do, as calls that return results.

::

    from pshctl.api import open_environment

    env = open_environment("staging", cwd="/srv/shop")       # like `pshctl -e staging`
    results = env.restart(["queue"], grace=30, verify=5)
    if not results.ok:
        for failure in results.failed:
            print(failure.name, failure.error)

Every call that touches workers returns :class:`Results`: one :class:`Outcome` per
worker, in the order asked, holding the worker's value *or* the exception that stopped
it (the one actually raised, e.g. :class:`HostKeyError`); one failing worker never hides
the others. Nothing here prints. Errors that stop the whole call (an unknown worker, a
broken config file) raise :class:`~pshctl.errors.PshctlError` subclasses, exactly as the
CLI would report them. The commands of :mod:`pshctl.cli` are built on these calls.

This module is a facade: the work is done by :mod:`pshctl.context`, :mod:`pshctl.targets`,
:mod:`pshctl.ssh`, :mod:`pshctl.lifecycle`, :mod:`pshctl.logs` and :mod:`pshctl.parallel`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict, TypeVar

from pshctl.context import Selection
from pshctl.defaults import (
    DEFAULT_GRACE,
    DEFAULT_LOG_LINES,
    DEFAULT_LOG_TYPE,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_USAGE_SAMPLE,
    DEFAULT_VERIFY,
    DEFAULT_WAIT_TIMEOUT,
)
from pshctl.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    HostKeyError,
    NameNotFound,
    OperationFailed,
    OperationTimeout,
    PshctlError,
    UsageError,
)
from pshctl.outcome import Outcome, Results, exit_code, labelled

if TYPE_CHECKING:
    import fabric
    from typing_extensions import Unpack

    from pshctl.appdef import AppDefinition, ContainerConfig
    from pshctl.context import Context
    from pshctl.lifecycle import ActionResult, Connector, Control, Event, WorkerStatus
    from pshctl.logs import LogRequest, LogStream
    from pshctl.platform.login import LoggedOut, Stored
    from pshctl.platform.login import Status as AuthStatus
    from pshctl.ssh import CommandResult, Session, SshOptions
    from pshctl.supervisor import Step
    from pshctl.targets import Target
    from pshctl.targets.instances import Instance
    from pshctl.transfer import CopyResult

T = TypeVar("T")

__all__ = [
    "AuthenticationFailed",
    "CommandFailed",
    "CommandOutput",
    "ConfigError",
    "ConnectionFailed",
    "Environment",
    "HostKeyError",
    "NameNotFound",
    "OperationFailed",
    "OperationTimeout",
    "Outcome",
    "PshctlError",
    "Results",
    "UsageError",
    "auth_status",
    "delete_passphrase",
    "exit_code",
    "login",
    "logout",
    "open_environment",
    "passphrase_key",
    "store_passphrase",
]


class CommandFailed(OperationFailed):
    """A command run with ``check=True`` exited with a non-zero status (-1: none, as when
    it was killed by a signal); ``result`` holds its output when it was kept."""

    def __init__(self, exit_status: int, result: CommandResult | None = None) -> None:
        super().__init__("no exit status (killed by a signal?)" if exit_status == -1
                         else f"exited with status {exit_status}")
        self.exit_status = exit_status
        self.result = result


@dataclass(frozen=True)
class CommandOutput:
    """Whole lines a command wrote on one worker: ``data`` holds them joined by newlines,
    without a final one, as the bytes came."""

    worker: str
    stream: Literal["stdout", "stderr"]
    data: bytes


class ActionOptions(TypedDict, total=False):
    """How :meth:`Environment.act` (stop, start, restart) runs."""

    all_workers: bool
    grace: int  # seconds from SIGTERM to SIGKILL (stop, restart)
    verify: float  # seconds a started worker must stay up (start, restart)
    max_parallel: int
    rolling: bool  # batches one after the other; halt at a failed one ...
    batch: int
    keep_going: bool  # ... unless this is set
    on_event: Callable[[Event], None] | None  # progress, as it happens
    control: Control | None  # lets another thread or a signal handler interrupt
    instance: Instance | None  # that instance of each worker only


# --- credentials (`pshctl auth`) ----------------------------------------------------------


def passphrase_key(path: str | Path) -> Path:
    """The encrypted key file whose passphrase is to be stored: ConfigError when it does
    not exist or is not encrypted (check before asking for a passphrase)."""
    from pshctl.ssh.auth import needs_passphrase

    key = Path(path).expanduser()
    if not key.is_file():
        raise ConfigError(f"no such key file: {key}")
    if not needs_passphrase(key):
        raise ConfigError(f"{key} is not encrypted; there is no passphrase to store")
    return key


def store_passphrase(path: str | Path, passphrase: str) -> str:
    """Keep a key's passphrase in the OS keyring after checking that it unlocks the key;
    returns the name it is stored under (the key's absolute path)."""
    from pshctl.ssh import secrets
    from pshctl.ssh.auth import unlocks

    key = passphrase_key(path)
    if not unlocks(key, passphrase):
        raise ConfigError(f"that passphrase does not unlock {key}; nothing was stored")
    secrets.store(key, passphrase)
    return secrets.key_id(key)


def delete_passphrase(path: str | Path) -> bool:
    """Remove a stored passphrase (the key file is untouched); False when none was."""
    from pshctl.ssh import secrets

    return secrets.delete(path)


def login(token: str) -> Stored:
    """Check an API token with the platform (one token exchange), then keep it in the OS
    keyring; a refused token is not stored. Nothing returned holds the token."""
    from pshctl.platform import login as platform_login

    return platform_login.login(token)


def auth_status(*, check: bool = False) -> AuthStatus:
    """Which API credential pshctl would use (its source, never the token), the SSH
    certificate it would present, the API's address; ``check``: exchange the token too."""
    from pshctl.platform import login as platform_login

    return platform_login.status(check=check)


def logout() -> LoggedOut:
    """Forget the keyring's API token, the access tokens and certificates obtained with
    it, and the API's cached answers (a token in the environment stays: it is named)."""
    from pshctl.platform import login as platform_login

    return platform_login.logout()


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
    refresh: bool = False,
) -> Environment:
    """Resolve project, environment and app as ``pshctl -p -e -A`` would, from ``cwd``.

    Unset values come from ``PSHCTL_*``/``PLATFORM_*`` variables, the project files and
    the current git branch (docs/configuration.md). SSH timeouts come from the config
    files' ``ssh:`` section unless ``ssh_options`` is given. Passphrase prompts happen
    only when stdin is a terminal (``SshOptions(interactive=False)`` turns them off).
    ``refresh`` asks the platform's API again instead of its cache.
    """
    from pshctl.context import resolve_context
    from pshctl.ssh import options_for, trail

    context = resolve_context(Selection(project=project, environment=environment, app=app,
                                        refresh=refresh),
                              cwd=Path(cwd) if cwd is not None else None)
    options = ssh_options or options_for(context.settings, verbose=verbose)
    trail.configure(options.verbose)  # resolving may warn (the API) before any connection
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
    _resolved: dict[tuple[tuple[str, ...], bool, bool, Instance | None],
                    tuple[Target, ...]] = field(
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
                app_container: bool = False, instance: Instance | None = None,
                ) -> list[Target]:
        """Where each worker is reached (no names, not all: the app container): one
        target per instance of a scaled worker (``queue.0``, ``queue.1``...).

        ``queue.1`` among the names, or ``instance=1`` for every container asked, keeps
        that instance only (:class:`~pshctl.errors.InstanceNotFound` when there is none).
        Resolved once per selection and kept for the life of this object.
        """
        from pshctl.targets import resolve_targets

        key = (tuple(workers), all_workers, app_container, instance)
        if key not in self._resolved:
            self._resolved[key] = tuple(resolve_targets(
                self.context, list(workers), all_workers=all_workers,
                app_container=app_container, instance=instance))
        return list(self._resolved[key])

    # reading

    def status(self, workers: Sequence[str] = (), *, usage: bool = False,
               instance: Instance | None = None,
               max_parallel: int = DEFAULT_MAX_PARALLEL) -> Results[WorkerStatus]:
        """Each worker's state, one result per instance (every worker when none is
        named); unreadable ones fail.

        With ``usage=True`` each running worker's ``usage`` holds its process tree's CPU %,
        RSS and uptime (:class:`pshctl.top.TreeUsage`), read from /proc in the same
        connection (``pshctl top``); a container whose /proc cannot be read fails.
        """
        with self.status_reader(workers, usage=usage, instance=instance,
                                max_parallel=max_parallel) as read:
            return read()

    @contextmanager
    def status_reader(self, workers: Sequence[str] = (), *, usage: bool = False,
                      usage_sample: float = DEFAULT_USAGE_SAMPLE,
                      instance: Instance | None = None,
                      max_parallel: int = DEFAULT_MAX_PARALLEL,
                      ) -> Iterator[Callable[[], Results[WorkerStatus]]]:
        """A function that reads :meth:`status` again and again over the same connections.

        One connection per destination stays open until the ``with`` block ends; one that
        drops is opened again on the next read. ``pshctl status --watch`` polls with it.
        CPU % (``usage``) is taken over ``usage_sample`` seconds.
        """
        from pshctl import lifecycle

        with lifecycle.StatusReader(self._many(workers, instance=instance), self.connector(),
                                    max_parallel=max_parallel, keep_open=True,
                                    usage_sample=usage_sample if usage else None) as reader:
            yield reader.read

    def wait(self, workers: Sequence[str] = (), *, all_workers: bool = False,
             timeout: float = DEFAULT_WAIT_TIMEOUT, stable: float = DEFAULT_VERIFY,
             instance: Instance | None = None,
             max_parallel: int = DEFAULT_MAX_PARALLEL) -> Results[WorkerStatus]:
        """Wait until each worker (every instance of it) runs one process for ``stable``
        s; a timeout each if not.

        A worker whose service does not exist fails at once with that error (waiting
        cannot help); ``elapsed_s`` says how long it waited.
        """
        from pshctl import lifecycle

        return lifecycle.wait(self._many(workers, all_workers=all_workers, instance=instance),
                              timeout=timeout,
                              stable=stable, connector=self.connector(),
                              max_parallel=max_parallel)

    def logs(self, workers: Sequence[str] = (), *, lines: int = DEFAULT_LOG_LINES,
             log_type: str = DEFAULT_LOG_TYPE, app_container: bool = False,
             instance: Instance | None = None) -> Results[list[str]]:
        """The last ``lines`` lines of each worker's (each instance's) ``<log_type>.log``."""
        from pshctl.logs import LogRequest, read_logs

        targets = self._many(workers, app_container=app_container, instance=instance)
        results = read_logs(targets, LogRequest(log_type=log_type, lines=lines),
                            options=self.ssh_options)
        return replace(results, items=labelled(results.items, targets))

    def follow_logs(self, workers: Sequence[str] = (), *, lines: int = 10,
                    log_type: str = DEFAULT_LOG_TYPE, app_container: bool = False,
                    instance: Instance | None = None) -> LogStream:
        """A live, merged stream of log events; use it in a ``with`` block and iterate.

        It yields :class:`pshctl.logs.LogLines` and :class:`pshctl.logs.LogNotice`
        (reconnects, rotations, failures) and reconnects by itself after a dropped link.
        """
        from pshctl.logs import LogRequest

        request = LogRequest(log_type=log_type, lines=lines, follow=True)
        return self.log_stream(request, workers, all_workers=not workers,
                               app_container=app_container, instance=instance)

    def log_stream(self, request: LogRequest, workers: Sequence[str] = (), *,
                   all_workers: bool = False, app_container: bool = False,
                   instance: Instance | None = None) -> LogStream:
        """A :class:`~pshctl.logs.LogStream` for any :class:`~pshctl.logs.LogRequest`.

        Targets are chosen as :meth:`targets` chooses them: no names and not
        ``all_workers`` means the app container (as ``pshctl logs`` does).
        """
        from pshctl.logs import LogStream

        return LogStream(self.targets(workers, all_workers=all_workers,
                                      app_container=app_container, instance=instance),
                         request, options=self.ssh_options)

    # acting

    def act(self, action: str, workers: Sequence[str] = (), *, all_workers: bool = False,
            grace: int = DEFAULT_GRACE, verify: float = DEFAULT_VERIFY,
            max_parallel: int = DEFAULT_MAX_PARALLEL, rolling: bool = False, batch: int = 1,
            keep_going: bool = False, on_event: Callable[[Event], None] | None = None,
            control: Control | None = None,
            instance: Instance | None = None) -> Results[ActionResult]:
        """``stop``, ``start`` or ``restart`` workers, in parallel or in rolling batches.

        stop: SIGTERM, then SIGKILL after ``grace`` seconds. start: every worker not
        running, checked to stay up for ``verify`` seconds. restart: stop, start, and
        verify a new process. Every instance of a scaled worker is acted on and verified
        (``instance``, or ``queue.1`` among the names, for one). With ``rolling=True`` it
        goes ``batch`` instances at a time, never every instance of one worker at once,
        and stops at the first failed batch (the rest fail as not attempted) unless
        ``keep_going``. ``control`` (a :class:`pshctl.lifecycle.Control`) lets another
        thread or a signal handler interrupt: no new worker begins, those in flight are
        started again, and the results' ``exit_code`` is 130.
        """
        from pshctl import lifecycle

        targets = self._chosen(action, workers, all_workers, instance)
        settings = lifecycle.Settings(grace=grace, verify=verify, max_parallel=max_parallel,
                                      rolling=rolling, batch=batch, keep_going=keep_going)
        return lifecycle.act(action, targets, settings, connector=self.connector(),
                             control=control, on_event=on_event)

    def stop(self, workers: Sequence[str] = (),
             **options: Unpack[ActionOptions]) -> Results[ActionResult]:
        """:meth:`act` ``("stop", ...)``: SIGTERM, then SIGKILL after ``grace`` seconds."""
        return self.act("stop", workers, **options)

    def start(self, workers: Sequence[str] = (),
              **options: Unpack[ActionOptions]) -> Results[ActionResult]:
        """:meth:`act` ``("start", ...)``: start, and check each stays up ``verify`` s."""
        return self.act("start", workers, **options)

    def restart(self, workers: Sequence[str] = (),
                **options: Unpack[ActionOptions]) -> Results[ActionResult]:
        """:meth:`act` ``("restart", ...)``: stop, start, verify a new process."""
        return self.act("restart", workers, **options)

    def plan(self, action: str, workers: Sequence[str] = (), *, all_workers: bool = False,
             grace: int = DEFAULT_GRACE, verify: float = DEFAULT_VERIFY,
             instance: Instance | None = None) -> list[tuple[Target, list[Step]]]:
        """The remote commands :meth:`act` would run, per worker; nothing is run
        (``--dry-run``)."""
        from pshctl import lifecycle

        targets = self._chosen(action, workers, all_workers, instance)
        settings = lifecycle.Settings(grace=grace, verify=verify)
        return list(lifecycle.iter_plans(action, targets, settings))

    def run(self, command: Sequence[str] | str, workers: Sequence[str] = (), *,
            all_workers: bool = False, app_container: bool = False,
            timeout: float | None = None, check: bool = False,
            instance: Instance | None = None,
            max_parallel: int = DEFAULT_MAX_PARALLEL) -> Results[CommandResult]:
        """Run one command in each worker's container, in parallel; keep its output.

        An argv list is quoted for the remote shell and arrives as written; a string is
        passed to the remote shell as is. With ``check=True`` a non-zero exit status is
        a :class:`CommandFailed` error; otherwise look at ``value.exit_status``.
        """

        def one(session: Session, target: Target) -> CommandResult:
            result = session.run(command, timeout=timeout)
            if check and not result.ok:
                raise CommandFailed(result.exit_status, result)
            return result

        targets = self._command_targets("run", workers, all_workers, app_container, instance)
        return Results(labelled(self._on_each(targets, one, max_parallel), targets))

    def stream(self, command: Sequence[str] | str, workers: Sequence[str] = (), *,
               on_output: Callable[[CommandOutput], None], all_workers: bool = False,
               app_container: bool = False, timeout: float | None = None,
               check: bool = False, max_parallel: int = DEFAULT_MAX_PARALLEL,
               stop: threading.Event | None = None,
               instance: Instance | None = None) -> Results[int]:
        """As :meth:`run`, but output is passed to ``on_output`` as it comes, in whole
        lines (called from several threads); each value is the exit status.

        Setting ``stop`` (from another thread or a signal handler) ends the remote
        commands: each gets SIGTERM where the server allows it and its channel is hung
        up; those not begun never begin. The results are then ``interrupted`` (exit 130).
        """
        from pshctl.errors import Interrupted
        from pshctl.logs import LineAssembler

        def one(session: Session, target: Target) -> int:
            assemblers = {"stdout": LineAssembler(), "stderr": LineAssembler()}

            def sink(kind: Literal["stdout", "stderr"]) -> Callable[[bytes], None]:
                def put(data: bytes) -> None:
                    block = assemblers[kind].feed(data)
                    if block is not None:
                        on_output(CommandOutput(target.name, kind, block))
                return put

            if stop is not None and stop.is_set():
                raise Interrupted("not started: interrupted")
            try:
                status = session.stream(command, on_stdout=sink("stdout"),
                                        on_stderr=sink("stderr"), timeout=timeout, stop=stop)
            finally:
                for kind, lines in assemblers.items():
                    rest = lines.flush()
                    if rest is not None:
                        on_output(CommandOutput(target.name, kind, rest))  # type: ignore[arg-type]
            if check and status != 0:
                raise CommandFailed(status)
            return status

        targets = self._command_targets("stream", workers, all_workers, app_container,
                                        instance)
        outcomes = self._on_each(targets, one, max_parallel)
        return Results(labelled(outcomes, targets), interrupted=stop is not None and stop.is_set())

    def copy(self, source: str, destination: str, *,
             progress: Callable[[int, int], None] | None = None,
             instance: Instance | None = None) -> CopyResult:
        """Copy one file between this machine and a container, as ``pshctl cp`` does.

        One side is ``WORKER:PATH`` (``APP:PATH`` for the app container, ``WORKER.N:PATH``
        or ``instance=N`` for one instance of a scaled worker, which must be named), the
        other a local path; a remote path is relative to the container's home directory, and a
        directory (or a path ending in ``/``) receives the file under its own name.
        ``progress(done, total)`` is called as bytes go. A refused or broken copy raises
        :class:`pshctl.transfer.CopyFailed` and leaves no partial file behind.
        """
        from pshctl import transfer

        names = self.workers
        src = transfer.parse_location(source, names, self.app.name)
        dst = transfer.parse_location(destination, names, self.app.name)
        direction, name = transfer.plan(src, dst)
        found = self.targets([] if name == self.app.name else [name], instance=instance)
        if len(found) > 1:
            raise UsageError(
                f"{found[0].container} has {len(found)} instances; a copy goes to one",
                hint=f"name it: {found[0].container}.N:PATH, or -I N "
                f"(N: {', '.join(str(t.instance) for t in found)})")
        from pshctl.ssh import connect

        with connect(found[0], self.ssh_options) as session:
            if direction == "upload":
                return transfer.upload(session, src.path, dst.path, progress=progress)
            return transfer.download(session, src.path, dst.path, progress=progress)

    def session(self, worker: str | None = None, *, instance: Instance | None = None) -> Session:
        """An SSH session to one worker's container (the app container when ``worker`` is
        None), with this environment's host-key policy and authentication; close it, or
        use it in a ``with`` block."""
        from pshctl.ssh import connect

        return connect(self.target(worker, instance=instance), self.ssh_options)

    def connection(self, worker: str | None = None, *,
                   instance: Instance | None = None) -> fabric.Connection:
        """A :class:`fabric.Connection` to one worker's container (None: the app
        container) for fabric's ``run``, ``sudo``, ``put`` and ``get``.

        Its link is a pshctl session, opened on first use: the same destination, host-key
        policy (never fabric's auto-add) and authentication as every pshctl command.
        Needs the optional extra ``pshctl[fabric]``; use it in a ``with`` block.
        """
        from pshctl.connection import connection

        target = self.target(worker, instance=instance)
        return connection(target, lambda: self.session(worker, instance=instance))

    def target(self, worker: str | None = None, *,
               instance: Instance | None = None) -> Target:
        """Where one container is reached: a worker's (``queue.1`` for one instance), or
        the app container's when ``worker`` is None. Of a scaled one without ``instance``,
        its first instance (as the platform's CLI does); :meth:`targets` gives them all."""
        return self.targets([worker] if worker else [], instance=instance)[0]

    # helpers

    def _command_targets(self, call: str, workers: Sequence[str], all_workers: bool,
                         app_container: bool, instance: Instance | None = None,
                         ) -> list[Target]:
        if not (workers or all_workers or app_container):
            raise UsageError(f"{call}() needs worker names, all_workers=True or "
                             "app_container=True")
        return self.targets(workers, all_workers=all_workers, app_container=app_container,
                            instance=instance)

    def _on_each(self, targets: Sequence[Target], work: Callable[[Session, Target], T],
                 max_parallel: int) -> list[Outcome[T]]:
        """``work(session, target)`` on one connection per target, in parallel."""
        from pshctl.parallel import run_parallel
        from pshctl.ssh import connect

        def one(target: Target) -> T:
            with connect(target, self.ssh_options) as session:
                return work(session, target)

        return run_parallel([(t.name, t) for t in targets], one, max_parallel=max_parallel)

    def _many(self, workers: Sequence[str], *, all_workers: bool = False,
              app_container: bool = False, instance: Instance | None = None) -> list[Target]:
        """The named workers, or every worker when none is named (or ``all_workers``)."""
        return self.targets(workers, all_workers=all_workers or not workers,
                            app_container=app_container, instance=instance)

    def connector(self) -> Connector:
        """Opens one SSH session per target with this environment's options."""
        from pshctl.lifecycle import ssh_connector

        return ssh_connector(self.ssh_options)

    def _chosen(self, action: str, workers: Sequence[str], all_workers: bool,
                instance: Instance | None = None) -> list[Target]:
        """The targets of a stop/start/restart, which needs names or ``all_workers``."""
        from pshctl.lifecycle import check_action

        check_action(action)
        if not (workers or all_workers):
            raise UsageError(f"{action}() needs worker names, or all_workers=True")
        return self.targets(workers, all_workers=all_workers, instance=instance)
