"""Detection: one probe asks every driver, each service gets the driver that knows it.

The probe's text below is what the real commands print (their parsers are tested in
test_supervisor_runit.py and test_supervisor_systemd.py); against real supervisors:
tests/test_lifecycle_integration.py and test_supervisor_mixed.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pshctl.supervisor import ServiceProblem, ServiceState, Step
from pshctl.supervisor.auto import MARK, Auto, choose, probe_script, split_answers
from pshctl.supervisor.driver import COMMAND_TIMEOUT
from pshctl.supervisor.runit import Runit
from pshctl.supervisor.systemd import EXIT_MARK, NO_MANAGER, Systemd, parse_status, status_script
from tests.test_supervisor_runit import Result
from tests.test_supervisor_systemd import show


def fenced(runit: str, runit_code: int, systemd: str, systemd_code: int = 0) -> str:
    return (f"{MARK} runit\n{runit}{MARK} runit {runit_code}\n"
            f"{MARK} systemd\n{systemd}{EXIT_MARK} {systemd_code}\n100.0 1.0\n"
            f"{MARK} systemd {systemd_code}\n")


@dataclass
class Remote:
    """Answers the probe with ``probe`` and then each driver's own commands."""

    probe: str
    calls: list[str] = field(default_factory=list)
    timeouts: list[float | None] = field(default_factory=list)
    stderr: str = ""
    code: int = 0

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        text = argv if isinstance(argv, str) else " ".join(argv)
        self.calls.append(text)
        self.timeouts.append(timeout)
        if MARK in text:
            return Result(self.code, self.probe, self.stderr)
        if text.startswith("sv status"):
            return Result(0, "run: /s/old: (pid 3) 50s\n")
        return Result(0, show(Id="new.service", MainPID=4) + f"{EXIT_MARK} 0\n100.0 1.0\n")


def test_the_probe_is_one_command_and_runs_in_a_shell() -> None:
    script = probe_script([Systemd(), Runit()], ["/s/app"])
    assert script.count(MARK) == 4
    # A shell where `sv` answers and `systemctl` is not installed.
    here = (script.replace("systemctl --user", "no_such_systemctl --user")
            .replace("command -v systemctl", "command -v no_such_systemctl")
            .replace("sv status", "echo 'run: /s/app: (pid 1) 5s';:"))
    done = subprocess.run(["sh", "-c", here], capture_output=True, text=True, check=False)
    answers = split_answers(done.stdout)
    assert answers["runit"].stdout.startswith("run: /s/app: (pid 1) 5s")
    (systemd,) = Systemd().parse(answers["systemd"], ["/s/app"])
    assert systemd.problem == "missing" and "not installed" in (systemd.message or "")


def test_each_service_gets_its_own_driver_and_later_calls_skip_the_probe() -> None:
    runit_says = ("run: /s/old: (pid 3) 50s\n"
                  "fail: /s/new: unable to change to service directory: file does not exist\n")
    systemd_says = (show(Id="old.service", LoadState="not-found", ActiveState="inactive")
                    + "\n" + show(Id="new.service", MainPID=4))
    remote = Remote(fenced(runit_says, 1, systemd_says))
    auto = Auto()
    old, new = auto.status(remote, ["/s/old", "/s/new"])
    assert (old.supervisor, old.pid) == ("runit", 3)
    assert (new.supervisor, new.pid) == ("systemd", 4)
    assert len(remote.calls) == 1  # one round trip for both answers
    auto.status(remote, ["/s/old", "/s/new"])
    later = remote.calls[1:]  # each driver asked on its own: no probe again
    assert len(later) == 2 and not any(MARK in call for call in later), later
    assert later[0].startswith("sv status") and "systemctl --user show" in later[1], later


def test_a_running_service_wins_over_a_stopped_one_then_systemd() -> None:
    both = fenced("down: /s/app: 9s, normally up\n", 0, show(MainPID=8))
    (state,) = Auto().status(Remote(both), ["/s/app"])
    assert state.supervisor == "systemd" and state.pid == 8
    tie = fenced("down: /s/app: 9s, normally up\n", 0,
                 show(ActiveState="inactive", SubState="dead"))
    (state,) = Auto().status(Remote(tie), ["/s/app"])
    assert state.supervisor == "systemd"
    runit_runs = fenced("run: /s/app: (pid 5) 9s\n", 0,
                        show(ActiveState="inactive", SubState="dead"))
    (state,) = Auto().status(Remote(runit_runs), ["/s/app"])
    assert state.supervisor == "runit"


def test_a_service_nobody_knows_names_both_answers() -> None:
    neither = fenced("fail: /s/app: unable to change to service directory: file does not "
                     "exist\n", 1, "Failed to connect to bus: No medium found\n", 1)
    auto = Auto()
    (state,) = auto.status(Remote(neither), ["/s/app"])
    assert state.problem == "missing"  # runit has no such service, no user manager runs
    assert "runit: unable to change" in (state.message or "")
    assert "systemd: no answer from systemd's user manager: Failed to connect" in (
        state.message or "")
    with pytest.raises(ServiceProblem):
        auto.stop(Remote(neither), "/s/app", 1)


def test_no_supervisor_at_all_is_missing() -> None:
    none = fenced("sh: 1: sv: not found\n", 127, "sh: 1: systemctl: not found\n", 127)
    (state,) = Auto().status(Remote(none), ["app"])
    assert state.problem == "missing"
    assert "`sv` is not installed" in (state.message or "")
    assert "`systemctl` is not installed" in (state.message or "")


def test_plan_shows_both_drivers() -> None:
    steps = Auto().plan("stop", "/s/app", grace=7, wait=5)
    whens = [s.when or "" for s in steps]
    assert any(w.startswith("on runit") for w in whens)
    assert any(w.startswith("on systemd") for w in whens)
    assert "sv down /s/app" in [s.command for s in steps]
    (probe,) = Auto().plan("status", "/s/app", grace=7, wait=5)
    assert MARK in probe.command


def test_fenced_answers_split_exactly() -> None:
    text = (f"login noise\n{MARK} runit\nline 1\nline 2\n{MARK} runit 3\nbetween\n"
            f"{MARK} systemd\n{MARK} systemd 0\n{MARK} other\nunfinished\n"
            f"{MARK} stray 1\n")
    answers = split_answers(text)
    assert set(answers) == {"runit", "systemd"}
    assert (answers["runit"].exit_status, answers["runit"].stdout) == (3, "line 1\nline 2\n")
    assert (answers["systemd"].exit_status, answers["systemd"].stdout) == (0, "\n")
    # A closing fence of another driver does not close this one.
    crossed = split_answers(f"{MARK} runit\nx\n{MARK} systemd 1\ny\n{MARK} runit 0\n")
    assert crossed["runit"].stdout == "x\ny\n" and "systemd" not in crossed
    assert split_answers(f"{MARK}  runit\n{MARK} runit 0 extra\n") == {}


def test_a_probe_answer_missing_for_one_driver_reads_the_whole_output() -> None:
    # The remote shell broke off after runit's part: systemd's parser sees everything said.
    cut = f"{MARK} runit\nrun: /s/app: (pid 5) 9s\n{MARK} runit 0\nsh: killed\n"
    auto = Auto()
    (state,) = auto.status(Remote(cut), ["/s/app"])
    assert (state.supervisor, state.pid) == ("runit", 5)
    assert auto.found["/s/app"].name == "runit"


def test_the_problem_of_a_service_nobody_knows_is_exact() -> None:
    runit = Runit().parse(Result(1, "fail: app: unable to change to service directory: x\n"),
                          ["app"])[0]
    systemd = Systemd().parse(Result(0, "Failed to connect to bus: x\nsystemctl-exit 1\n"),
                              ["app"])[0]
    driver, state = choose([(Runit(), runit), (Systemd(), systemd)])
    assert driver is None
    assert state == ServiceState(
        "app", problem="missing", raw=runit.raw + "\n" + systemd.raw,
        message="neither runit nor systemd knows this service (runit: unable to change to "
                "service directory: x; systemd: no answer from systemd's user manager: "
                "Failed to connect to bus: x)")
    odd = Runit().parse(Result(1, "warning: app: unable to open supervise/ok: x\n"), ["app"])[0]
    driver, state = choose([(Runit(), odd), (Systemd(), systemd)])
    assert driver is None and state.problem == "unsupervised"
    assert state.message == ("not supervised (runit: unable to open supervise/ok: x; "
                             "systemd: no answer from systemd's user manager: "
                             "Failed to connect to bus: x)")


def test_the_first_known_driver_wins_when_none_runs() -> None:
    down = ServiceState("app", state="down", supervisor="runit")
    also = ServiceState("app", state="down", supervisor="systemd")
    runit, systemd = Runit(), Systemd()
    assert choose([(runit, down), (systemd, also)]) == (runit, down)
    running = ServiceState("app", state="run", pid=3, supervisor="systemd")
    assert choose([(runit, down), (systemd, running)]) == (systemd, running)


@dataclass
class Recording(Runit):
    """A runit driver that records what Auto asked of it."""

    asked: list[tuple[object, ...]] = field(default_factory=list)

    def stop(self, runner: object, service: str, grace: float, *,  # type: ignore[override]
             progress: object = None) -> object:
        self.asked.append(("stop", runner, service, grace, progress))
        return "stopped"

    def start(self, runner: object, service: str, wait: float) -> object:  # type: ignore[override]
        self.asked.append(("start", runner, service, wait))
        return "started"


def test_actions_go_to_the_driver_found_with_every_argument() -> None:
    remote = Remote(fenced("run: /s/app: (pid 5) 9s\n", 0,
                           show(Id="app.service", LoadState="not-found")))
    driver = Recording()
    auto = Auto([Systemd(), driver])
    sink = object()
    assert auto.stop(remote, "/s/app", 7.5, progress=sink) == "stopped"
    assert auto.start(remote, "/s/app", 2.5) == "started"
    assert driver.asked == [("stop", remote, "/s/app", 7.5, sink),
                            ("start", remote, "/s/app", 2.5)]
    assert sum(MARK in c for c in remote.calls) == 1  # detected once, then known
    assert auto.driver(remote, "/s/app") is driver


def test_plan_steps_name_their_driver_and_keep_their_own_condition() -> None:
    for action in ("stop", "start"):
        steps = Auto().plan(action, "/s/app", grace=7, wait=5)
        expected = [
            Step(s.argv, f"on {d.name}" + (f", {s.when}" if s.when else ""), s.script)
            for d in (Systemd(), Runit()) for s in d.plan(action, "/s/app", grace=7, wait=5)
        ]
        assert steps == expected
    assert "up to 5s" in " ".join(s.when or "" for s in Auto().plan("start", "a", grace=7,
                                                                      wait=5))
    (probe,) = Auto().plan("status", "/s/app", grace=7, wait=5)
    assert probe.when == "finds the supervisor and reads the state"
    assert probe.command == probe_script(Auto().drivers, ["/s/app"])


def test_an_action_before_any_status_detects_on_the_same_runner() -> None:
    remote = Remote(fenced("run: /s/app: (pid 5) 9s\n", 0,
                           show(Id="app.service", LoadState="not-found")))
    driver = Recording()
    auto = Auto([Systemd(), driver])
    assert auto.start(remote, "/s/app", 2.5) == "started"
    assert driver.asked == [("start", remote, "/s/app", 2.5)]
    assert len(remote.calls) == 1 and MARK in remote.calls[0]
    assert remote.timeouts == [COMMAND_TIMEOUT]  # the probe is bounded like any command


@pytest.mark.parametrize(
    ("stdout", "stderr", "code", "said"),
    [
        ("", "bash: syntax error\n", 2, "bash: syntax error"),
        ("login banner\n", "", 2, "login banner"),
        ("login banner\n", "bash: syntax error\n", 2, "login banner\nbash: syntax error"),
    ],
)
def test_an_answer_without_fences_is_read_by_every_driver(
        stdout: str, stderr: str, code: int, said: str) -> None:
    remote = Remote(stdout, stderr=stderr, code=code)
    (state,) = Auto().status(remote, ["app"])
    assert state.problem == "unsupervised"
    assert state.message == (
        f"not supervised (systemd: no answer from systemd's user manager: "
        f"{said.replace(chr(10), '; ')}; runit: no status from sv: {said})")


def test_a_shell_without_either_command_and_no_fences() -> None:
    said = "sh: 1: sv: not found\nsh: 1: systemctl: not found\n"
    (state,) = Auto().status(Remote("", stderr=said, code=127), ["app"])
    assert state.problem == "missing"
    assert "systemd: `systemctl` is not installed" in (state.message or "")
    assert "runit: runit's `sv` is not installed" in (state.message or "")


def test_no_systemctl_is_started_where_no_user_manager_could_answer(tmp_path: Path) -> None:
    """Without a session bus address and with neither of the manager's sockets, the probe
    answers as systemctl would, without starting it; with a socket, systemctl is asked."""
    import socket

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "systemctl"
    fake.write_text(f"#!/bin/sh\necho called >> {calls}\necho 'Id=app.service'\n")
    fake.chmod(0o755)
    script = status_script(["app"])
    runtime = tmp_path / "run"
    (runtime / "systemd").mkdir(parents=True)
    base = {"PATH": f"{bin_dir}:/usr/bin:/bin"}

    def probe(env: dict[str, str]) -> list[ServiceState]:
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                              env={**base, **env}, check=False)
        return parse_status(done.stdout, ["app"])

    for env in ({}, {"XDG_RUNTIME_DIR": str(runtime)}):
        (state,) = probe(env)
        assert (state.problem, state.message) == (
            "missing", f"no answer from systemd's user manager: {NO_MANAGER}"), env
    assert not calls.exists()
    with socket.socket(socket.AF_UNIX) as bus:
        bus.bind(str(runtime / "bus"))
        probe({"XDG_RUNTIME_DIR": str(runtime)})
    assert calls.read_text() == "called\n"
    probe({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nowhere"})
    assert calls.read_text() == "called\ncalled\n"
