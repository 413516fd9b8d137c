"""The runit driver: exact `sv` argv, parsing of `sv` text, stop/start decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pshctl.errors import ConfigError, OperationFailed
from pshctl.supervisor import (
    CRASH_LOOPING,
    DOWN,
    STARTING,
    UNSUPERVISED,
    UP,
    ServiceProblem,
    ServiceState,
    StopProgress,
    driver,
    get_supervisor,
)
from pshctl.supervisor.runit import (
    NOT_INSTALLED,
    Runit,
    kill_argv,
    parse_line,
    parse_status,
    start_argv,
    states_of,
    stop_argv,
)

SVC = "/srv/service/app"


@pytest.mark.parametrize(
    ("line", "state", "pid", "uptime", "health"),
    [
        ("run: app: (pid 123) 45s", "run", 123, 45.0, UP),
        ("run: app: (pid 123) 1s", "run", 123, 1.0, STARTING),
        ("down: app: 3s, normally up", "down", None, 3.0, DOWN),
        ("down: app: 0s, normally up, want up", "down", None, 0.0, CRASH_LOOPING),
        ("ok: down: app: 0s, normally up", "down", None, 0.0, DOWN),
        ("timeout: run: app: (pid 9) 15s, want down, got TERM", "run", 9, 15.0, DOWN),
        ("finish: app: (pid 77) 0s", "finish", 77, 0.0, CRASH_LOOPING),
        ("finish: app: (pid 77) 0s, want down", "finish", 77, 0.0, DOWN),
        ("run: app: (pid 5) 300s, paused; run: log: (pid 4) 300s", "run", 5, 300.0, UP),
    ],
)
def test_parse_line_states(line: str, state: str, pid: int | None, uptime: float,
                           health: str) -> None:
    parsed = parse_line(line, "app")
    assert (parsed.state, parsed.pid, parsed.uptime_s, parsed.health) == (
        state, pid, uptime, health
    )
    assert parsed.problem is None


def test_parse_line_flags() -> None:
    s = parse_line("timeout: run: app: (pid 9) 15s, normally down, want down, got TERM", "app")
    assert (s.normally_up, s.want, s.got_term, s.paused) == (False, "down", True, False)
    s = parse_line("run: app: (pid 5) 3s, paused", "app")
    assert s.paused and s.normally_up and s.want is None
    s = parse_line("down: app: 3s", "app")
    assert not s.normally_up  # a `down` file: normally down


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("fail: app: unable to change to service directory: file does not exist", "missing"),
        ("warning: app: unable to open supervise/ok: file does not exist", "unsupervised"),
        ("fail: app: runsv not running", "unsupervised"),
        ("sv: fatal: something odd", "unsupervised"),
    ],
)
def test_parse_line_problems(line: str, problem: str) -> None:
    parsed = parse_line(line, "app")
    assert parsed.problem == problem
    assert parsed.health == UNSUPERVISED
    assert parsed.message
    assert not parsed.running


def test_parse_status_matches_by_name_and_skips_other_lines() -> None:
    text = (
        "run: /s/a: (pid 1) 10s; warning: /s/a/log: unable to open supervise/ok: x\n"
        "down: log: 6s, normally up\n"
        "fail: /s/b: unable to change to service directory: file does not exist\n"
        "down: /s/c: 2s, normally up, want up\n"
    )
    a, b, c, d = parse_status(text, ["/s/a", "/s/b", "/s/c", "/s/d"])
    assert (a.state, a.pid) == ("run", 1)
    assert b.problem == "missing"
    assert c.health == CRASH_LOOPING
    assert d.problem == "unsupervised" and "no status from sv" in (d.message or "")


def test_argv_is_exact_and_returns_at_once() -> None:
    # The verbs that do not wait (no `sv -w`): pshctl polls `sv status` itself.
    assert stop_argv(SVC) == ["sv", "down", SVC]
    assert kill_argv(SVC) == ["sv", "kill", SVC]
    assert start_argv(SVC) == ["sv", "up", SVC]


def test_get_supervisor() -> None:
    assert get_supervisor("runit").name == "runit"
    assert get_supervisor("systemd").name == "systemd"
    assert get_supervisor("auto").name == "auto"
    with pytest.raises(ConfigError, match="unsupported supervisor"):
        get_supervisor("upstart")


@dataclass
class Result:
    exit_status: int
    stdout: str
    stderr: str = ""


@dataclass
class FakeSv:
    """Answers `sv` argv from a script of replies per verb (the last one repeats), and
    records what was run."""

    replies: dict[str, list[str]]
    calls: list[list[str]] = field(default_factory=list)

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        argv = list(argv)
        self.calls.append(argv)
        verb = argv[1]
        queue = self.replies.get(verb, [""])
        text = queue.pop(0) if len(queue) > 1 else queue[0]
        failed = text.startswith(("fail", "warning"))
        return Result(1 if failed else 0, text + ("\n" if text else ""))

    def verbs(self) -> list[str]:
        return [argv[1] for argv in self.calls]


DOWN_OK = "down: app: 0s, normally up"
STOPPING = "run: app: (pid 9) 20s, want down, got TERM"


def test_stop_prompt_exit_polls_until_down() -> None:
    # The first look comes before runsv has acted on the request.
    sv = FakeSv({"status": ["run: app: (pid 9) 20s", STOPPING, DOWN_OK]})
    report = Runit().stop(sv, "app", 15)
    assert report.outcome == "exited" and report.seconds < 5
    assert sv.calls[0] == ["sv", "down", "app"]
    assert sv.verbs() == ["down", "status", "status", "status"]


def test_stop_kills_after_grace_and_reports_progress() -> None:
    sv = FakeSv({"status": [STOPPING]})
    seen: list[StopProgress] = []

    def status(argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        if sv.verbs().count("kill"):
            sv.replies["status"] = [DOWN_OK]
        return FakeSv.run(sv, argv, timeout=timeout)

    sv.run = status  # type: ignore[method-assign]
    report = Runit().stop(sv, "app", 0.3, progress=seen.append)
    assert report.outcome == "killed" and report.seconds >= 0.3
    assert ["sv", "kill", "app"] in sv.calls
    assert sv.verbs().index("kill") > sv.verbs().index("down")
    assert seen[0].elapsed < 0.3 and not seen[0].killed
    assert seen[-1].killed and seen[-1].elapsed >= 0.3 and seen[-1].grace == 0.3


def test_stop_still_running_after_kill_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "KILL_WAIT", 0.2)
    sv = FakeSv({"status": [STOPPING]})
    with pytest.raises(OperationFailed, match="after SIGKILL"):
        Runit().stop(sv, "app", 0.05)


def test_stop_of_a_crash_looping_service_waits_until_runsv_takes_it() -> None:
    # Down between two restarts, runsv still wanting it up: not stopped yet.
    sv = FakeSv({"status": ["down: app: 0s, normally up, want up"] * 3 + [DOWN_OK]})
    report = Runit().stop(sv, "app", 15)
    assert report.outcome == "exited" and report.state.want is None
    assert sv.verbs() == ["down"] + ["status"] * 4


def test_stop_missing_service_raises_problem() -> None:
    sv = FakeSv({"down": ["fail: app: unable to change to service directory: file does not exist"]})
    with pytest.raises(ServiceProblem) as caught:
        Runit().stop(sv, "app", 2)
    assert caught.value.state.problem == "missing"


def test_noise_of_the_remote_shell_is_not_an_error() -> None:
    class Noisy:
        def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
            noise = "/root/.bashrc: line 3: /x/env: No such file or directory\n"
            if list(argv)[1] == "status":
                return Result(0, "run: app: (pid 5) 0s\n", noise)
            return Result(0, "", noise)

    assert Runit().start(Noisy(), "app", 1).pid == 5


def test_a_remote_without_sv() -> None:
    class NoSv:
        def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
            return Result(127, "", "bash: line 1: sv: command not found\n")

    (state,) = Runit().status(NoSv(), ["app"])
    assert state.problem == "missing" and "not installed" in (state.message or "")
    with pytest.raises(ServiceProblem, match="not installed"):
        Runit().start(NoSv(), "app", 1)


def test_start_polls_until_running() -> None:
    sv = FakeSv({"status": ["down: app: 5s, normally up", "run: app: (pid 42) 0s"]})
    state = Runit().start(sv, "app", 5)
    assert state.running and state.pid == 42
    assert sv.calls[0] == ["sv", "up", "app"]


def test_start_gives_up_after_wait_with_the_last_state() -> None:
    sv = FakeSv({"status": ["down: app: 0s, normally up, want up"]})
    state = Runit().start(sv, "app", 0.2)
    assert not state.running and state.health == CRASH_LOOPING


def test_plan_lists_the_kill_as_conditional() -> None:
    steps = Runit().plan("stop", "app", grace=15, wait=5)
    assert [s.argv for s in steps] == [
        ("sv", "down", "app"), ("sv", "status", "app"), ("sv", "kill", "app"),
        ("sv", "status", "app"),
    ]
    assert steps[0].when is None and "15s" in (steps[2].when or "")
    assert [s.command for s in Runit().plan("start", "app", grace=15, wait=5)] == [
        "sv up app", "sv status app"]


# Whole answers, every field: what `sv` said is kept exactly (raw, message, flags), so a
# reader of `status --json` or of an error sees the supervisor's own words.
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  run: app: (pid 123) 45s; run: log: (pid 120) 45s  ",
         ServiceState("app", state="run", pid=123, uptime_s=45.0, raw=(
             "run: app: (pid 123) 45s; run: log: (pid 120) 45s"), supervisor="runit")),
        ("down: app: 3s, normally up, want up",
         ServiceState("app", state="down", uptime_s=3.0, want="up", supervisor="runit",
                      raw="down: app: 3s, normally up, want up")),
        ("timeout: run: app: (pid 9) 15s, normally down, want down, got TERM",
         ServiceState("app", state="run", pid=9, uptime_s=15.0, normally_up=False,
                      want="down", got_term=True, supervisor="runit",
                      raw="timeout: run: app: (pid 9) 15s, normally down, want down, got TERM")),
        ("run: app: (pid 5) 300s, paused,",
         ServiceState("app", state="run", pid=5, uptime_s=300.0, paused=True,
                      supervisor="runit", raw="run: app: (pid 5) 300s, paused,")),
        ("down: app: 7s",
         ServiceState("app", state="down", uptime_s=7.0, normally_up=False,
                      supervisor="runit", raw="down: app: 7s")),
        ("fail: app: unable to change to service directory: file does not exist",
         ServiceState("app", problem="missing", supervisor="runit",
                      message="unable to change to service directory: file does not exist",
                      raw="fail: app: unable to change to service directory: file does not exist")),
        ("ok: warning: app: unable to open supervise/ok: file does not exist",
         ServiceState("app", problem="unsupervised", supervisor="runit",
                      message="unable to open supervise/ok: file does not exist",
                      raw="ok: warning: app: unable to open supervise/ok: file does not exist")),
        ("sv: fatal: odd",
         ServiceState("app", problem="unsupervised", supervisor="runit",
                      message="unexpected sv output: 'sv: fatal: odd'", raw="sv: fatal: odd")),
    ],
)
def test_parse_line_keeps_every_field(line: str, expected: ServiceState) -> None:
    assert parse_line(line, "app") == expected


def test_parse_status_whole_answers_in_order_and_names_the_silence() -> None:
    first, = parse_status("run: a: (pid 1) 8s\n", ["a"])
    assert first == ServiceState("a", state="run", pid=1, uptime_s=8.0, supervisor="runit",
                                 raw="run: a: (pid 1) 8s")
    silent, = parse_status("  \n", ["a"])
    assert silent == ServiceState("a", problem="unsupervised", supervisor="runit",
                                  message="no status from sv: (nothing)", raw="  \n")
    other, = parse_status("run: b: (pid 2) 9s\n", ["a"])
    assert other.message == "no status from sv: run: b: (pid 2) 9s"
    assert other.raw == "run: b: (pid 2) 9s\n"


def test_parse_status_takes_each_line_once_in_order() -> None:
    text = "run: a: (pid 1) 8s\nrun: b: (pid 2) 9s\nrun: a: (pid 3) 7s\n"
    states = parse_status(text, ["a", "b", "a"])
    assert [s.pid for s in states] == [1, 2, 3]
    states = parse_status("run: b: (pid 2) 9s\nrun: a: (pid 1) 8s\n", ["a", "b"])
    assert [s.pid for s in states] == [1, None]  # b's line came before a's: not seen after


def test_states_of_a_remote_without_sv_and_one_with_it() -> None:
    missing = Result(127, "", "sh: 1: sv: not found\n")
    assert states_of(missing, ["a", "b"]) == [
        ServiceState(s, problem="missing", message=NOT_INSTALLED, supervisor="runit",
                     raw="sh: 1: sv: not found\n")
        for s in ("a", "b")
    ]
    # Exit 127 from something else while sv answered: the answer counts.
    answered = Result(127, "run: a: (pid 1) 8s\n", "x: not found\n")
    state, = states_of(answered, ["a"])
    assert (state.state, state.pid, state.problem) == ("run", 1, None)
    # stderr is read too (sv writes its warnings there).
    warned, = states_of(Result(1, "", "warning: a: unable to open supervise/ok: x\n"), ["a"])
    assert warned.problem == "unsupervised" and warned.message == "unable to open supervise/ok: x"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (Result(0, "whatever a login script says\n"), None),
        (Result(127, "", "sh: sv: not found\n"),
         ServiceState("app", problem="missing", message=NOT_INSTALLED,
                      raw="sh: sv: not found", supervisor="runit")),
        (Result(1, "noise\nfail: app: unable to change to service directory: x\n"),
         ServiceState("app", problem="missing", supervisor="runit",
                      message="unable to change to service directory: x",
                      raw="fail: app: unable to change to service directory: x")),
    ],
)
def test_verb_problem_reads_the_answer(result: Result, expected: ServiceState | None) -> None:
    assert Runit().verb_problem(result, "app") == expected


def test_verb_problem_of_another_service_or_of_nothing_is_a_plain_failure() -> None:
    other = Runit().verb_problem(Result(1, "fail: log: runsv not running\n"), "app")
    assert isinstance(other, OperationFailed)
    assert str(other) == "sv failed: fail: log: runsv not running"
    # A problem line with no name sv echoes (`sv: fatal`) is about this service.
    fatal = Runit().verb_problem(Result(1, "", "sv: fatal: x\n"), "app")
    assert isinstance(fatal, ServiceState) and fatal.problem == "unsupervised"
    silent = Runit().verb_problem(Result(111, ""), "app")
    assert isinstance(silent, OperationFailed) and str(silent) == "sv failed: exit status 111"
    # A state line (not a problem) in a failed answer is not taken for the problem.
    state = Runit().verb_problem(Result(1, "run: app: (pid 3) 4s\n"), "app")
    assert isinstance(state, OperationFailed)
    assert str(state) == "sv failed: run: app: (pid 3) 4s"
