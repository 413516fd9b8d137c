"""systemd user units: the exact ``systemctl --user`` commands, and what they answer.

The unit is the service's name (``service_name``, ``app`` by default) with ``.service``
added; a configured ``service_dir`` means nothing here. pshctl reads a unit with
``systemctl --user show`` (one block of ``Key=value`` lines per unit, blank-line
separated) and the remote's clock (``/proc/uptime``, the monotonic clock systemd's
``...Monotonic`` timestamps use) in one command.

Stop and start wait on systemd's own jobs rather than polling the unit: one command
line queues the job (``stop --no-block``, ``start --no-block``: it is queued even if
what follows is cut short), waits for it with a blocking ``systemctl --user stop|start``
under ``timeout`` (a second request for the same job joins it, and ends the moment
the job does), then reads the state, all in one exec. Each wait lasts at most about
a second, so pshctl reports progress once a second, sends SIGKILL itself
(``kill --signal=KILL``) the moment ``--grace`` has passed, whatever the unit's own
``TimeoutStopSec``, and an interrupted pshctl leaves nothing waiting on the remote for
long. Polling ``show`` instead costs a ``systemctl`` process and a round of the
manager's bus per read: 30 units of one manager polled every 200 ms saturate two
cores, and then the jobs themselves are acted on seconds late.

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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pshctl.errors import OperationFailed
from pshctl.supervisor import (
    Output,
    Problem,
    ProgressSink,
    Runner,
    RunState,
    ServiceProblem,
    ServiceState,
    Step,
    StopReport,
)
from pshctl.supervisor.driver import (
    COMMAND_TIMEOUT,
    KILL_WAIT,
    SETTLE_WAIT,
    PollingDriver,
    StopTicker,
    Verb,
    poll_delays,
)

NAME = "systemd"
SYSTEMCTL = ("systemctl", "--user")
PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "MainPID", "NRestarts",
    "ExecMainStartTimestampMonotonic", "StateChangeTimestampMonotonic",
    "ExecMainCode", "ExecMainStatus", "Result",
)
EXIT_MARK = "systemctl-exit"
# `show` then the clock, as one shell command line (the units are quoted in).
# Where systemctl --user finds no manager to ask (no session bus address, and neither the
# manager's private socket nor the user bus in $XDG_RUNTIME_DIR), it fails as systemctl
# would without being started: a runit container's status costs no systemctl process.
NO_MANAGER = "Failed to connect to bus: no user manager here"
STATUS_SCRIPT = (
    'if [ -z "$DBUS_SESSION_BUS_ADDRESS" ] && command -v systemctl >/dev/null 2>&1 && '
    '! {{ [ -n "$XDG_RUNTIME_DIR" ] && {{ [ -S "$XDG_RUNTIME_DIR/systemd/private" ] || '
    '[ -S "$XDG_RUNTIME_DIR/bus" ]; }}; }}; '
    f'then echo "{NO_MANAGER}"; false; '
    'else systemctl --user show --property={properties} -- {units} 2>&1; fi; '
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

JobVerb = Literal["stop", "start"]
JOB_MARK = "pshctl-job"
TIMED_OUT = 124  # timeout(1)'s status when the time ran out (the job goes on)
# One wait on a job lasts about this long at most: then pshctl reports progress, checks
# the grace, and an interrupted pshctl leaves no wait behind on the remote for longer.
WAIT_SLICE = 1.0
MIN_WAIT = 0.05  # a shorter wait is not worth an exec: the next one takes over
# After a start job is done, a unit not yet running (systemd restarting it) is read
# this often: rare, and never the tight loop that starves a shared manager.
START_POLL, START_POLL_CAP = 0.1, 0.5


def job_script(verb: JobVerb, service: str, seconds: float, *, queue: bool) -> str:
    """Wait up to ``seconds`` for the unit's ``verb`` job (``queue``: ask for it first,
    returning at once, so that it is queued even if the wait is cut short), then the
    unit's state, in one command line. Then ``JOB_MARK queue N`` says the request was
    refused with status N; ``JOB_MARK wait N`` gives the wait's status."""
    unit = shlex.quote(unit_name(service))
    wait = (f"timeout {seconds:.2f} systemctl --user {verb} -- {unit} 2>&1; "
            f'echo "{JOB_MARK} wait $?"')
    if queue:
        wait = (f"{shlex.join(VERBS[verb](service))} 2>&1 && {{ {wait}; }} "
                f'|| echo "{JOB_MARK} queue $?"')
    return f"{wait}; {status_script([service])}"


@dataclass
class _Said:
    exit_status: int
    stdout: str
    stderr: str = ""


def _wait_for(elapsed: float, left: float) -> float:
    """How long the next wait may last: up to the next whole second of the stop (a
    progress report), and never past ``left``."""
    to_tick = WAIT_SLICE - elapsed % WAIT_SLICE
    if to_tick < WAIT_SLICE / 4:
        to_tick += WAIT_SLICE
    return max(MIN_WAIT, min(left, to_tick))


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

    def job(self, runner: Runner, verb: JobVerb, service: str, seconds: float, *,
            queue: bool = False) -> tuple[int | None, OperationFailed | None, ServiceState]:
        """One wait on a job (see :func:`job_script`): the wait's status (``TIMED_OUT``:
        the job goes on), what went wrong if the job failed, and the unit's state after.
        Raises when the request itself was refused."""
        script = job_script(verb, service, seconds, queue=queue)
        result = runner.run(script, timeout=COMMAND_TIMEOUT + seconds)
        text = (result.stdout or "") + (result.stderr or "")
        said, mark, rest = text.partition(f"{JOB_MARK} ")
        first, _, answer = rest.partition("\n")
        step, _, number = first.partition(" ")
        if not mark or step not in ("queue", "wait") or not number.strip().isdigit():
            raise OperationFailed(f"systemctl said: {text.strip() or '(nothing)'} "
                                  f"(exit {result.exit_status})")
        code = int(number)
        if code == COMMAND_NOT_FOUND and "timeout" in said and "not found" in said:
            raise OperationFailed("`timeout` (coreutils) is not installed on the remote")
        problem = self.verb_problem(_Said(code, said), service) if code else None
        if step == "queue" or isinstance(problem, ServiceState):
            if isinstance(problem, ServiceState):
                raise ServiceProblem(problem)
            raise problem or OperationFailed(f"systemctl {verb} refused: exit {code}")
        state = parse_status(answer, [service])[0]
        if state.problem is not None:
            raise ServiceProblem(state)
        return code, (problem if code != TIMED_OUT else None), state

    def stop(self, runner: Runner, service: str, grace: float, *,
             progress: ProgressSink | None = None) -> StopReport:
        """The shared semantics (``driver.PollingDriver.stop``), waiting on the stop job."""
        ticker = StopTicker(service, grace, progress)
        ticker.tick()
        killed_at: float | None = None
        until, queue = grace, True
        while True:
            elapsed = ticker.elapsed()
            _, failure, state = self.job(runner, "stop", service,
                                         _wait_for(elapsed, until - elapsed), queue=queue)
            queue = False
            if state.stopped:
                break
            if failure is not None:
                raise failure  # a stop job that failed or was cancelled (a start came)
            elapsed = ticker.elapsed()
            has_process = state.state in ("run", "finish", "start")
            if killed_at is None and elapsed >= grace and has_process:
                self.control(runner, self.kill_argv(service), service)
                killed_at = ticker.elapsed()
                until = killed_at + KILL_WAIT
                ticker.killed = True
                ticker.tick(force=True)
            elif killed_at is not None and elapsed >= until:
                raise OperationFailed(f"still {state.describe()} {KILL_WAIT:g}s after SIGKILL")
            elif killed_at is None and elapsed > grace + SETTLE_WAIT:
                raise OperationFailed(f"did not stop: {state.describe()}")
            else:
                if killed_at is None and elapsed >= grace:
                    until = grace + SETTLE_WAIT
                ticker.tick()
        # The unit's own stop timeout may have killed it before our grace ran out.
        killed = killed_at is not None or state.last_exit == "signal KILL"
        return StopReport("killed" if killed else "exited", ticker.elapsed(), state)

    def start(self, runner: Runner, service: str, wait: float) -> ServiceState:
        """Returns the first running state, or the last one seen after ``wait`` s."""
        deadline = time.monotonic() + wait
        queue = True
        while True:
            left = deadline - time.monotonic()
            code, _, state = self.job(runner, "start", service,
                                      max(MIN_WAIT, min(WAIT_SLICE, left)), queue=queue)
            queue = False
            # A failed start job is not an error by itself: the unit's state says what
            # came of it (systemd may be restarting it), as for runit.
            if code != TIMED_OUT or time.monotonic() >= deadline:
                break
        delays = poll_delays(START_POLL, START_POLL_CAP)
        while not (state.running and state.want != "down") and time.monotonic() < deadline:
            time.sleep(min(next(delays), max(0.0, deadline - time.monotonic())))
            state = self.read(runner, service)
        return state

    def plan(self, action: str, service: str, *, grace: float, wait: float) -> list[Step]:
        status = self.status_command([service])
        if action == "status":
            return [Step.of(status)]
        if action == "stop":
            return [
                Step.of(job_script("stop", service, WAIT_SLICE, queue=True),
                        "queues the stop job, waits up to 1s for it, reads the state"),
                Step.of(job_script("stop", service, WAIT_SLICE, queue=False),
                        f"again, about once a second, until it is down or {grace:g}s passed"),
                Step.of(self.kill_argv(service), f"if still running after {grace:g}s"),
                Step.of(job_script("stop", service, WAIT_SLICE, queue=False),
                        "until it is down, after the kill"),
            ]
        if action == "start":
            return [
                Step.of(job_script("start", service, min(WAIT_SLICE, wait), queue=True),
                        "queues the start job, waits for it, reads the state"),
                Step.of(status, f"polled until it runs, up to {wait:g}s"),
            ]
        raise ValueError(f"unknown action {action!r}")

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
