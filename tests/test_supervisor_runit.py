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
    get_supervisor,
)
from pshctl.supervisor.runit import Runit, parse_line, parse_status, start_argv, stop_argv

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


def test_argv_is_exact_and_whole_seconds() -> None:
    assert stop_argv(SVC, 15) == ["sv", "-w", "15", "stop", SVC]
    assert stop_argv(SVC, 0) == ["sv", "-w", "1", "stop", SVC]
    assert start_argv(SVC, 2.5) == ["sv", "-w", "3", "start", SVC]  # type: ignore[arg-type]


def test_get_supervisor() -> None:
    assert get_supervisor("runit").name == "runit"
    with pytest.raises(ConfigError, match="unsupported supervisor"):
        get_supervisor("upstart")


@dataclass
class Result:
    exit_status: int
    stdout: str
    stderr: str = ""


@dataclass
class FakeSv:
    """Answers `sv` argv from a script of replies, and records what was run."""

    replies: dict[str, list[str]]
    calls: list[list[str]] = field(default_factory=list)

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        argv = list(argv)
        self.calls.append(argv)
        verb = next(a for a in argv[1:] if a in ("status", "stop", "start", "kill"))
        text = self.replies[verb].pop(0)
        return Result(1 if text.startswith("timeout") else 0, text + ("\n" if text else ""))


def test_stop_prompt_exit() -> None:
    sv = FakeSv({"stop": ["ok: down: app: 0s, normally up"]})
    report = Runit().stop(sv, "app", 15)
    assert report.outcome == "exited"
    assert sv.calls == [["sv", "-w", "15", "stop", "app"]]


def test_stop_kills_after_grace_never_trusting_exit_status() -> None:
    sv = FakeSv({
        "stop": ["timeout: run: app: (pid 9) 2s, want down, got TERM",
                 "ok: down: app: 0s, normally up"],
        "kill": [""],
    })
    report = Runit().stop(sv, "app", 2)
    assert report.outcome == "killed"
    assert sv.calls == [
        ["sv", "-w", "2", "stop", "app"], ["sv", "kill", "app"], ["sv", "-w", "5", "stop", "app"]
    ]


def test_stop_still_running_after_kill_fails() -> None:
    sv = FakeSv({"stop": ["timeout: run: app: (pid 9) 2s, want down, got TERM"] * 2,
                 "kill": [""]})
    with pytest.raises(OperationFailed, match="after SIGKILL"):
        Runit().stop(sv, "app", 2)


def test_stop_missing_service_raises_problem() -> None:
    sv = FakeSv({"stop": ["fail: app: unable to change to service directory: file does not exist"]})
    with pytest.raises(ServiceProblem) as caught:
        Runit().stop(sv, "app", 2)
    assert caught.value.state.problem == "missing"


def test_start_returns_state() -> None:
    sv = FakeSv({"start": ["ok: run: app: (pid 42) 0s"]})
    state = Runit().start(sv, "app", 5)
    assert state.running and state.pid == 42
    assert sv.calls == [["sv", "-w", "5", "start", "app"]]


def test_plan_lists_the_kill_as_conditional() -> None:
    steps = Runit().plan("stop", "app", grace=15, wait=5)
    assert [s.argv for s in steps] == [
        ("sv", "-w", "15", "stop", "app"), ("sv", "kill", "app"), ("sv", "-w", "5", "stop", "app")
    ]
    assert steps[0].when is None and "15s" in (steps[1].when or "")
