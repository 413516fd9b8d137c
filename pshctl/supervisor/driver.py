"""What every driver shares: stop and start as control verbs that return at once, then
pshctl's own polling of the service's state over the open session.

A supervisor's own waiting (``sv -w``, a blocking ``systemctl stop``) polls on a fixed
clock (``sv`` every 420 ms, and its first look comes before runsv has acted) and ends
on the unit's own timeout; pshctl instead sends the verb, then reads the state at once
and again at growing intervals (10 ms, doubling up to 200 ms), each read a few
milliseconds on the open connection. The grace is pshctl's: at ``grace`` seconds after
the stop request it sends SIGKILL itself, whatever the service's own stop timeout.

A driver supplies the commands (:meth:`status_command`, :meth:`stop_argv`,
:meth:`kill_argv`, :meth:`start_argv`), how to read their answers (:meth:`parse`,
:meth:`verb_problem`) and a detection fragment (:meth:`probe`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Literal

from pshctl.errors import OperationFailed
from pshctl.supervisor import (
    Output,
    ProgressSink,
    Runner,
    ServiceProblem,
    ServiceState,
    Step,
    StopProgress,
    StopReport,
)

# Per remote command: a slow or stuck remote must not hang pshctl forever.
COMMAND_TIMEOUT = 30.0
# After SIGKILL the process is gone at once; this only covers the supervisor noticing.
KILL_WAIT = 5.0
# How long the supervisor may take to read a stop request it got between two restarts
# of a crash-looping service (runsv pauses 1 s and reads its control pipe after that).
SETTLE_WAIT = 3.0
FIRST_POLL = 0.01
Verb = Literal["stop", "kill", "start"]
MAX_POLL = 0.2


def poll_delays(first: float = FIRST_POLL, cap: float = MAX_POLL) -> Iterator[float]:
    """Pauses between two reads: short at first (most stops and starts take a few ms),
    doubling up to ``cap``."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


class StopTicker:
    """Reports a stop's progress when it begins (its first tick), once per whole second,
    and on SIGKILL (a forced tick)."""

    def __init__(self, service: str, grace: float, sink: ProgressSink | None) -> None:
        self.service, self.grace, self.sink = service, grace, sink
        self.began = time.monotonic()
        self.killed = False
        self._second = -1

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def tick(self, *, force: bool = False) -> None:
        elapsed = self.elapsed()
        if self.sink is None or (int(elapsed) == self._second and not force):
            return
        self._second = int(elapsed)
        self.sink(StopProgress(self.service, elapsed, self.grace, self.killed))


class PollingDriver:
    """Stop, kill and start by control verbs, and pshctl's own polling (see module doc)."""

    name = "?"

    # --- what a driver supplies ------------------------------------------------------

    def status_command(self, services: Sequence[str]) -> Sequence[str] | str:
        """An argv, or a shell command line composed of constants and quoted names."""
        raise NotImplementedError

    def parse(self, result: Output, services: Sequence[str]) -> list[ServiceState]:
        """One state per service from the answer to :meth:`status_command`."""
        raise NotImplementedError

    def probe(self, services: Sequence[str]) -> str:
        """A shell fragment whose output :meth:`parse` reads (for detection)."""
        raise NotImplementedError

    def verb_argv(self, verb: Verb, service: str) -> list[str]:
        """The control verb's command, returning at once: ``stop`` (SIGTERM, and stay
        down), ``kill`` (SIGKILL to what still runs), ``start``."""
        raise NotImplementedError

    def stop_argv(self, service: str) -> list[str]:
        return self.verb_argv("stop", service)

    def kill_argv(self, service: str) -> list[str]:
        return self.verb_argv("kill", service)

    def start_argv(self, service: str) -> list[str]:
        return self.verb_argv("start", service)

    def verb_problem(self, result: Output, service: str) -> ServiceState | OperationFailed | None:
        """What went wrong with a control verb: a service problem, another failure, or
        None when the supervisor took the request."""
        raise NotImplementedError

    # --- the shared algorithms -------------------------------------------------------

    def status(self, runner: Runner, services: Sequence[str]) -> list[ServiceState]:
        result = runner.run(self.status_command(services), timeout=COMMAND_TIMEOUT)
        return self.parse(result, services)

    def read(self, runner: Runner, service: str) -> ServiceState:
        """The state of one service; raises when the supervisor cannot act on it."""
        state = self.status(runner, [service])[0]
        if state.problem is not None:
            raise ServiceProblem(state)
        return state

    def control(self, runner: Runner, argv: list[str], service: str) -> None:
        result = runner.run(argv, timeout=COMMAND_TIMEOUT)
        problem = self.verb_problem(result, service)
        if isinstance(problem, ServiceState):
            raise ServiceProblem(problem)
        if problem is not None:
            raise problem

    def stop(self, runner: Runner, service: str, grace: float, *,
             progress: ProgressSink | None = None) -> StopReport:
        ticker = StopTicker(service, grace, progress)
        self.control(runner, self.stop_argv(service), service)
        ticker.tick()
        killed_at: float | None = None
        for delay in poll_delays():
            state = self.read(runner, service)
            if state.stopped:
                break
            elapsed = ticker.elapsed()
            has_process = state.state in ("run", "finish", "start")
            if killed_at is None and elapsed >= grace and has_process:
                self.control(runner, self.kill_argv(service), service)
                killed_at = elapsed
                ticker.killed = True
                ticker.tick(force=True)
            elif killed_at is not None and elapsed - killed_at > KILL_WAIT:
                raise OperationFailed(f"still {state.describe()} {KILL_WAIT:g}s after SIGKILL")
            elif killed_at is None and elapsed > grace + SETTLE_WAIT:
                raise OperationFailed(f"did not stop: {state.describe()}")
            else:
                ticker.tick()
            time.sleep(delay)
        # The supervisor's own stop timeout may have killed it before our grace ran out.
        killed = killed_at is not None or state.last_exit == "signal KILL"
        return StopReport("killed" if killed else "exited", ticker.elapsed(), state)

    def start(self, runner: Runner, service: str, wait: float) -> ServiceState:
        """Returns the first running state, or the last one seen after ``wait`` s."""
        self.control(runner, self.start_argv(service), service)
        deadline = time.monotonic() + wait
        for delay in poll_delays():
            state = self.read(runner, service)
            if (state.running and state.want != "down") or time.monotonic() >= deadline:
                return state
            time.sleep(delay)
        raise AssertionError("unreachable")  # poll_delays() never ends

    def plan(self, action: str, service: str, *, grace: float, wait: float) -> list[Step]:
        status = self.status_command([service])
        if action == "status":
            return [Step.of(status)]
        if action == "stop":
            return [
                Step.of(self.stop_argv(service)),
                Step.of(status, "polled until it is down"),
                Step.of(self.kill_argv(service), f"if still running after {grace:g}s"),
                Step.of(status, "polled until it is down, after the kill"),
            ]
        if action == "start":
            return [
                Step.of(self.start_argv(service)),
                Step.of(status, f"polled until it runs, up to {wait:g}s"),
            ]
        raise ValueError(f"unknown action {action!r}")
