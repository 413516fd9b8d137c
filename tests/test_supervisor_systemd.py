"""The systemd driver: exact `systemctl --user` argv, parsing of `show`, stop/start
decisions (real user managers: tests/test_lifecycle_integration.py, parametrised)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from pshctl.errors import OperationFailed
from pshctl.supervisor import (
    CRASH_LOOPING,
    DOWN,
    STARTING,
    UNSUPERVISED,
    UP,
    ServiceProblem,
    StopProgress,
)
from pshctl.supervisor.systemd import (
    EXIT_MARK,
    JOB_MARK,
    NOT_INSTALLED,
    TIMED_OUT,
    Systemd,
    _wait_for,
    job_script,
    kill_argv,
    parse_status,
    start_argv,
    status_script,
    stop_argv,
    unit_name,
)
from tests.test_supervisor_runit import Result

NOW = 1000.0  # the remote's clock in the fake answers, seconds


def show(**props: object) -> str:
    """One unit's `systemctl show` block."""
    base = {"Id": "app.service", "LoadState": "loaded", "ActiveState": "active",
            "SubState": "running", "MainPID": 0, "NRestarts": 0,
            "ExecMainStartTimestampMonotonic": 0, "StateChangeTimestampMonotonic": 0,
            "ExecMainCode": 0, "ExecMainStatus": 0, "Result": "success"}
    base.update(props)
    return "".join(f"{k}={v}\n" for k, v in base.items())


def answer(*blocks: str, code: int = 0, now: float | None = NOW) -> str:
    clock = f"{now} 5000.00\n" if now is not None else ""
    return "\n".join(blocks) + f"{EXIT_MARK} {code}\n" + clock


def test_unit_names() -> None:
    assert unit_name("app") == "app.service"
    assert unit_name("/srv/service/queue") == "queue.service"  # service_dir means nothing
    assert unit_name("mail.service") == "mail.service"


def test_commands_are_exact() -> None:
    assert stop_argv("app") == ["systemctl", "--user", "stop", "--no-block", "--",
                                "app.service"]
    assert kill_argv("app") == ["systemctl", "--user", "kill", "--signal=KILL", "--",
                                "app.service"]
    assert start_argv("app") == ["systemctl", "--user", "start", "--no-block", "--",
                                 "app.service"]
    script = status_script(["app", "it's"])
    assert "else systemctl --user show --property=Id,LoadState," in script
    assert "-- app.service 'it'\"'\"'s.service' 2>&1;" in script  # quoted, never raw
    assert script.endswith("cat /proc/uptime 2>/dev/null")


@pytest.mark.parametrize(
    ("props", "state", "want", "health"),
    [
        ({"MainPID": 42, "ExecMainStartTimestampMonotonic": 960_000_000}, "run", None, UP),
        ({"MainPID": 42, "ExecMainStartTimestampMonotonic": 999_500_000}, "run", None,
         STARTING),
        ({"ActiveState": "activating", "SubState": "start", "MainPID": 42}, "start", None,
         STARTING),
        ({"ActiveState": "activating", "SubState": "auto-restart", "NRestarts": 7,
          "ExecMainCode": 1, "ExecMainStatus": 1, "Result": "exit-code"}, "down", "up",
         CRASH_LOOPING),
        ({"ActiveState": "deactivating", "SubState": "stop-sigterm", "MainPID": 42}, "run",
         "down", DOWN),
        ({"ActiveState": "deactivating", "SubState": "stop-sigterm"}, "finish", "down", DOWN),
        ({"ActiveState": "inactive", "SubState": "dead"}, "down", None, DOWN),
        ({"ActiveState": "failed", "SubState": "failed", "ExecMainCode": 2,
          "ExecMainStatus": 9, "Result": "signal"}, "down", None, DOWN),
    ],
)
def test_states_map_onto_health_words(props: dict[str, object], state: str,
                                      want: str | None, health: str) -> None:
    (parsed,) = parse_status(answer(show(**props)), ["app"])
    assert (parsed.state, parsed.want, parsed.health) == (state, want, health)
    assert parsed.problem is None and parsed.supervisor == "systemd"


def test_uptime_restarts_and_last_exit() -> None:
    running, looping, killed = parse_status(answer(
        show(Id="a.service", MainPID=42, NRestarts=3,
             ExecMainStartTimestampMonotonic=940_000_000),
        show(Id="b.service", ActiveState="activating", SubState="auto-restart", NRestarts=2,
             ExecMainCode=1, ExecMainStatus=3, StateChangeTimestampMonotonic=999_000_000),
        show(Id="c.service", ActiveState="failed", SubState="failed", ExecMainCode=2,
             ExecMainStatus=9),
    ), ["a", "b", "c"])
    assert (running.pid, running.uptime_s, running.restarts) == (42, 60.0, 3)
    assert running.last_exit is None  # a running process has not exited
    assert (looping.uptime_s, looping.restarts, looping.last_exit) == (1.0, 2, "exit 3")
    assert "2 restarts, last exit 3" in looping.describe()
    assert killed.last_exit == "signal KILL"


def test_units_are_matched_by_id_and_order() -> None:
    a, gone = parse_status(answer(show(Id="a.service", MainPID=5),
                                  show(Id="gone.service", LoadState="not-found",
                                       ActiveState="inactive")), ["a", "gone"])
    assert a.pid == 5
    assert gone.problem == "missing" and "no systemd user unit gone.service" in gone.message


def test_no_clock_no_uptime() -> None:
    (state,) = parse_status(answer(show(MainPID=5, ExecMainStartTimestampMonotonic=1),
                                   now=None), ["app"])
    assert state.running and state.uptime_s is None


def test_a_remote_without_a_user_manager_or_systemctl() -> None:
    no_bus = answer("Failed to connect to bus: No medium found\n", code=1)
    (state,) = parse_status(no_bus, ["app"])
    # Nothing to wait for: no manager supervises anything here.
    assert state.problem == "missing" and state.health == UNSUPERVISED
    assert "Failed to connect to bus" in (state.message or "")
    no_systemctl = answer("sh: 1: systemctl: not found\n", code=127)
    (state,) = parse_status(no_systemctl, ["app"])
    assert state.problem == "missing" and "not installed" in (state.message or "")


def test_masked_unit_is_unsupervised() -> None:
    (state,) = parse_status(answer(show(LoadState="masked", ActiveState="inactive")), ["app"])
    assert state.problem == "unsupervised" and "masked" in (state.message or "")


# What a wait on a job ends with, by the unit's state after it: done, or still going.
_JOB_DONE = {"stop": ("ActiveState=inactive", "ActiveState=failed"),
             "start": ("ActiveState=active", "ActiveState=failed", "SubState=auto-restart")}


@dataclass
class FakeSystemctl:
    """Answers the driver's commands from scripted `show` blocks (the last one repeats).

    A job script (queue and wait, or wait: calls ``queue stop``, ``wait stop``) ends
    its wait when the state it answers with is one the job ends in, and times out
    otherwise; ``verbs`` scripts a refused request (``stop``, ``start``, ``kill``)."""

    shows: list[str]
    verbs: dict[str, Result] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def _show(self) -> str:
        text = self.shows.pop(0) if len(self.shows) > 1 else self.shows[0]
        if "kill" in self.calls and self.after_kill:
            text = self.after_kill
        return text

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        if isinstance(argv, str) and JOB_MARK in argv:
            verb = "start" if "systemctl --user start" in argv else "stop"
            queued = "--no-block" in argv
            self.calls.append(f"{'queue' if queued else 'wait'} {verb}")
            refused = self.verbs.get(verb)
            if queued and refused is not None and refused.exit_status:
                return Result(0, refused.stderr + f"{JOB_MARK} queue {refused.exit_status}\n"
                              + answer(self.shows[0]))
            text = self._show()
            done = any(word in text for word in _JOB_DONE[verb])
            return Result(0, f"{JOB_MARK} wait {0 if done else TIMED_OUT}\n" + answer(text))
        if isinstance(argv, str):
            self.calls.append("show")
            return Result(0, answer(self._show()))
        verb = argv[2]
        self.calls.append(verb)
        return self.verbs.get(verb, Result(0, ""))

    after_kill: str = ""


def test_stop_polls_and_reports_exited() -> None:
    fake = FakeSystemctl([show(ActiveState="deactivating", SubState="stop-sigterm", MainPID=9),
                          show(ActiveState="inactive", SubState="dead", ExecMainCode=2,
                               ExecMainStatus=15)])
    report = Systemd().stop(fake, "app", 15)
    assert report.outcome == "exited" and report.state.state == "down"
    assert fake.calls == ["queue stop", "wait stop"]


def test_stop_sends_kill_itself_after_grace() -> None:
    stopping = show(ActiveState="deactivating", SubState="stop-sigterm", MainPID=9)
    fake = FakeSystemctl([stopping], after_kill=show(ActiveState="failed", SubState="failed",
                                                     ExecMainCode=2, ExecMainStatus=9))
    report = Systemd().stop(fake, "app", 0.2)
    assert report.outcome == "killed" and report.seconds >= 0.2
    assert fake.calls.count("kill") == 1
    assert fake.calls[0] == "queue stop" and fake.calls[-2:] == ["kill", "wait stop"]


def test_a_kill_by_the_units_own_timeout_is_reported_as_killed() -> None:
    fake = FakeSystemctl([show(ActiveState="failed", SubState="failed", ExecMainCode=2,
                               ExecMainStatus=9, Result="timeout")])
    report = Systemd().stop(fake, "app", 15)
    assert report.outcome == "killed" and fake.calls == ["queue stop"]


def test_start_waits_on_the_job_for_a_main_pid() -> None:
    fake = FakeSystemctl([show(ActiveState="activating", SubState="start"),
                          show(MainPID=77, ExecMainStartTimestampMonotonic=999_990_000)])
    state = Systemd().start(fake, "app", 5)
    assert state.pid == 77 and state.health == STARTING
    assert fake.calls == ["queue start", "wait start"]


def test_start_reads_until_systemd_restarts_it() -> None:
    """The start job is done, but the process died at once: systemd restarts it."""
    fake = FakeSystemctl([show(ActiveState="activating", SubState="auto-restart"),
                          show(ActiveState="activating", SubState="auto-restart"),
                          show(MainPID=78, ExecMainStartTimestampMonotonic=999_990_000)])
    state = Systemd().start(fake, "app", 5)
    assert state.pid == 78
    assert fake.calls == ["queue start", "show", "show"]


def test_job_scripts_queue_then_wait_and_quote() -> None:
    script = job_script("stop", "it's", 0.75, queue=True)
    assert script.startswith("systemctl --user stop --no-block -- 'it'\"'\"'s.service' 2>&1 && "
                             "{ timeout 0.75 systemctl --user stop -- 'it'\"'\"'s.service' 2>&1; ")
    assert f'|| echo "{JOB_MARK} queue $?"' in script
    assert script.endswith(status_script(["it's"]))
    again = job_script("start", "app", 1, queue=False)
    assert again.startswith(f'timeout 1.00 systemctl --user start -- app.service 2>&1; '
                            f'echo "{JOB_MARK} wait $?"; ')


def test_verb_failures() -> None:
    missing = FakeSystemctl([show()], verbs={"stop": Result(
        5, "", "Failed to stop app.service: Unit app.service not loaded.\n")})
    with pytest.raises(ServiceProblem, match="no systemd user unit"):
        Systemd().stop(missing, "app", 1)
    refused = FakeSystemctl([show()], verbs={"start": Result(
        1, "", "Failed to start app.service: Unit app.service has a bad unit file setting.\n")})
    with pytest.raises(OperationFailed, match="bad unit file setting"):
        Systemd().start(refused, "app", 1)


def test_plan() -> None:
    steps = Systemd().plan("stop", "app", grace=15, wait=5)
    assert [s.command.split(" ")[:3] for s in steps] == [
        ["systemctl", "--user", "stop"], ["timeout", "1.00", "systemctl"],
        ["systemctl", "--user", "kill"], ["timeout", "1.00", "systemctl"],
    ]
    assert steps[0].command == job_script("stop", "app", 1, queue=True)  # sent as written
    assert "after 15s" in (steps[2].when or "")


def test_plans_read_whole() -> None:
    status = status_script(["app"])
    stop = [(s.script, s.when) for s in Systemd().plan("stop", "app", grace=15, wait=5)]
    assert stop == [
        (job_script("stop", "app", 1, queue=True),
         "queues the stop job, waits up to 1s for it, reads the state"),
        (job_script("stop", "app", 1, queue=False),
         "again, about once a second, until it is down or 15s passed"),
        (None, "if still running after 15s"),
        (job_script("stop", "app", 1, queue=False), "until it is down, after the kill"),
    ]
    assert Systemd().plan("stop", "app", grace=2.5, wait=5)[2].argv == tuple(kill_argv("app"))
    start = [(s.script, s.when) for s in Systemd().plan("start", "app", grace=15, wait=0.5)]
    assert start == [
        (job_script("start", "app", 0.5, queue=True),
         "queues the start job, waits for it, reads the state"),
        (status, "polled until it runs, up to 0.5s"),
    ]
    assert Systemd().plan("start", "app", grace=1, wait=5)[0].script == job_script(
        "start", "app", 1, queue=True)  # one wait lasts a second at most
    assert Systemd().probe(["app", "b"]) == status_script(["app", "b"])
    assert [(s.script, s.when) for s in Systemd().plan("status", "app", grace=1, wait=1)] == [
        (status, None)]
    with pytest.raises(ValueError, match=r"^unknown action 'restart'$"):
        Systemd().plan("restart", "app", grace=1, wait=1)


@pytest.mark.parametrize(("elapsed", "left", "seconds"), [
    (0.0, 15.0, 1.0),   # up to the next whole second
    (0.3, 15.0, 0.7),
    (0.8, 15.0, 1.2),   # less than a quarter second to it: on to the one after
    (0.75, 15.0, 0.25),  # a quarter exactly is kept
    (0.79, 15.0, 1.21),  # 0.21 to it: under a quarter (not a fifth), so on to the one after
    (2.4, 0.5, 0.5),    # never past what is left
    (2.4, 0.01, 0.05),  # nor shorter than an exec is worth
    (2.4, -1.0, 0.05),
])
def test_a_wait_lasts_to_the_next_whole_second(elapsed: float, left: float,
                                               seconds: float) -> None:
    assert _wait_for(elapsed, left) == pytest.approx(seconds)


@dataclass
class OneAnswer:
    """A runner that answers every command with ``text`` and records what it ran."""

    text: str
    exit_status: int = 0
    ran: list[tuple[str, float | None]] = field(default_factory=list)

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        self.ran.append((str(argv), timeout))
        return Result(self.exit_status, self.text)


def test_a_job_waits_once_and_reads_the_state() -> None:
    runner = OneAnswer(f"{JOB_MARK} wait 0\n" + answer(show(MainPID=7)))
    code, failure, state = Systemd().job(runner, "start", "app", 0.5, queue=True)
    assert (code, failure, state.pid, state.state) == (0, None, 7, "run")
    assert runner.ran == [(job_script("start", "app", 0.5, queue=True), 30.5)]
    timed_out = OneAnswer(f"{JOB_MARK} wait {TIMED_OUT}\n" + answer(show(MainPID=7)))
    code, failure, _ = Systemd().job(timed_out, "stop", "app", 1)
    assert (code, failure) == (TIMED_OUT, None)  # the job goes on: nothing failed yet
    assert timed_out.ran[0][0] == job_script("stop", "app", 1, queue=False)


def test_a_job_that_failed_says_what_systemctl_said() -> None:
    runner = OneAnswer("Job for app.service canceled.\n"
                       f"{JOB_MARK} wait 1\n" + answer(show(MainPID=7)))
    code, failure, state = Systemd().job(runner, "stop", "app", 1)
    assert (code, str(failure), state.pid) == (
        1, "systemctl failed: Job for app.service canceled.", 7)


@pytest.mark.parametrize(("text", "exit_status", "message"), [
    ("", 255, "systemctl said: (nothing) (exit 255)"),
    ("sh: garbled\n", 2, "systemctl said: sh: garbled (exit 2)"),
    (f"{JOB_MARK} wait\n", 0, f"systemctl said: {JOB_MARK} wait (exit 0)"),
    (f"{JOB_MARK} wait x\n", 0, f"systemctl said: {JOB_MARK} wait x (exit 0)"),
    (f"{JOB_MARK} done 0\n", 0, f"systemctl said: {JOB_MARK} done 0 (exit 0)"),
    (f"sh: 1: timeout: not found\n{JOB_MARK} wait 127\n", 0,
     "`timeout` (coreutils) is not installed on the remote"),
    (f"{JOB_MARK} queue 0\n", 0, "systemctl stop refused: exit 0"),
    (f"Failed to stop app.service: Access denied\n{JOB_MARK} queue 4\n", 0,
     "systemctl failed: Failed to stop app.service: Access denied"),
])
def test_a_job_whose_answer_is_not_a_wait_raises(text: str, exit_status: int,
                                                 message: str) -> None:
    with pytest.raises(OperationFailed) as raised:
        Systemd().job(OneAnswer(text, exit_status), "stop", "app", 1, queue=True)
    assert str(raised.value) == message


def test_a_job_that_only_the_shell_answered_says_so() -> None:
    """What the remote shell wrote on stderr (the job script never ran) is in the error."""
    runner = OneAnswer("", 2)
    runner.run = lambda argv, timeout=None: Result(  # type: ignore[method-assign]
        2, "", "sh: 1: Syntax error: end of file unexpected\n")
    with pytest.raises(OperationFailed) as raised:
        Systemd().job(runner, "stop", "app", 1, queue=True)
    assert str(raised.value) == ("systemctl said: sh: 1: Syntax error: end of file "
                                 "unexpected (exit 2)")


@pytest.mark.parametrize(("text", "message"), [
    (f"sh: 1: systemctl: not found\n{JOB_MARK} queue 127\n", NOT_INSTALLED),
    (f"{JOB_MARK} wait 127\n", NOT_INSTALLED),  # timeout found; systemctl not
    (f"Unit app.service not loaded.\n{JOB_MARK} wait 5\n", "no systemd user unit app.service"),
    (f"{JOB_MARK} wait 0\n" + answer(show(LoadState="not-found")),
     "no systemd user unit app.service"),
])
def test_a_job_on_a_unit_systemd_does_not_have_raises_its_state(text: str,
                                                                message: str) -> None:
    with pytest.raises(ServiceProblem) as raised:
        Systemd().job(OneAnswer(text), "stop", "app", 1, queue=True)
    assert (raised.value.state.problem, raised.value.state.message) == ("missing", message)


@dataclass
class Clocked:
    """A :class:`FakeSystemctl` on a fake clock: a wait that timed out took its whole
    ``timeout N``, anything else no time; ``waits`` and ``slept`` say how long each was."""

    fake: FakeSystemctl
    now: float = 0.0
    waits: list[float] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        result = self.fake.run(argv, timeout=timeout)
        if isinstance(argv, str) and JOB_MARK in argv:
            seconds = float(argv.split("timeout ", 1)[1].split(" ", 1)[0])
            self.waits.append(seconds)
            if f"{JOB_MARK} wait {TIMED_OUT}" in result.stdout:
                self.now += seconds
        return result


@pytest.fixture
def clocked(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Clocked]:
    def make(shows: list[str], **fake: object) -> Clocked:
        clock = Clocked(FakeSystemctl(shows, **fake))  # type: ignore[arg-type]
        monkeypatch.setattr("pshctl.supervisor.driver.time", clock)
        monkeypatch.setattr("pshctl.supervisor.systemd.time", clock)
        return clock
    return make


STOPPING = show(ActiveState="deactivating", SubState="stop-sigterm", MainPID=9)
KILLED = show(ActiveState="failed", SubState="failed", ExecMainCode=2, ExecMainStatus=9)


def test_stop_waits_a_second_at_a_time_then_kills_at_the_grace(clocked) -> None:
    clock = clocked([STOPPING], after_kill=KILLED)
    ticks: list[StopProgress] = []
    report = Systemd().stop(clock, "app", 2.5, progress=ticks.append)
    assert (report.outcome, report.seconds, report.state.last_exit) == (
        "killed", 2.5, "signal KILL")
    assert clock.waits == [1.0, 1.0, 0.5, 0.5]
    assert clock.fake.calls == ["queue stop", "wait stop", "wait stop", "kill", "wait stop"]
    assert [(t.elapsed, t.killed) for t in ticks] == [
        (0.0, False), (1.0, False), (2.0, False), (2.5, True)]
    assert {(t.service, t.grace) for t in ticks} == {("app", 2.5)}


def test_stop_gives_up_5s_after_the_kill(clocked) -> None:
    clock = clocked([STOPPING], after_kill=STOPPING)
    with pytest.raises(OperationFailed) as raised:
        Systemd().stop(clock, "app", 2.5)
    assert str(raised.value) == "still run (pid 9), want down, got TERM 5s after SIGKILL"
    assert (clock.now, clock.fake.calls.count("kill")) == (7.5, 1)
    assert clock.waits[3:] == [0.5, 1.0, 1.0, 1.0, 1.0, 0.5]


def test_stop_of_a_unit_systemd_brings_back_gives_up_after_the_grace(clocked) -> None:
    looping = show(ActiveState="activating", SubState="auto-restart")
    clock = clocked([looping])
    with pytest.raises(OperationFailed) as raised:
        Systemd().stop(clock, "app", 1.5)
    assert str(raised.value) == "did not stop: down, want up"  # no process to kill
    assert clock.waits == [1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.05]  # to 3s past the grace
    assert (clock.now, clock.fake.calls.count("kill")) == (pytest.approx(4.55), 0)


def test_a_stop_job_that_failed_raises(clocked) -> None:
    clock = clocked([STOPPING], verbs={})
    clock.fake.run = lambda argv, timeout=None: Result(  # type: ignore[method-assign]
        0, f"Job canceled.\n{JOB_MARK} wait 1\n" + answer(STOPPING))
    with pytest.raises(OperationFailed, match=r"^systemctl failed: Job canceled\.$"):
        Systemd().stop(clock, "app", 15)


def test_start_waits_on_its_job_up_to_the_wait(clocked) -> None:
    clock = clocked([show(ActiveState="activating", SubState="start")])
    state = Systemd().start(clock, "app", 2.5)
    assert state.state == "start" and clock.now == 2.5
    assert clock.waits == [1.0, 1.0, 0.5]
    assert clock.fake.calls == ["queue start", "wait start", "wait start"]


def test_start_reads_a_restarting_unit_less_and_less_often(clocked) -> None:
    looping = show(ActiveState="activating", SubState="auto-restart")
    clock = clocked([looping])
    state = Systemd().start(clock, "app", 1.3)
    assert state.want == "up" and clock.now == pytest.approx(1.3)
    assert clock.slept == [0.1, 0.2, 0.4, 0.5, 0.1]
    assert clock.fake.calls == ["queue start"] + ["show"] * 5



@pytest.mark.parametrize("holding", [
    # deactivating, its main process gone but others of the unit still there (ExecStop...)
    show(ActiveState="deactivating", SubState="stop-sigterm", MainPID=0),
    # still activating (ExecStartPre running) when the stop was asked for
    show(ActiveState="activating", SubState="start", MainPID=0),
])
def test_a_unit_whose_processes_outlive_the_grace_is_killed(clocked, holding: str) -> None:
    clock = clocked([holding], after_kill=KILLED)
    report = Systemd().stop(clock, "app", 1.5)
    assert (report.outcome, report.seconds) == ("killed", 1.5)
    assert clock.fake.calls == ["queue stop", "wait stop", "kill", "wait stop"]


def test_a_kill_the_unit_vanished_before_says_which_unit(clocked) -> None:
    clock = clocked([STOPPING], verbs={"kill": Result(1, "", "Unit app.service not loaded.")})
    with pytest.raises(ServiceProblem) as raised:
        Systemd().stop(clock, "app", 1.5)
    state = raised.value.state
    assert (state.service, state.problem, state.message) == (
        "app", "missing", "no systemd user unit app.service")


def test_start_reads_on_while_a_stop_holds_the_unit(clocked) -> None:
    """The start job was cancelled by a stop: the unit is going down, its process still
    alive (running, but wanted down). pshctl reads on until it runs and is wanted up."""
    clock = clocked([show(MainPID=80, ExecMainStartTimestampMonotonic=999_990_000)])
    shows = clock.fake.run

    def run(argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        if isinstance(argv, str) and JOB_MARK in argv:
            clock.fake.calls.append("queue start")
            return Result(0, f"Job canceled.\n{JOB_MARK} wait 1\n" + answer(STOPPING))
        return shows(argv, timeout=timeout)

    clock.fake.run = run  # type: ignore[method-assign]
    state = Systemd().start(clock, "app", 5)
    assert (state.pid, state.want) == (80, None)
    assert clock.fake.calls == ["queue start", "show"]
