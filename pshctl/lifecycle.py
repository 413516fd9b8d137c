"""Worker lifecycle over SSH: status, stop, start, restart and wait.

Each worker gets one SSH connection per operation (``status`` and ``wait`` share one
per destination, since a single ``sv status`` answers for every service there). Work
runs in parallel up to ``max_parallel`` or in rolling batches, and every worker ends
with its own frozen result: one failing worker never hides the others.

Stopping follows Platform.sh: SIGTERM, up to ``grace`` seconds, then SIGKILL. A restart
is verified: a new pid, still the same process ``verify`` seconds later.

Interrupts are the caller's to catch (this module never prints nor installs signal
handlers); it calls :meth:`Control.interrupt` and this module then starts no new worker,
finishes starting every worker it stopped, and skips the verification wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pshctl.defaults import (
    DEFAULT_GRACE,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_VERIFY,
    DEFAULT_WAIT_TIMEOUT,
)
from pshctl.errors import ConnectionFailed, OperationFailed, OperationTimeout, UsageError
from pshctl.outcome import Outcome, Results, labelled
from pshctl.parallel import run_parallel
from pshctl.supervisor import (
    CRASH_LOOPING,
    DOWN,
    UNREACHABLE,
    UNSUPERVISED,
    UP,
    Runner,
    ServiceProblem,
    ServiceState,
    Step,
    StopProgress,
    Supervisor,
    get_supervisor,
)

if TYPE_CHECKING:
    from pshctl.ssh import SshOptions
    from pshctl.targets import Target
    from pshctl.top import TreeUsage

ACTIONS = ("stop", "start", "restart")
UNKNOWN = "unknown"  # a health word of lifecycle's own: the state could not be known
START_WAIT = 5  # how long `sv start` waits for the process to be running
POLL_INTERVAL = 0.5
USAGE_SLACK = 30  # seconds the /proc read may take beyond its sample


class Connection(Runner, Protocol):
    """What lifecycle needs of an SSH session (``pshctl.ssh.Session`` is one)."""

    def close(self) -> None: ...

    def __enter__(self) -> Connection: ...

    def __exit__(self, *exc: object) -> None: ...


Connector = Callable[["Target"], Connection]
EventSink = Callable[["Event"], None]
X = TypeVar("X")
# One destination's read: a state per service, each running one's process tree, and why
# the trees could not be read (if they could not).
_GroupRead = tuple[list[ServiceState], list["TreeUsage | None"], "OperationFailed | None"]


def ssh_connector(options: SshOptions | None = None) -> Connector:
    """Connect with :func:`pshctl.ssh.connect` and these options."""

    def connect(target: Target) -> Connection:
        from pshctl.ssh import connect as ssh_connect

        return ssh_connect(target, options)  # type: ignore[return-value]

    return connect


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as ``status`` saw it; ``health`` is one of the health words.

    A worker whose state could not be read has the health ``unreachable`` (no
    connection), ``unsupervised`` (the supervisor does not know the service) or
    ``unknown``; its outcome's error says why.
    """

    health: str
    pid: int | None = None
    uptime_s: float | None = None
    service: ServiceState | None = None
    usage: TreeUsage | None = None  # read only when asked (``top``, ``status --wide``)

    @property
    def reachable(self) -> bool:
        return self.health != UNREACHABLE

    def stable(self, seconds: float) -> bool:
        """Running, and has been the same process for at least ``seconds``."""
        s = self.service
        return bool(s and s.running and s.want != "down" and (s.uptime_s or 0) >= seconds)

    @property
    def supervisor(self) -> str | None:
        """The supervisor that answered for it (``runit``, ``systemd``), when one did."""
        return self.service.supervisor if self.service else None

    @property
    def restarts(self) -> int | None:
        """Restarts by the supervisor itself, where it counts them (systemd)."""
        return self.service.restarts if self.service else None

    @property
    def last_exit(self) -> str | None:
        """How its last process ended (``exit 1``, ``signal KILL``), where known."""
        return self.service.last_exit if self.service else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.health,
            "pid": self.pid,
            "uptime_s": self.uptime_s,
            "supervisor": self.supervisor,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "supervisor_status": self.service.raw if self.service else None,
            "usage": self.usage.to_dict() if self.usage else None,
        }


@dataclass(frozen=True)
class ActionResult:
    """What stop, start or restart did to one worker (its outcome says whether it failed)."""

    action: str
    health: str
    stop: str | None = None  # "exited" or "killed"; None when it was not running
    stop_s: float | None = None
    old_pid: int | None = None
    new_pid: int | None = None
    attempted: bool = True
    left_down: bool = False  # stopped by us and not running again

    def to_dict(self) -> dict[str, Any]:
        return {
            "stop": self.stop,
            "stop_s": None if self.stop_s is None else round(self.stop_s, 2),
            "old_pid": self.old_pid,
            "new_pid": self.new_pid,
            "state": self.health,
            "left_down": self.left_down,
        }


@dataclass(frozen=True)
class Event:
    """A step of one worker's progress, for live display.

    While a worker is ``stopping``, events repeat about once a second with ``elapsed``
    of ``grace`` seconds since SIGTERM, and ``killed`` once SIGKILL was sent.
    """

    worker: str
    phase: str  # stopping, stopped, starting, verifying, done, failed, skipped
    detail: str = ""
    elapsed: float | None = None
    grace: float | None = None
    killed: bool = False


@dataclass(frozen=True)
class Settings:
    """How stop/start/restart run (the CLI options)."""

    grace: int = DEFAULT_GRACE
    verify: float = DEFAULT_VERIFY
    max_parallel: int = DEFAULT_MAX_PARALLEL
    rolling: bool = False
    batch: int = 1
    keep_going: bool = False
    start_wait: int = START_WAIT


class CrashLooping(OperationFailed):
    """The worker did not stay up after being started."""


class NotAttempted(OperationFailed):
    """The worker was not touched: a rolling run halted, or the run was interrupted."""


# ---------------------------------------------------------------- interrupt control


@dataclass
class _Job:
    """One worker's progress, updated as it goes (results are built from it)."""

    target: Target
    phase: str = "waiting"
    old_pid: int | None = None
    stop: str | None = None
    stop_s: float | None = None
    new_pid: int | None = None
    stop_sent: bool = False
    started: bool = False
    health: str | None = None

    @property
    def name(self) -> str:
        return self.target.name


class Control:
    """Shared between a running operation and whoever handles interrupts.

    The first :meth:`interrupt` lets running workers finish their stop-and-start and
    begins no new one; what to do on a second one is the caller's choice, helped by
    :meth:`possibly_down`.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.interrupts = 0
        self._jobs: dict[str, _Job] = {}

    def interrupt(self) -> int:
        with self._lock:
            self.interrupts += 1
            self._event.set()
            return self.interrupts

    @property
    def interrupted(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep unless interrupted; True when the full time passed."""
        return not self._event.wait(max(0.0, seconds))

    def _track(self, jobs: Sequence[_Job]) -> None:
        self._jobs.update({job.name: job for job in jobs})

    def in_flight(self) -> list[str]:
        """Workers being worked on right now."""
        return [j.name for j in self._jobs.values() if j.phase not in ("waiting", "done",
                                                                        "failed", "skipped")]

    def possibly_down(self) -> list[str]:
        """Workers that pshctl asked to stop and has not yet seen running again."""
        return [j.name for j in self._jobs.values() if j.stop_sent and not j.started]


# ---------------------------------------------------------------- status


def _destination(target: Target) -> tuple[object, ...]:
    return (target.host, target.port, target.user, target.identity_file, target.known_hosts,
            target.supervisor)


class StatusReader:
    """Reads the state of many workers: one connection and one command per destination.

    With ``keep_open`` the connections are kept for the next :meth:`read` (``--watch``
    and ``wait``); a connection that fails is reopened on the next read.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        connector: Connector,
        *,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
        keep_open: bool = False,
        usage_sample: float | None = None,
    ) -> None:
        self.targets = list(targets)
        self.connector = connector
        self.max_parallel = max_parallel
        self.keep_open = keep_open
        # Seconds between the two looks at /proc; None: do not read the process trees.
        self.usage_sample = usage_sample
        self._groups: dict[tuple[object, ...], list[Target]] = {}
        for target in self.targets:
            self._groups.setdefault(_destination(target), []).append(target)
        self._sessions: dict[tuple[object, ...], Connection] = {}
        # Kept across reads: a detected supervisor is not probed for again.
        self._supervisors: dict[tuple[object, ...], Supervisor] = {}

    def read(self) -> Results[WorkerStatus]:
        keys = list(self._groups)
        outcomes = run_parallel(
            [(str(i), key) for i, key in enumerate(keys)], self._read_group,
            max_parallel=self.max_parallel,
        )
        by_name: dict[str, Outcome[WorkerStatus]] = {}
        for key, outcome in zip(keys, outcomes, strict=True):
            group = self._groups[key]
            if outcome.error is None and outcome.value is not None:
                states, usages, failed = outcome.value
                for target, state, usage in zip(group, states, usages, strict=True):
                    by_name[target.name] = _read_status(target.name, state, usage, failed)
            else:
                for target in group:
                    by_name[target.name] = _unread_status(target.name, outcome.error)
        return Results(labelled((by_name[t.name] for t in self.targets), self.targets))

    def _read_group(self, key: tuple[object, ...]) -> _GroupRead:
        group = self._groups[key]
        session = self._sessions.pop(key, None)
        if session is None:  # a new connection may reach another container: detect again
            session = self.connector(group[0])
            self._supervisors.pop(key, None)
        try:
            supervisor = self._supervisors.get(key) or get_supervisor(group[0].supervisor)
            states = supervisor.status(session, [t.service for t in group])
            self._supervisors[key] = supervisor
            usages, failed = self._usage(session, states)
        except BaseException:
            session.close()
            raise
        if self.keep_open:
            self._sessions[key] = session
        else:
            session.close()
        return states, usages, failed

    def _usage(self, session: Connection, states: Sequence[ServiceState],
               ) -> tuple[list[TreeUsage | None], OperationFailed | None]:
        """Each running service's process tree, from one read of /proc on this session."""
        none: list[TreeUsage | None] = [None] * len(states)
        if self.usage_sample is None or not any(s.running for s in states):
            return none, None
        from pshctl.top import parse_sample, proc_command, tree_usage

        result = session.run(proc_command(self.usage_sample),
                             timeout=self.usage_sample + USAGE_SLACK)
        try:
            if result.exit_status != 0:
                raise OperationFailed(f"cannot read /proc (status {result.exit_status}): "
                                      f"{result.stderr.strip() or result.stdout.strip()}")
            sample = parse_sample(result.stdout)
        except OperationFailed as exc:
            return none, exc
        return [tree_usage(s.pid, sample) if s.running and s.pid else None
                for s in states], None

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    def __enter__(self) -> StatusReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_status(name: str, state: ServiceState, usage: TreeUsage | None = None,
                 usage_failed: OperationFailed | None = None) -> Outcome[WorkerStatus]:
    status = WorkerStatus(state.health, state.pid if state.running else None, state.uptime_s,
                          state, usage)
    # The supervisor answered, but not for this service: the error stop/start would raise.
    error = ServiceProblem(state) if state.problem else usage_failed if state.running else None
    return Outcome(name, status, error)


def _unread_status(name: str, error: BaseException | None) -> Outcome[WorkerStatus]:
    if isinstance(error, ConnectionFailed):
        health = UNREACHABLE
    elif isinstance(error, ServiceProblem):
        health = UNSUPERVISED
    else:  # e.g. `sv status` itself timed out: the state is not known
        health = UNKNOWN
    return Outcome(name, WorkerStatus(health), error)


def status(
    targets: Sequence[Target],
    *,
    connector: Connector | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
) -> Results[WorkerStatus]:
    """The state of every target, unreachable ones included."""
    with StatusReader(targets, connector or ssh_connector(), max_parallel=max_parallel) as r:
        return r.read()


def wait(
    targets: Sequence[Target],
    *,
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    stable: float = DEFAULT_VERIFY,
    connector: Connector | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    poll: float = POLL_INTERVAL,
) -> Results[WorkerStatus]:
    """Poll until every target runs the same process for ``stable`` seconds, or time out.

    Unreachable workers are retried until the deadline (a container may be restarting).
    A worker whose service does not exist ends the wait at once: waiting cannot help, and
    its error is that ServiceProblem (exit 1). A worker not up in time gets an
    :class:`OperationTimeout` whose ``__cause__`` is why its last read failed, if it did.
    """
    began = time.monotonic()
    deadline = began + timeout
    with StatusReader(targets, connector or ssh_connector(), max_parallel=max_parallel,
                      keep_open=True) as reader:
        while True:
            read = reader.read()
            hopeless = [o for o in read if _hopeless(o)]
            done = all(o.value is not None and o.value.stable(stable) for o in read)
            left = deadline - time.monotonic()
            if done or hopeless or left <= 0:
                waited = time.monotonic() - began
                return Results(tuple(_waited(o, stable, waited) for o in read), waited)
            time.sleep(min(poll, left))


def _hopeless(outcome: Outcome[WorkerStatus]) -> bool:
    """Its service (or the supervisor itself) does not exist: it cannot come up by waiting."""
    service = outcome.value.service if outcome.value is not None else None
    return service is not None and service.problem == "missing"


def _waited(outcome: Outcome[WorkerStatus], stable: float,
            waited: float) -> Outcome[WorkerStatus]:
    status = outcome.value
    if status is not None and status.stable(stable):
        return replace(outcome, error=None)
    if _hopeless(outcome):
        return outcome
    health = status.health if status is not None else UNKNOWN
    timeout = OperationTimeout(f"{outcome.name} not up and stable for {stable:g}s after "
                               f"{waited:.1f}s (state: {health}"
                               f"{'; ' + outcome.message if outcome.message else ''})")
    timeout.__cause__ = outcome.error  # why the last read failed, if it did
    return replace(outcome, error=timeout)


# ---------------------------------------------------------------- stop / start / restart


class _Operation:
    """One stop/start/restart run over many workers."""

    def __init__(
        self,
        action: str,
        targets: Sequence[Target],
        settings: Settings,
        connector: Connector,
        control: Control,
        on_event: EventSink | None,
    ) -> None:
        self.action = action
        self.settings = settings
        self.connector = connector
        self.control = control
        self.on_event = on_event
        self.jobs = [_Job(t) for t in targets]
        control._track(self.jobs)

    def event(self, job: _Job, phase: str, detail: str = "", **progress: Any) -> None:
        job.phase = phase
        if self.on_event is not None:
            self.on_event(Event(job.name, phase, detail, **progress))

    def run(self) -> Results[ActionResult]:
        outcomes: dict[str, Outcome[ActionResult]] = {}
        if self.settings.rolling:
            batches = rolling_batches(self.jobs, self.settings.batch, lambda j: j.target)
        else:
            batches = [self.jobs]
        halted = ""
        for batch in batches:
            if halted or self.control.interrupted:
                for job in batch:
                    outcomes[job.name] = self._skip(job, halted or "interrupted")
                continue
            done = run_parallel([(j.name, j) for j in batch], self._one,
                                max_parallel=self.settings.max_parallel)
            for job, outcome in zip(batch, done, strict=True):
                outcomes[job.name] = self._outcome(job, outcome.error)
            failed = [j.name for j in batch if not outcomes[j.name].ok]
            if self.settings.rolling and failed and not self.settings.keep_going:
                halted = f"{failed[0]} failed"
        return Results(labelled((outcomes[job.name] for job in self.jobs),
                                [job.target for job in self.jobs]),
                       interrupted=self.control.interrupted)

    def _skip(self, job: _Job, reason: str) -> Outcome[ActionResult]:
        self.event(job, "skipped", f"not attempted: {reason}")
        return Outcome(job.name, ActionResult(self.action, UNKNOWN, attempted=False),
                       NotAttempted(f"not attempted: {reason}"))

    def _one(self, job: _Job) -> None:
        if self.control.interrupted:
            raise NotAttempted("not attempted: interrupted")
        self.event(job, "connecting")
        supervisor = get_supervisor(job.target.supervisor)
        with self.connector(job.target) as session:
            service = job.target.service
            before = supervisor.status(session, [service])[0]
            if before.problem is not None:
                raise ServiceProblem(before)
            job.old_pid = before.pid if before.running else None
            if self.action in ("stop", "restart"):
                self._stop(job, session, supervisor, service, was_running=before.running)
            if self.action in ("start", "restart"):
                if self.action == "start" and before.running:
                    if before.want != "down":
                        job.new_pid, job.health = before.pid, before.health
                        self.event(job, "done", f"already running, pid {before.pid}")
                        return
                    # Still stopping (TERM sent, e.g. by an aborted restart): `sv start` would
                    # answer with the dying process. Finish that stop as Platform.sh does,
                    # then start a fresh one.
                    self._stop(job, session, supervisor, service, was_running=True)
                self._start(job, session, supervisor, service)

    def _stop(self, job: _Job, session: Connection, supervisor: Any, service: str,
              *, was_running: bool) -> None:
        grace = self.settings.grace
        self.event(job, "stopping", f"SIGTERM, SIGKILL after {grace}s" if was_running else
                   "not running")
        job.stop_sent = True

        def progress(step: StopProgress) -> None:
            detail = (f"SIGKILL, still running after {step.elapsed:.0f}s" if step.killed
                      else f"SIGTERM, SIGKILL after {grace}s")
            self.event(job, "stopping", detail, elapsed=step.elapsed, grace=step.grace,
                       killed=step.killed)

        report = supervisor.stop(session, service, grace,
                                 progress=progress if was_running else None)
        job.health = DOWN
        if was_running:
            job.stop, job.stop_s = report.outcome, report.seconds
            self.event(job, "stopped", f"{report.outcome} after {report.seconds:.1f}s")
        else:
            self.event(job, "stopped", "was not running")
        if self.action == "stop":
            self.event(job, "done", "down")

    def _start(self, job: _Job, session: Connection, supervisor: Any, service: str) -> None:
        self.event(job, "starting")
        state = supervisor.start(session, service, self.settings.start_wait)
        # A `start` may find the old process still there (a stop that had not finished):
        # only a restart insists on a new pid.
        fresh = self.action != "restart" or state.pid != job.old_pid
        if (state.running and fresh) or state.want == "up":
            job.started = True  # running, or runit is trying to: not left down by us
            job.new_pid = state.pid
        verify = 0.0 if self.control.interrupted else self.settings.verify
        self.event(job, "verifying", f"pid {state.pid}, {verify:g}s" if state.running else "")
        state = self._verify(job, session, supervisor, service, state, verify)
        job.health = UP
        self.event(job, "done", f"up, pid {state.pid}")

    def _verify(self, job: _Job, session: Connection, supervisor: Any, service: str,
                state: ServiceState, verify: float) -> ServiceState:
        """Fail unless one new process stays running for ``verify`` seconds."""
        first = state.pid
        deadline = time.monotonic() + verify
        while True:
            job.health = state.health
            if state.problem is not None:
                raise ServiceProblem(state)
            if not state.running:
                job.health = CRASH_LOOPING
                raise CrashLooping(f"did not stay up: {state.describe()}")
            if self.action == "restart" and state.pid == job.old_pid:
                raise OperationFailed(f"still the old process (pid {state.pid})")
            if state.pid != first:
                job.health = CRASH_LOOPING
                raise CrashLooping(f"exited and was restarted by the supervisor "
                                   f"(pid {first} -> {state.pid})")
            left = deadline - time.monotonic()
            if left <= 0 or (self.control.interrupted and verify > 0):
                return state
            self.control.sleep(min(POLL_INTERVAL, left))
            state = supervisor.status(session, [service])[0]

    def _outcome(self, job: _Job, error: BaseException | None) -> Outcome[ActionResult]:
        if isinstance(error, NotAttempted):
            return self._skip(job, "interrupted")
        if error is None:
            health = job.health or (DOWN if self.action == "stop" else UP)
            return Outcome(job.name, self._result(job, health))
        if isinstance(error, ConnectionFailed):
            health = UNREACHABLE
        elif isinstance(error, ServiceProblem):
            health = UNSUPERVISED
        else:
            health = job.health or UNKNOWN
        left_down = job.stop_sent and not job.started and self.action != "stop"
        outcome = Outcome(job.name, self._result(job, health, left_down=left_down), error)
        self.event(job, "failed", (outcome.message or "") +
                   (" (the worker is down)" if left_down else ""))
        return outcome

    def _result(self, job: _Job, health: str, *, left_down: bool = False) -> ActionResult:
        return ActionResult(self.action, health, job.stop, job.stop_s, job.old_pid,
                            job.new_pid, left_down=left_down)


def rolling_batches(items: Sequence[X], size: int,
                    target_of: Callable[[X], Target]) -> list[list[X]]:
    """``items`` in batches of at most ``size``, in order, never holding every instance
    of a scaled worker: while one batch is down, some instance of each worker still runs.

    An item that would complete its worker in a batch waits for the next one (items
    after it may go first), so ``--batch 3`` over ``queue`` x3 and ``mail`` is
    ``[queue.0, queue.1, mail], [queue.2]``.
    """
    size = max(1, size)
    batches: list[list[X]] = []
    pending = list(items)
    while pending:
        batch: list[X] = []
        held: list[X] = []
        taken: dict[str, int] = {}
        for item in pending:
            target = target_of(item)
            count = taken.get(target.container, 0)
            if len(batch) < size and (target.instances < 2 or count + 1 < target.instances):
                batch.append(item)
                taken[target.container] = count + 1
            else:
                held.append(item)
        batches.append(batch)
        pending = held
    return batches


def check_action(action: str) -> None:
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")


def act(action: str, targets: Sequence[Target], settings: Settings | None = None, *,
        connector: Connector | None = None, control: Control | None = None,
        on_event: EventSink | None = None) -> Results[ActionResult]:
    """Stop, start or restart every target; an outcome each, in the order given.

    stop: the Platform.sh way (TERM, ``grace`` seconds, KILL). start: every target that
    is not running, verified to stay up. restart: stop, start, and verify a new process.
    """
    check_action(action)
    operation = _Operation(action, targets, settings or Settings(),
                           connector or ssh_connector(), control or Control(), on_event)
    return operation.run()


# ---------------------------------------------------------------- dry run


def plan(action: str, target: Target, settings: Settings | None = None) -> list[Step]:
    """The exact remote commands ``action`` would run on ``target`` (``--dry-run``)."""
    settings = settings or Settings()
    supervisor = get_supervisor(target.supervisor)
    service = target.service
    grace, wait_s = settings.grace, settings.start_wait
    steps = list(supervisor.plan("status", service, grace=grace, wait=wait_s))
    if action in ("stop", "restart"):
        steps += supervisor.plan("stop", service, grace=grace, wait=wait_s)
    if action == "start":  # a worker still stopping (want down) finishes that stop first
        steps += [Step(s.argv, "if still stopping" + (f", {s.when}" if s.when else ""), s.script)
                  for s in supervisor.plan("stop", service, grace=grace, wait=wait_s)]
    if action in ("start", "restart"):
        start_steps = supervisor.plan("start", service, grace=grace, wait=wait_s)
        if action == "start":
            start_steps = [Step(s.argv, "unless already running" + (f", {s.when}" if s.when
                                                                    else ""), s.script)
                           for s in start_steps]
        steps += start_steps
        status_step = supervisor.plan("status", service, grace=grace, wait=wait_s)[0]
        steps.append(Step(status_step.argv, f"every {POLL_INTERVAL:g}s for "
                          f"{settings.verify:g}s, to verify it stays up", status_step.script))
    return steps


def iter_plans(action: str, targets: Sequence[Target],
               settings: Settings | None = None) -> Iterator[tuple[Target, list[Step]]]:
    for target in targets:
        yield target, plan(action, target, settings)


__all__ = [
    "ACTIONS",
    "ActionResult",
    "Control",
    "CrashLooping",
    "Event",
    "NotAttempted",
    "Settings",
    "StatusReader",
    "WorkerStatus",
    "act",
    "plan",
    "rolling_batches",
    "status",
    "wait",
]
