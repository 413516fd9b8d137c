"""runit: the exact ``sv`` commands, and what ``sv``'s answers mean.

``sv``'s exit status is never trusted: ``sv status`` exits 0 for a down service and
``sv -w N stop`` exits 1 on a timeout that we handle ourselves; every decision is made
from the parsed text (the state, and the pid).

``sv`` prints one line per service argument, for instance::

    run: /srv/service/app: (pid 123) 45s; run: log: (pid 120) 45s
    down: app: 3s, normally up, want up
    ok: down: app: 0s, normally up              (after `sv -w 15 stop`)
    timeout: run: app: (pid 123) 15s, want down, got TERM
    fail: app: unable to change to service directory: file does not exist
    warning: app: unable to open supervise/ok: file does not exist
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Literal

from pshctl.errors import OperationFailed
from pshctl.supervisor import (
    Output,
    Problem,
    Runner,
    ServiceProblem,
    ServiceState,
    Step,
    StopReport,
)

SV = "sv"
# After SIGKILL the process is gone at once; this only covers runsv noticing it.
KILL_WAIT = 5
# How long runsv may take to read a stop request while it pauses between restarts.
SETTLE_WAIT = 3.0
# Extra time allowed to an `sv -w N` command beyond N before the SSH call gives up.
COMMAND_SLACK = 30

_STATE_RE = re.compile(
    r"^(?:(?:ok|timeout|kill): )?(?P<state>run|down|finish): (?P<name>.+?): "
    r"(?:\(pid (?P<pid>\d+)\) )?(?P<secs>\d+)s(?P<flags>[^;]*)"
)
_PROBLEM_RE = re.compile(
    r"^(?:(?:ok|timeout|kill): )?(?P<kind>fail|warning): (?P<name>.+?): (?P<msg>.*)$"
)
_MISSING = "unable to change to service directory"


def status_argv(services: Sequence[str]) -> list[str]:
    return [SV, "status", *services]


def stop_argv(service: str, grace: int) -> list[str]:
    """SIGTERM (then SIGCONT) and wait up to ``grace`` seconds for it to be down."""
    return [SV, "-w", str(_seconds(grace)), "stop", service]


def kill_argv(service: str) -> list[str]:
    return [SV, "kill", service]


def start_argv(service: str, wait: int) -> list[str]:
    return [SV, "-w", str(_seconds(wait)), "start", service]


def _seconds(value: float) -> int:
    """``sv -w`` takes whole seconds, and 0 would mean no wait at all."""
    return max(1, math.ceil(value))


def parse_line(line: str, service: str) -> ServiceState:
    """One line of ``sv`` output (an optional ``ok:``/``timeout:`` verdict is ignored)."""
    line = line.strip()
    problem = _PROBLEM_RE.match(line)
    if problem:
        message = problem["msg"]
        kind: Problem = "missing" if _MISSING in message else "unsupervised"
        return ServiceState(service, problem=kind, message=message, raw=line)
    match = _STATE_RE.match(line)
    if not match:
        return ServiceState(
            service, problem="unsupervised", message=f"unexpected sv output: {line!r}", raw=line
        )
    state = match["state"]
    flags = [f.strip() for f in match["flags"].split(",") if f.strip()]
    pid = int(match["pid"]) if match["pid"] else None
    # sv names the normal state only when it differs from the current one.
    if state == "down":
        normally_up = "normally up" in flags
    else:
        normally_up = "normally down" not in flags
    want: Literal["up", "down"] | None = (
        "up" if "want up" in flags else "down" if "want down" in flags else None
    )
    return ServiceState(
        service,
        state=state,  # type: ignore[arg-type]
        pid=pid,
        uptime_s=float(match["secs"]),
        normally_up=normally_up,
        want=want,
        got_term="got TERM" in flags,
        paused="paused" in flags,
        raw=line,
    )


def _name_of(line: str) -> str | None:
    for regex in (_STATE_RE, _PROBLEM_RE):
        match = regex.match(line.strip())
        if match:
            return match["name"]
    return None


def parse_status(text: str, services: Sequence[str]) -> list[ServiceState]:
    """One state per service, matched by the name ``sv`` echoes back, in order.

    Lines about other names (a ``log`` service, stray warnings) are skipped; a service
    ``sv`` said nothing about is reported as unsupervised with the text it did print.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    states: list[ServiceState] = []
    position = 0
    for service in services:
        for index in range(position, len(lines)):
            if _name_of(lines[index]) == service:
                states.append(parse_line(lines[index], service))
                position = index + 1
                break
        else:
            said = text.strip() or "(nothing)"
            states.append(
                ServiceState(
                    service, problem="unsupervised", message=f"no status from sv: {said}", raw=text
                )
            )
    return states


def _text(result: Output) -> str:
    return (result.stdout or "") + (result.stderr or "")


# The remote shell's status for a command it cannot find.
COMMAND_NOT_FOUND = 127


def states_of(result: Output, services: Sequence[str]) -> list[ServiceState]:
    """What ``sv`` reported for each service; a remote without ``sv`` says so plainly."""
    if result.exit_status == COMMAND_NOT_FOUND and not result.stdout.strip():
        message = "runit's `sv` is not installed on the remote (is runit the supervisor here?)"
        return [
            ServiceState(service, problem="missing", message=message, raw=result.stderr)
            for service in services
        ]
    return parse_status(_text(result), services)


class Runit:
    """The runit driver: ``sv`` against a service name or service directory."""

    name = "runit"

    def status(self, runner: Runner, services: Sequence[str]) -> list[ServiceState]:
        result = runner.run(status_argv(services), timeout=COMMAND_SLACK)
        return states_of(result, services)

    def _one(self, runner: Runner, argv: list[str], service: str, wait: float) -> ServiceState:
        result = runner.run(argv, timeout=wait + COMMAND_SLACK)
        state = states_of(result, [service])[0]
        if state.problem is not None:
            raise ServiceProblem(state)
        return state

    def stop(self, runner: Runner, service: str, grace: int) -> StopReport:
        began = time.monotonic()
        state = self._one(runner, stop_argv(service, grace), service, grace)
        if state.state == "down":
            state = self._settle(runner, service, state)
            return StopReport("exited", time.monotonic() - began, state)
        # Still running (sv said `timeout:`): the Platform.sh way, SIGKILL it.
        runner.run(kill_argv(service), timeout=COMMAND_SLACK)
        state = self._one(runner, stop_argv(service, KILL_WAIT), service, KILL_WAIT)
        if state.state != "down":
            raise OperationFailed(f"still {state.describe()} after SIGKILL")
        return StopReport("killed", time.monotonic() - began, state)

    def _settle(self, runner: Runner, service: str, state: ServiceState) -> ServiceState:
        """Wait until runsv has taken the stop in (``want up`` gone).

        A crash-looping service is down already, so ``sv stop`` answers ``ok`` at once;
        but runsv, pausing a second before the next restart, has not read the request
        yet, and an ``up`` sent now can be lost: the service then stays down.
        """
        deadline = time.monotonic() + SETTLE_WAIT
        while state.want == "up" and time.monotonic() < deadline:
            time.sleep(0.1)
            state = self.status(runner, [service])[0]
        return state

    def start(self, runner: Runner, service: str, wait: int) -> ServiceState:
        return self._one(runner, start_argv(service, wait), service, wait)

    def plan(self, action: str, service: str, *, grace: int, wait: int) -> list[Step]:
        if action == "status":
            return [Step(tuple(status_argv([service])))]
        if action == "stop":
            return [
                Step(tuple(stop_argv(service, grace))),
                Step(tuple(kill_argv(service)), f"if still running after {_seconds(grace)}s"),
                Step(tuple(stop_argv(service, KILL_WAIT)), "after the kill"),
            ]
        if action == "start":
            return [Step(tuple(start_argv(service, wait)))]
        raise ValueError(f"unknown action {action!r}")
