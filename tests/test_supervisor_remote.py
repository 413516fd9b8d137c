"""Supervisors against a real sshd: a remote without `sv`, a missing service, a worker
still stopping (the last two on runit and on systemd)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import CliRunner, wait_until
from tests.testbed import SUPERVISORS, TestBed

pytestmark = pytest.mark.integration


def test_a_remote_without_sv_is_named_plainly(tmp_path: Path, cli: CliRunner) -> None:
    bed = TestBed.start(tmp_path / "bed", remote_env={"PATH": "/nonexistent"})
    try:
        bed.add_service("queue")
        root = bed.project(["queue"], tmp_path / "app")
        result = cli("-e", "test", "status", "--json", cwd=root)
    finally:
        bed.stop()
    assert result.exit_code == 1, result
    (worker,) = result.json["workers"]
    assert worker["state"] == "unsupervised"
    assert "`sv` is not installed on the remote" in worker["error"]
    assert "command not found" not in worker["error"]


@pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)
def test_wait_on_a_worker_whose_service_does_not_exist_fails_at_once(
    testbed: TestBed, tmp_path: Path, cli: CliRunner
) -> None:
    testbed.add_service("queue")
    root = testbed.project(["queue", "ghost"], tmp_path / "app")  # no runit service "ghost"
    began = time.monotonic()
    result = cli("-e", "test", "wait", "queue", "ghost", "--timeout", "30", "--stable", "0",
                 cwd=root)
    assert time.monotonic() - began < 10  # not the whole --timeout
    assert result.exit_code == 1, result
    assert "cannot come up by waiting: ghost" in result.stderr


def test_all_with_worker_names_is_a_usage_error(testbed: TestBed, tmp_path: Path,
                                                cli: CliRunner) -> None:
    root = testbed.project(["queue", "mail"], tmp_path / "app")
    result = cli("-e", "test", "restart", "--all", "mail", cwd=root)
    assert result.exit_code == 2, result
    assert "--all acts on every worker" in result.stderr


# Drains after SIGTERM until the test creates `release` in its directory: the worker is
# still stopping whenever pshctl looks, however loaded the machine.
DRAINS_UNTIL_RELEASED = (
    "trap 'kill -KILL $child 2>/dev/null; "
    "while [ ! -e release ]; do sleep 0.05; done; exit 0' TERM\n"
    "(trap '' TERM; exec sleep 100000) &\nchild=$!\necho ready\nwait $child\n"
)


@pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)
def test_start_of_a_worker_still_stopping_gives_a_fresh_process(
    testbed: TestBed, tmp_path: Path
) -> None:
    """A start on a worker still draining after SIGTERM (`sv start` would answer with
    the dying pid): pshctl finishes that stop first, then starts and verifies a new
    process."""
    testbed.add_service("w1", DRAINS_UNTIL_RELEASED)
    root = testbed.project(["w1"], tmp_path / "app")
    wait_until(lambda: "ready" in testbed.log_file("w1").read_text(), "the TERM trap")
    dying = testbed.pid("w1")
    testbed.stop_service("w1", wait=False)  # TERM sent; it drains until released
    # The stop request returns before the supervisor has acted on it: wait until it has.
    wait_until(lambda: testbed.got_term("w1"), "the supervisor to take the stop")
    start = subprocess.Popen(
        [sys.executable, "-m", "pshctl", "-e", "test", "start", "w1", "--verify", "1",
         "--json"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert start.stderr is not None
        for line in start.stderr:  # one line per step when not on a terminal
            if line.startswith("w1: stopping"):
                break  # pshctl found it still stopping and finishes that stop
        (testbed.log_dir("w1") / "release").touch()
        out, err = start.communicate(timeout=60)
    finally:
        start.kill()
    assert start.returncode == 0, (out, err)
    (worker,) = json.loads(out)["workers"]
    assert worker["ok"] and worker["stop"] == "exited"
    assert worker["new_pid"] not in (None, dying)
    assert testbed.pid("w1") == worker["new_pid"]
