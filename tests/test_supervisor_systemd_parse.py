"""systemd's answers read field by field: every ServiceState compared whole, so what
`systemctl --user show` said reaches `status --json` and errors exactly."""

from __future__ import annotations

import pytest

from pshctl.errors import OperationFailed
from pshctl.supervisor import ServiceState
from pshctl.supervisor.systemd import (
    NOT_INSTALLED,
    PROPERTIES,
    Systemd,
    last_exit,
    parse_block,
    parse_status,
    unit_name,
)
from tests.test_supervisor_runit import Result
from tests.test_supervisor_systemd import NOW, answer, show


def block(**props: object) -> dict[str, str]:
    return dict(line.split("=", 1) for line in show(**props).splitlines())


def raw(**props: object) -> str:
    b = block(**props)
    return " ".join(f"{k}={b[k]}" for k in PROPERTIES)


def state(**fields: object) -> ServiceState:
    return ServiceState("app", supervisor="systemd", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"MainPID": 42, "NRestarts": 3, "ExecMainStartTimestampMonotonic": 940_000_000},
         dict(state="run", pid=42, uptime_s=60.0, restarts=3)),
        ({"MainPID": 42, "ExecMainStartTimestampMonotonic": 999_880_000},
         dict(state="run", pid=42, uptime_s=0.1, restarts=0)),
        ({"MainPID": 42, "ExecMainStartTimestampMonotonic": 1_200_000_000,
          "ExecMainCode": 1, "ExecMainStatus": 0},  # an earlier run's exit: not this one's
         dict(state="run", pid=42, uptime_s=0.0, restarts=0)),  # a clock behind: not negative
        ({"ActiveState": "reloading", "MainPID": 7, "ExecMainStartTimestampMonotonic": 1},
         dict(state="run", pid=7, uptime_s=1000.0, restarts=0)),
        ({"ActiveState": "active", "MainPID": 0, "StateChangeTimestampMonotonic": 10_000_000},
         dict(state="down", uptime_s=990.0, restarts=0)),
        ({"ActiveState": "activating", "SubState": "auto-restart", "NRestarts": 2,
          "ExecMainCode": 1, "ExecMainStatus": 3, "StateChangeTimestampMonotonic": 999_000_000},
         dict(state="down", want="up", uptime_s=1.0, restarts=2, last_exit="exit 3")),
        ({"ActiveState": "activating", "SubState": "start", "MainPID": 9},
         dict(state="start", pid=9, restarts=0)),
        ({"ActiveState": "deactivating", "SubState": "stop-sigterm", "MainPID": 9,
          "ExecMainStartTimestampMonotonic": 995_000_000},
         dict(state="run", pid=9, want="down", got_term=True, uptime_s=5.0, restarts=0)),
        ({"ActiveState": "deactivating", "SubState": "final-sigkill", "MainPID": 0},
         dict(state="finish", want="down", got_term=True, restarts=0)),
        ({"ActiveState": "deactivating", "SubState": "stop-post", "MainPID": 0},
         dict(state="finish", want="down", restarts=0)),
        ({"ActiveState": "failed", "SubState": "failed", "ExecMainCode": 2,
          "ExecMainStatus": 9}, dict(state="down", restarts=0, last_exit="signal KILL")),
        ({"ActiveState": "inactive", "SubState": "dead", "ExecMainCode": 3,
          "ExecMainStatus": 6}, dict(state="down", restarts=0, last_exit="signal ABRT")),
        ({"ActiveState": "inactive", "NRestarts": "x", "MainPID": "?"},
         dict(state="down", restarts=0)),
    ],
)
def test_a_block_read_whole(props: dict[str, object], expected: dict[str, object]) -> None:
    assert parse_block(block(**props), "app", NOW) == state(raw=raw(**props), **expected)


def test_a_block_without_a_clock_has_no_uptime() -> None:
    props = {"MainPID": 5, "ExecMainStartTimestampMonotonic": 1}
    assert parse_block(block(**props), "app", None) == state(
        state="run", pid=5, restarts=0, raw=raw(**props))


def test_problem_blocks_say_which_unit() -> None:
    gone = {"Id": "worker.service", "LoadState": "not-found", "ActiveState": "inactive"}
    assert parse_block(block(**gone), "app", NOW) == state(
        problem="missing", raw=raw(**gone), message="no systemd user unit worker.service")
    nameless = {"LoadState": "not-found"}
    b = block(**nameless)
    del b["Id"]
    assert parse_block(b, "/srv/app/", NOW).message == "no systemd user unit app.service"
    assert parse_block(b, "app", NOW).raw == raw(**nameless).removeprefix("Id=app.service ")
    masked = {"LoadState": "masked"}
    assert parse_block(block(**masked), "app", NOW) == state(
        problem="unsupervised", raw=raw(**masked), message="unit app.service is masked")
    assert parse_block({}, "app", NOW) == state(
        problem="unsupervised", raw="", message="unit app.service is unknown")


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({}, None),
        ({"ExecMainCode": "1", "ExecMainStatus": "0"}, "exit 0"),
        ({"ExecMainCode": "1", "ExecMainStatus": "143"}, "exit 143"),
        ({"ExecMainCode": "2", "ExecMainStatus": "15"}, "signal TERM"),
        ({"ExecMainCode": "3", "ExecMainStatus": "11"}, "signal SEGV"),
        ({"ExecMainCode": "2", "ExecMainStatus": "200"}, "signal 200"),
        ({"ExecMainCode": "4", "ExecMainStatus": "1"}, None),
        ({"ExecMainCode": "bad", "ExecMainStatus": "1"}, None),
    ],
)
def test_last_exit_words(props: dict[str, str], expected: str | None) -> None:
    assert last_exit(props) == expected


@pytest.mark.parametrize(
    ("service", "unit"),
    [("app", "app.service"), ("/srv/service/app", "app.service"),
     ("/srv/service/app/", "app.service"), ("mail.service", "mail.service"),
     ("a/b.service/", "b.service"), ("/s/TAX", "TAX.service"), ("a/b/c", "c.service")],
)
def test_unit_name(service: str, unit: str) -> None:
    assert unit_name(service) == unit


def test_status_answers_matched_by_id_then_by_position() -> None:
    text = answer(show(Id="b.service", MainPID=2), show(Id="a.service", MainPID=1))
    a, b = parse_status(text, ["a", "b"])
    assert (a.pid, b.pid) == (1, 2)
    # Ids systemd did not echo as asked (an alias): taken in order when counts agree.
    text = answer(show(Id="x.service", MainPID=3))
    (only,) = parse_status(text, ["app"])
    assert only.pid == 3 and only.uptime_s is None  # no start time given
    # Not as many blocks as units: the one without an answer says what systemctl said.
    text = answer(show(Id="a.service", MainPID=1), "Warning: something odd\n")
    a, b = parse_status(text, ["a", "b"])
    assert a.pid == 1
    assert b == ServiceState("b", problem="unsupervised", supervisor="systemd", raw=text,
                             message="no answer from systemd's user manager: "
                                     "Warning: something odd")


def test_status_of_nothing_at_all() -> None:
    (silent,) = parse_status("", ["app"])
    assert silent == state(problem="unsupervised", raw="",
                           message="no answer from systemd's user manager: (nothing)")
    text = "  garbage without a mark  \n"
    (odd,) = parse_status(text, ["app"])
    assert odd.message == "no answer from systemd's user manager: garbage without a mark"
    assert odd.problem == "unsupervised"


def test_status_without_a_manager_or_systemctl() -> None:
    for words in ("Failed to connect to bus: No medium found",
                  "Failed to connect to user scope bus via local transport"):
        text = answer(words + "\n", code=1)
        assert parse_status(text, ["app"]) == [state(
            problem="missing", raw=text,
            message=f"no answer from systemd's user manager: {words}")]
    missing = answer("sh: 1: systemctl: not found\n", code=127)
    assert parse_status(missing, ["a", "b"]) == [
        ServiceState(s, problem="missing", message=NOT_INSTALLED, raw=missing,
                     supervisor="systemd") for s in ("a", "b")]
    # Not found, said by a shell that did not give 127 (a wrapper): still not installed.
    wrapped = answer("bash: systemctl: command not found\n", code=1)
    assert parse_status(wrapped, ["a"])[0].message == NOT_INSTALLED
    # `not found` about something else is not systemctl missing.
    other = answer("ls: not found\n", code=1)
    assert parse_status(other, ["a"])[0].message != NOT_INSTALLED


def test_the_clock_and_exit_mark_are_read_defensively() -> None:
    body = show(MainPID=5, ExecMainStartTimestampMonotonic=500_000_000)
    for tail, uptime in (("systemctl-exit 0\n1000.0 1.0\n", 500.0),
                         ("systemctl-exit 0\n", None), ("systemctl-exit 0\nabc\n", None),
                         ("systemctl-exit x\n1000.0\n", 500.0),
                         ("systemctl-exit 0\n   \n", None)):
        (s,) = parse_status(body + tail, ["app"])
        assert (s.pid, s.uptime_s) == (5, uptime), tail
    # The mark inside a value is not the mark: the last one counts.
    (s,) = parse_status(show(MainPID=5, Result="systemctl-exit 9") + "systemctl-exit 127\n",
                        ["app"])
    assert s.message == NOT_INSTALLED


def test_lines_that_are_not_properties_split_blocks() -> None:
    text = ("Id=a.service\nLoadState=loaded\nActiveState=active\nMainPID=1\n"
            "note: a line\nId=b.service\nLoadState=loaded\nActiveState=active\nMainPID=2\n"
            "Weird Key=1\n" + "systemctl-exit 0\n")
    a, b = parse_status(text, ["a", "b"])
    assert (a.pid, b.pid) == (1, 2)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (Result(0, "noise"), None),
        (Result(127, "", "sh: systemctl: not found\n"),
         state(problem="missing", message=NOT_INSTALLED, raw="sh: systemctl: not found")),
        (Result(5, "", "Failed to stop app.service: Unit app.service not loaded.\n"),
         state(problem="missing", message="no systemd user unit app.service",
               raw="Failed to stop app.service: Unit app.service not loaded.")),
        (Result(4, "Unit app.service not found.\n"),
         state(problem="missing", message="no systemd user unit app.service",
               raw="Unit app.service not found.")),
        (Result(1, "", "Failed to connect to bus: No medium found\n"),
         state(problem="missing", raw="Failed to connect to bus: No medium found",
               message="no systemd user manager answers: "
                       "Failed to connect to bus: No medium found")),
    ],
)
def test_verb_problems_read_whole(result: Result, expected: ServiceState | None) -> None:
    assert Systemd().verb_problem(result, "app") == expected


def test_verb_failures_quote_systemctl() -> None:
    failed = Systemd().verb_problem(Result(1, "", "Job failed. See journal.\n"), "app")
    assert isinstance(failed, OperationFailed)
    assert str(failed) == "systemctl failed: Job failed. See journal."
    silent = Systemd().verb_problem(Result(3, ""), "app")
    assert isinstance(silent, OperationFailed) and str(silent) == "systemctl failed: exit 3"


def test_uptime_is_in_microseconds_of_the_monotonic_clock() -> None:
    props = {"MainPID": 5, "ExecMainStartTimestampMonotonic": 500_000_000_000}
    assert parse_block(block(**props), "app", 500_100.0).uptime_s == 100.0


def test_values_holding_equals_signs_and_bare_words() -> None:
    text = answer(show(Id="a.service", MainPID=1, SubState="odd=value"), "oops\n", "also\n")
    a, b = parse_status(text, ["a", "b"])
    assert "SubState=odd=value" in a.raw.split()
    assert b.message == "no answer from systemd's user manager: oops; also"


@pytest.mark.parametrize(("stdout", "stderr"), [("", "Failed to connect to bus: x\n"),
                                               ("Failed to connect to bus: x\n", "")])
def test_the_driver_reads_both_streams(stdout: str, stderr: str) -> None:
    (s,) = Systemd().parse(Result(1, stdout, stderr), ["app"])
    assert s.message == "no answer from systemd's user manager: Failed to connect to bus: x"
