"""Two runs acting on one worker: the lease on its container (pshctl/lease.py).

The regression: two operators restarting the same SIGTERM-ignoring worker left it down;
run 2's SIGKILL hit run 1's fresh process and run 1 called it crash-looping. Each action
now holds a lease on the container over its own SSH session; a second run waits for it
(--wait-lock) or refuses (exit 6) naming who holds it and since when, and a dropped
connection releases it. Real sshd, runit and systemd user units.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CliRunner, wait_until
from tests.testbed import IGNORES_TERM, SUPERVISORS, TestBed

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)]


def _spawn(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pshctl", "restart", "stubborn", "-e",
                             "test", "--json", *args], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})


def _mid_stop(testbed: TestBed) -> None:
    wait_until(lambda: testbed.got_term("stubborn"), "a run to be stopping the worker",
               timeout=30)


def test_two_runs_take_turns_and_nothing_is_left_down(testbed: TestBed) -> None:
    testbed.add_service("stubborn", IGNORES_TERM)
    root = testbed.project(["stubborn"])
    original = testbed.pid("stubborn")
    first = _spawn(root, "--grace", "2", "--verify", "1", "--wait-lock", "60")
    _mid_stop(testbed)  # run 1 holds the lease and is waiting out the grace
    second = _spawn(root, "--grace", "2", "--verify", "1", "--wait-lock", "60")
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, 0), (err1, err2)
    (one,), (two,) = json.loads(out1)["workers"], json.loads(out2)["workers"]
    assert one["ok"] and two["ok"] and "crash" not in err1 + err2
    assert one["old_pid"] == original
    # Run 2 began after run 1 was done: it restarted run 1's fresh process.
    assert two["old_pid"] == one["new_pid"] != original
    assert testbed.pid("stubborn") == two["new_pid"]
    assert f"for the lease held by {_holder(first)}" in err2


def _holder(proc: subprocess.Popen[str]) -> str:
    import getpass
    import socket

    return f"{getpass.getuser()}@{socket.gethostname()} pid {proc.pid} since "


def test_a_busy_worker_is_refused_and_a_dropped_run_releases_it(
    testbed: TestBed, cli: CliRunner
) -> None:
    testbed.add_service("stubborn", IGNORES_TERM)
    root = testbed.project(["stubborn"])
    first = _spawn(root, "--grace", "60", "--verify", "1")
    try:
        _mid_stop(testbed)
        refused = cli("restart", "stubborn", "-e", "test", "--json", "--grace", "1",
                      cwd=root)
        assert refused.exit_code == 6, refused
        (worker,) = refused.json["workers"]
        assert worker["ok"] is False and _holder(first) in worker["error"]
        assert testbed.got_term("stubborn")  # run 1's stop goes on, untouched
    finally:
        first.send_signal(signal.SIGKILL)  # a dropped connection: sshd hangs up its lease
        first.communicate(timeout=30)
    after = cli("restart", "stubborn", "-e", "test", "--json", "--grace", "1", "--verify", "1",
                "--wait-lock", "30", cwd=root)
    assert after.exit_code == 0, after
    (worker,) = after.json["workers"]
    assert worker["ok"] and testbed.pid("stubborn") == worker["new_pid"]
