"""A worker its supervisor restarts again and again is seen as crash-looping, on runit
(pids changing under a short uptime, in one SSH session) and on systemd (NRestarts)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import CliResult, CliRunner
from tests.testbed import CRASHES, PROMPT, SUPERVISORS, TestBed

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)]

# Lives a little over a second: runit restarts it at once (it ran more than one second),
# so one `sv status` always shows a young process, never "down".
SHORT_LIVED = "sleep 1.2\nexit 3\n"


@pytest.mark.parametrize("script", [SHORT_LIVED, CRASHES], ids=["short-lived", "crashes"])
def test_status_sees_the_crash_loop_and_exits_1(testbed: TestBed, cli: CliRunner,
                                                script: str) -> None:
    testbed.add_services({"queue": PROMPT, "flaky": script})
    root = testbed.project(["queue", "flaky"])
    # On a loaded machine the run script itself may take most of a second to start, so
    # one life of the short-lived worker can be seen past the starting time (truly up at
    # that moment) before it exits: each command gets up to three looks at its lives.
    tries = 3 if script == SHORT_LIVED else 1

    def status(*args: str) -> CliResult:
        for _ in range(tries):
            result = cli("status", "-e", "test", *args, cwd=root)
            if result.exit_code != 0:
                break
        return result

    result = status("--json")
    assert result.exit_code == 1, result
    workers = {w["name"]: w for w in result.json["workers"]}
    flaky = workers["flaky"]
    assert (flaky["state"], flaky["ok"]) == ("crash-looping", False), flaky
    assert flaky["restarts"] >= 1 and "crash-looping" in flaky["error"]
    assert workers["queue"]["state"] == "up" and workers["queue"]["ok"]  # settled, not starting

    table = status()
    row = next(x for x in table.stdout.splitlines() if x.startswith("flaky"))
    assert re.match(r"flaky\s+crash-looping\s+\S+\s+\S+\s+[1-9]", row), table.stdout
    assert "hint: see why in its log: pshctl logs flaky -n 50" in table.stderr
    logs = cli("logs", "flaky", "-n", "50", "-e", "test", cwd=root)  # the hint works
    assert logs.exit_code == 0, logs


def test_wait_times_out_on_a_crash_loop_and_says_so(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("flaky", SHORT_LIVED)
    root = testbed.project(["flaky"])
    result = cli("wait", "flaky", "-e", "test", "--timeout", "4", "--json", cwd=root)
    assert result.exit_code == 5, result
    (flaky,) = result.json["workers"]
    assert flaky["state"] == "crash-looping" and flaky["restarts"] >= 1, flaky
    assert "crash-looping" in flaky["error"]


def test_the_restarts_column_counts_on_both_supervisors(testbed: TestBed,
                                                        cli: CliRunner) -> None:
    testbed.add_service("flaky", CRASHES)
    root = testbed.project(["flaky"])
    first = cli("status", "-e", "test", "--json", cwd=root).json["workers"][0]
    if testbed.supervisor == "systemd":
        # systemd's own count, which goes on between commands.
        assert first["restarts"] == first["restarts_seen"] or first["restarts"] >= 1
        later = cli("status", "-e", "test", "--json", cwd=root).json["workers"][0]
        assert later["restarts"] >= first["restarts"] >= 1
    else:  # what pshctl saw during this one command
        assert first["restarts"] == first["restarts_seen"] >= 1, first
