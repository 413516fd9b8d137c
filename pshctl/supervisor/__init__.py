"""Process supervisors behind one small interface: what a service is doing, stop, start.

A :class:`Supervisor` turns actions into remote argv lists and their text answers into a
:class:`ServiceState`. It runs commands through anything with a ``run(argv, timeout=)``
method (an SSH ``Session`` in practice), so this package knows nothing about SSH.
runit (``sv``) is the only driver today; a ``systemctl --user`` one would sit beside it
and register itself in :data:`DRIVERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pshctl.errors import ConfigError, OperationFailed

RunState = Literal["run", "down", "finish"]
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
    ``message`` then carries the supervisor's own words.
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

    @property
    def running(self) -> bool:
        return self.state == "run" and self.pid is not None

    @property
    def health(self) -> str:
        """The one health word for this snapshot."""
        if self.problem is not None:
            return UNSUPERVISED
        if self.state == "run":
            if self.want == "down":
                return DOWN  # being stopped
            if self.uptime_s is not None and self.uptime_s < STARTING_SECONDS:
                return STARTING
            return UP
        # Down (or running its finish script) while runit still wants it up: it exited
        # by itself and is being restarted.
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
        return " ".join(parts) + (", " + ", ".join(flags) if flags else "")


@dataclass(frozen=True)
class StopReport:
    """How a running service went down and after how long (seconds, seen from pshctl)."""

    outcome: StopOutcome
    seconds: float
    state: ServiceState


@dataclass(frozen=True)
class Step:
    """One remote command of a plan; ``when`` says when it runs if not always."""

    argv: tuple[str, ...]
    when: str | None = None


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

    def stop(self, runner: Runner, service: str, grace: int) -> StopReport:
        """TERM, wait up to ``grace`` seconds, then KILL; returns once it is down."""
        ...

    def start(self, runner: Runner, service: str, wait: int) -> ServiceState:
        """Ask for the service to run; wait up to ``wait`` seconds for it to be running."""
        ...

    def plan(self, action: str, service: str, *, grace: int, wait: int) -> list[Step]:
        """The exact remote commands an action would run, for ``--dry-run``."""
        ...


def _runit() -> Supervisor:
    from pshctl.supervisor.runit import Runit

    return Runit()


DRIVERS: dict[str, Callable[[], Supervisor]] = {"runit": _runit}


def get_supervisor(name: str) -> Supervisor:
    try:
        factory = DRIVERS[name]
    except KeyError:
        raise ConfigError(
            f"unsupported supervisor '{name}'", hint=f"supported: {', '.join(sorted(DRIVERS))}"
        ) from None
    return factory()
