"""The systemd driver: exact `systemctl --user` argv, parsing of `show`, stop/start
decisions (real user managers: tests/test_lifecycle_integration.py, parametrised)."""

from __future__ import annotations

from collections.abc import Sequence
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
)
from pshctl.supervisor.systemd import (
    EXIT_MARK,
    JOB_MARK,
    TIMED_OUT,
    Systemd,
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
