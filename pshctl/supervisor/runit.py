"""runit: the exact ``sv`` commands, and what ``sv``'s answers mean.

``sv``'s exit status is never trusted (``sv status`` exits 0 for a down service):
every decision is made from the parsed text (the state, and the pid). pshctl drives
runsv with the verbs that return at once (``sv down``: TERM then CONT, and stay down;
``sv kill``; ``sv up``) and polls ``sv status`` itself (see ``driver.py``).

``sv`` prints one line per service argument, for instance::

    run: /srv/service/app: (pid 123) 45s; run: log: (pid 120) 45s
    down: app: 3s, normally up, want up
    run: app: (pid 123) 15s, want down, got TERM
    fail: app: unable to change to service directory: file does not exist
    warning: app: unable to open supervise/ok: file does not exist
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Literal

from pshctl.errors import OperationFailed
from pshctl.supervisor import Output, Problem, ServiceState
from pshctl.supervisor.driver import PollingDriver, Verb

SV = "sv"
NAME = "runit"

_STATE_RE = re.compile(
    r"^(?:(?:ok|timeout|kill): )?(?P<state>run|down|finish): (?P<name>.+?): "
    r"(?:\(pid (?P<pid>\d+)\) )?(?P<secs>\d+)s(?P<flags>[^;]*)"
)
_PROBLEM_RE = re.compile(
    r"^(?:(?:ok|timeout|kill): )?(?P<kind>fail|warning): (?P<name>.+?): (?P<msg>.*)$"
)
_MISSING = "unable to change to service directory"
# The remote shell's status for a command it cannot find.
COMMAND_NOT_FOUND = 127
NOT_INSTALLED = "runit's `sv` is not installed on the remote (is runit the supervisor here?)"


def status_argv(services: Sequence[str]) -> list[str]:
    return [SV, "status", *services]


def stop_argv(service: str) -> list[str]:
    """SIGTERM (then SIGCONT), and keep it down; returns at once."""
    return [SV, "down", service]


def kill_argv(service: str) -> list[str]:
    return [SV, "kill", service]


def start_argv(service: str) -> list[str]:
    return [SV, "up", service]


VERBS = {"stop": stop_argv, "kill": kill_argv, "start": start_argv}


def parse_line(line: str, service: str) -> ServiceState:
    """One line of ``sv`` output (an optional ``ok:``/``timeout:`` verdict is ignored)."""
    line = line.strip()
    problem = _PROBLEM_RE.match(line)
    if problem:
        message = problem["msg"]
        kind: Problem = "missing" if _MISSING in message else "unsupervised"
        return ServiceState(service, problem=kind, message=message, raw=line, supervisor=NAME)
    match = _STATE_RE.match(line)
    if not match:
        return ServiceState(service, problem="unsupervised", supervisor=NAME,
                            message=f"unexpected sv output: {line!r}", raw=line)
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
        supervisor=NAME,
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
                ServiceState(service, problem="unsupervised", supervisor=NAME,
                             message=f"no status from sv: {said}", raw=text)
            )
    return states


def _text(result: Output) -> str:
    return (result.stdout or "") + (result.stderr or "")


def states_of(result: Output, services: Sequence[str]) -> list[ServiceState]:
    """What ``sv`` reported for each service; a remote without ``sv`` says so plainly."""
    if result.exit_status == COMMAND_NOT_FOUND and not _states_in(result.stdout):
        return [
            ServiceState(service, problem="missing", message=NOT_INSTALLED,
                         raw=_text(result), supervisor=NAME)
            for service in services
        ]
    return parse_status(_text(result), services)


def _states_in(text: str) -> bool:
    return any(_name_of(line) for line in text.splitlines())


class Runit(PollingDriver):
    """The runit driver: ``sv`` against a service name or service directory."""

    name = NAME

    def status_command(self, services: Sequence[str]) -> list[str]:
        return status_argv(services)

    def parse(self, result: Output, services: Sequence[str]) -> list[ServiceState]:
        return states_of(result, services)

    def probe(self, services: Sequence[str]) -> str:
        return shlex.join(status_argv(services))

    def verb_argv(self, verb: Verb, service: str) -> list[str]:
        return VERBS[verb](service)

    def verb_problem(self, result: Output, service: str) -> ServiceState | OperationFailed | None:
        # `sv down|up|kill` exit 0 when runsv took the request (it says nothing then);
        # other text may be the remote shell's own noise (a login script's warnings).
        text = _text(result).strip()
        if result.exit_status == COMMAND_NOT_FOUND and not _states_in(text):
            return ServiceState(service, problem="missing", message=NOT_INSTALLED, raw=text,
                                supervisor=NAME)
        if result.exit_status == 0:
            return None
        # The line naming the service first; a line naming none (`sv: fatal: ...`, or
        # noise) only when no line names it.
        lines = text.splitlines()
        for named in (service, None):
            for line in lines:
                state = parse_line(line, service)
                if state.problem is not None and _name_of(line) == named:
                    return state
        return OperationFailed(f"sv failed: {text or f'exit status {result.exit_status}'}")
