"""Process supervisors behind one small interface: what a service is doing, stop, start.

A :class:`Supervisor` turns actions into remote commands and their text answers into a
:class:`ServiceState`. It runs commands through anything with a ``run(argv, timeout=)``
method (an SSH ``Session`` in practice), so this package knows nothing about SSH.

Drivers, one file each: ``runit.py`` (``sv``) and ``systemd.py`` (``systemctl --user``),
both built on ``driver.PollingDriver``, which holds the stop and start algorithms
(control verbs that return at once, then pshctl's own polling), so both supervisors
stop, kill, start and report alike. ``auto.py`` finds, per service and in the same
round trip as the first status read, which of them supervises it.

A service is addressed as the target configures it, ``[service_dir/]service_name``:
runit takes the whole path, systemd the last part as the unit name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pshctl.errors import ConfigError, OperationFailed

# run: a process runs; down: none; finish: the process is gone but the supervisor is
# still busy with it (runit's finish script, systemd's stop of leftover processes);
# start: being started, no process proven yet (systemd's `activating`).
RunState = Literal["run", "down", "finish", "start"]
Problem = Literal["missing", "unsupervised"]
StopOutcome = Literal["exited", "killed"]

# Health words, as shown by `pshctl status` (`unreachable` is decided by the caller:
# a supervisor never sees a worker it cannot reach).
UP = "up"
DOWN = "down"
STARTING = "starting"
CRASH_LOOPING = "crash-looping"
UNSUPERVISED = "unsupervised"
UNREACHABLE = "unreachable"

# A process younger than this is still "starting": it has not yet proved it stays up.
STARTING_SECONDS = 2.0

AUTO = "auto"
SUPERVISORS = ("runit", "systemd")  # the drivers, in the order detection prefers them last


class Output(Protocol):
    exit_status: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs one remote command (``pshctl.ssh.Session`` is one)."""

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Output: ...


@dataclass(frozen=True)
class ServiceState:
    """One service as its supervisor describes it.

    ``problem`` is set when the supervisor cannot describe the service at all:
    ``missing`` (no such service) or ``unsupervised`` (nothing supervises it);
    ``message`` then carries the supervisor's own words. ``restarts`` and
    ``last_exit`` are known only where the supervisor keeps them (systemd).
    """

    service: str
    state: RunState | None = None
    pid: int | None = None
    uptime_s: float | None = None  # time spent in the current state
    normally_up: bool = True
    want: Literal["up", "down"] | None = None  # set only when it differs from `state`
    got_term: bool = False
    paused: bool = False
    problem: Problem | None = None
    message: str | None = None
    raw: str = ""
    supervisor: str | None = None  # the driver that gave this answer
    restarts: int | None = None  # times the supervisor restarted it by itself
    last_exit: str | None = None  # how its last process ended: "exit 1", "signal KILL"

    @property
    def running(self) -> bool:
        return self.state in ("run", "start") and self.pid is not None

    @property
    def stopped(self) -> bool:
        """Down, and the supervisor does not mean to bring it back by itself."""
        return self.problem is None and self.state == "down" and self.want != "up"

    @property
    def health(self) -> str:
        """The one health word for this snapshot."""
        if self.problem is not None:
            return UNSUPERVISED
        if self.state == "start" and self.want != "down":
            return STARTING
        if self.state in ("run", "start"):
            if self.want == "down":
                return DOWN  # being stopped
            if self.uptime_s is not None and self.uptime_s < STARTING_SECONDS:
                return STARTING
            return UP
        # Down (or busy with its last process) while the supervisor still wants it up:
        # it exited by itself and is being restarted.
        if self.want == "up" or (self.state == "finish" and self.want is None):
            return CRASH_LOOPING
        return DOWN

    def describe(self) -> str:
        """A short human summary: ``run (pid 12) 40s``, ``down 3s, want up``."""
        if self.problem is not None:
            return f"{self.problem}: {self.message}"
        parts: list[str] = [self.state or "?"]
        if self.pid is not None:
            parts.append(f"(pid {self.pid})")
        if self.uptime_s is not None:
            parts.append(f"{self.uptime_s:g}s")
        flags = [f"want {self.want}"] if self.want else []
        flags += ["got TERM"] * self.got_term + ["paused"] * self.paused
        if self.restarts:
            flags.append(f"{self.restarts} restart{'s' * (self.restarts != 1)}")
        if self.last_exit:
            flags.append(f"last {self.last_exit}")
        return " ".join(parts) + (", " + ", ".join(flags) if flags else "")


@dataclass(frozen=True)
class StopReport:
    """How a running service went down and after how long (seconds, seen from pshctl)."""

    outcome: StopOutcome
    seconds: float
    state: ServiceState


@dataclass(frozen=True)
class StopProgress:
    """A stop under way: ``elapsed`` of ``grace`` seconds since SIGTERM; ``killed`` once
    SIGKILL was sent. Reported when the stop begins, about once a second while it
    waits, and when it sends SIGKILL."""

    service: str
    elapsed: float
    grace: float
    killed: bool = False


ProgressSink = Callable[[StopProgress], None]


@dataclass(frozen=True)
class Step:
    """One remote command of a plan; ``when`` says when it runs if not always.

    ``script`` is set for a command line pshctl sends as written (composed from
    constants and quoted names) for the remote shell to run; ``argv`` is then the
    equivalent ``sh -c`` argv.
    """

    argv: tuple[str, ...]
    when: str | None = None
    script: str | None = None

    @classmethod
    def of(cls, command: Sequence[str] | str, when: str | None = None) -> Step:
        if isinstance(command, str):
            return cls(("sh", "-c", command), when, command)
        return cls(tuple(command), when)

    @property
    def command(self) -> str:
        """The command line as the remote shell gets it."""
        import shlex

        return self.script if self.script is not None else shlex.join(self.argv)


class ServiceProblem(OperationFailed):
    """The supervisor cannot act on the service (missing or unsupervised)."""

    def __init__(self, state: ServiceState) -> None:
        super().__init__(state.describe())
        self.state = state


class Supervisor(Protocol):
    """What lifecycle needs from a process supervisor."""

    name: str

    def status(self, runner: Runner, services: Sequence[str]) -> list[ServiceState]:
        """One state per service, in order; never raises for a missing service."""
        ...

    def stop(self, runner: Runner, service: str, grace: float, *,
             progress: ProgressSink | None = None) -> StopReport:
        """TERM, wait up to ``grace`` seconds, then KILL; returns once it is down."""
        ...

    def start(self, runner: Runner, service: str, wait: float) -> ServiceState:
        """Ask for the service to run; wait up to ``wait`` seconds for it to be running."""
        ...

    def plan(self, action: str, service: str, *, grace: float, wait: float) -> list[Step]:
        """The exact remote commands an action would run, for ``--dry-run``."""
        ...


def _runit() -> Supervisor:
    from pshctl.supervisor.runit import Runit

    return Runit()


def _systemd() -> Supervisor:
    from pshctl.supervisor.systemd import Systemd

    return Systemd()


def _auto() -> Supervisor:
    from pshctl.supervisor.auto import Auto

    return Auto()


DRIVERS: dict[str, Callable[[], Supervisor]] = {
    "runit": _runit, "systemd": _systemd, AUTO: _auto,
}


def get_supervisor(name: str) -> Supervisor:
    """A fresh driver: ``runit``, ``systemd`` or ``auto`` (finds out per service)."""
    try:
        factory = DRIVERS[name]
    except KeyError:
        raise ConfigError(
            f"unsupported supervisor '{name}'", hint=f"supported: {', '.join(sorted(DRIVERS))}"
        ) from None
    return factory()
