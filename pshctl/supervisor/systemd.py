"""systemd user units: the exact ``systemctl --user`` commands, and what they answer.

The unit is the service's name (``service_name``, ``app`` by default) with ``.service``
added; a configured ``service_dir`` means nothing here. pshctl reads a unit with
``systemctl --user show`` (one block of ``Key=value`` lines per unit, blank-line
separated) and the remote's clock (``/proc/uptime``, the monotonic clock systemd's
``...Monotonic`` timestamps use) in one command, and drives it with the verbs that
return at once (``stop --no-block``, ``kill --signal=KILL``, ``start --no-block``);
``driver.py`` polls. The unit's own ``TimeoutStopSec`` is not relied on: pshctl sends
SIGKILL itself once ``--grace`` has passed.

How systemd's states map onto pshctl's:

====================================  ===================  ========================
ActiveState (SubState)                state, want          health
====================================  ===================  ========================
active (running), with a main pid     run                  up / starting (< 2 s)
activating (start, start-pre, ...)    start                starting
activating (auto-restart)             down, want up        crash-looping
deactivating, main pid alive          run, want down       down (being stopped)
deactivating, main pid gone           finish, want down    down
inactive, failed                      down                 down
====================================  ===================  ========================

``NRestarts`` (restarts by systemd itself since the last start by hand) and how the
last main process ended (``ExecMainCode``/``ExecMainStatus``) are kept in the state.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Sequence
from typing import Literal

from pshctl.errors import OperationFailed
from pshctl.supervisor import Output, Problem, RunState, ServiceState
from pshctl.supervisor.driver import PollingDriver, Verb

NAME = "systemd"
SYSTEMCTL = ("systemctl", "--user")
PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "MainPID", "NRestarts",
    "ExecMainStartTimestampMonotonic", "StateChangeTimestampMonotonic",
    "ExecMainCode", "ExecMainStatus", "Result",
)
EXIT_MARK = "systemctl-exit"
# `show` then the clock, as one shell command line (the units are quoted in).
STATUS_SCRIPT = (
    'systemctl --user show --property={properties} -- {units} 2>&1; '
    f'echo "{EXIT_MARK} $?"; cat /proc/uptime 2>/dev/null'
)
COMMAND_NOT_FOUND = 127
NOT_INSTALLED = "`systemctl` is not installed on the remote (is systemd the supervisor here?)"
_CLD_EXITED, _CLD_KILLED, _CLD_DUMPED = 1, 2, 3
_TERM_SUBSTATES = ("stop-sigterm", "final-sigterm", "stop-sigkill", "final-sigkill",
                   "stop-watchdog", "final-watchdog")


def unit_name(service: str) -> str:
    """``[service_dir/]app`` -> ``app.service`` (a name already ending in it is kept)."""
    name = service.rstrip("/").rsplit("/", 1)[-1]
    return name if name.endswith(".service") else f"{name}.service"


def status_script(services: Sequence[str]) -> str:
    units = " ".join(shlex.quote(unit_name(s)) for s in services)
    return STATUS_SCRIPT.format(properties=",".join(PROPERTIES), units=units)


def stop_argv(service: str) -> list[str]:
    """A stop job: SIGTERM to every process of the unit, and no restart; returns at once."""
    return [*SYSTEMCTL, "stop", "--no-block", "--", unit_name(service)]


def kill_argv(service: str) -> list[str]:
    return [*SYSTEMCTL, "kill", "--signal=KILL", "--", unit_name(service)]


def start_argv(service: str) -> list[str]:
    return [*SYSTEMCTL, "start", "--no-block", "--", unit_name(service)]


VERBS = {"stop": stop_argv, "kill": kill_argv, "start": start_argv}


def _blocks(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """``Key=value`` blocks, and the lines that are not (systemctl's complaints)."""
    blocks: list[dict[str, str]] = []
    other: list[str] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and key.isalnum():
            current[key] = value
        else:
            if current:
                blocks.append(current)
                current = {}
            if line.strip():
                other.append(line.strip())
    if current:
        blocks.append(current)
    return blocks, other


def _split(text: str) -> tuple[str, int | None, float | None]:
    """The ``show`` output, systemctl's exit status and the remote clock (seconds)."""
    head, mark, tail = text.rpartition(f"{EXIT_MARK} ")
    if not mark:
        return text, None, None
    lines = tail.splitlines()
    code = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    now: float | None = None
    if len(lines) > 1 and lines[1].split():
        try:
            now = float(lines[1].split()[0])
        except ValueError:
            now = None
    return head, code, now


def _int(block: dict[str, str], key: str) -> int:
    try:
        return int(block.get(key, "") or 0)
    except ValueError:
        return 0


def last_exit(block: dict[str, str]) -> str | None:
    code, status = _int(block, "ExecMainCode"), _int(block, "ExecMainStatus")
    if code == _CLD_EXITED:
        return f"exit {status}"
    if code in (_CLD_KILLED, _CLD_DUMPED):
        try:
            name = signal.Signals(status).name.removeprefix("SIG")
        except ValueError:
            name = str(status)
        return f"signal {name}"
    return None


def _raw(block: dict[str, str]) -> str:
    return " ".join(f"{k}={block[k]}" for k in PROPERTIES if k in block)


def parse_block(block: dict[str, str], service: str, now: float | None) -> ServiceState:
    """One unit's ``show`` block as a :class:`ServiceState` (see the module's table)."""
    raw = _raw(block)
    load = block.get("LoadState", "")
    if load == "not-found":
        return ServiceState(service, problem="missing", raw=raw, supervisor=NAME,
                            message=f"no systemd user unit {block.get('Id') or unit_name(service)}")
    if load != "loaded":
        return ServiceState(service, problem="unsupervised", raw=raw, supervisor=NAME,
                            message=f"unit {unit_name(service)} is {load or 'unknown'}")
    active, sub = block.get("ActiveState", ""), block.get("SubState", "")
    pid = _int(block, "MainPID") or None
    state: RunState
    want: Literal["up", "down"] | None = None
    if active in ("active", "reloading"):
        state = "run" if pid else "down"
    elif active == "activating":
        state, want = ("down", "up") if sub == "auto-restart" else ("start", None)
    elif active == "deactivating":
        state, want = ("run" if pid else "finish"), "down"
    else:  # inactive, failed, maintenance
        state = "down"
    since_key = "ExecMainStartTimestampMonotonic" if pid else "StateChangeTimestampMonotonic"
    since = _int(block, since_key) / 1e6
    uptime = round(max(0.0, now - since), 1) if now is not None and since > 0 else None
    return ServiceState(
        service,
        state=state,
        pid=pid,
        uptime_s=uptime,
        want=want,
        got_term=sub in _TERM_SUBSTATES,
        raw=raw,
        supervisor=NAME,
        restarts=_int(block, "NRestarts"),
        last_exit=last_exit(block) if not pid else None,
    )


def parse_status(text: str, services: Sequence[str]) -> list[ServiceState]:
    """The answer to :func:`status_script`: one state per service, in order."""
    head, code, now = _split(text)
    blocks, other = _blocks(head)
    if code == COMMAND_NOT_FOUND or (not blocks and _not_found(other)):
        return [ServiceState(s, problem="missing", message=NOT_INSTALLED, raw=text,
                             supervisor=NAME) for s in services]
    by_id = {b.get("Id"): b for b in blocks}
    in_order = len(blocks) == len(services)
    states = []
    for index, service in enumerate(services):
        block = by_id.get(unit_name(service)) or (blocks[index] if in_order else None)
        if block is None:
            said = "; ".join(other) or text.strip() or "(nothing)"
            # No user manager to ask (no bus): systemd supervises nothing here, which
            # waiting does not change, as for a unit that does not exist.
            kind: Problem = "missing" if _no_manager(said) else "unsupervised"
            states.append(ServiceState(service, problem=kind, raw=text, supervisor=NAME,
                                       message=f"no answer from systemd's user manager: {said}"))
        else:
            states.append(parse_block(block, service, now))
    return states


def _no_manager(text: str) -> bool:
    return "Failed to connect to bus" in text or "Failed to connect to user" in text


def _not_found(lines: Sequence[str]) -> bool:
    return any("systemctl" in line and "not found" in line for line in lines)


class Systemd(PollingDriver):
    """The systemd driver: ``systemctl --user`` against the unit ``<service_name>.service``."""

    name = NAME

    def status_command(self, services: Sequence[str]) -> str:
        return status_script(services)

    def parse(self, result: Output, services: Sequence[str]) -> list[ServiceState]:
        return parse_status((result.stdout or "") + (result.stderr or ""), services)

    def probe(self, services: Sequence[str]) -> str:
        return status_script(services)

    def verb_argv(self, verb: Verb, service: str) -> list[str]:
        return VERBS[verb](service)

    def verb_problem(self, result: Output, service: str) -> ServiceState | OperationFailed | None:
        if result.exit_status == 0:
            return None
        text = ((result.stdout or "") + (result.stderr or "")).strip()
        if result.exit_status == COMMAND_NOT_FOUND:
            return ServiceState(service, problem="missing", message=NOT_INSTALLED, raw=text,
                                supervisor=NAME)
        if "not found" in text or "not loaded" in text:
            return ServiceState(service, problem="missing", raw=text, supervisor=NAME,
                                message=f"no systemd user unit {unit_name(service)}")
        if _no_manager(text):
            return ServiceState(service, problem="missing", raw=text, supervisor=NAME,
                                message=f"no systemd user manager answers: {text}")
        return OperationFailed(f"systemctl failed: {text or f'exit {result.exit_status}'}")
