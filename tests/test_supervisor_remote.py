"""Supervisors against a real sshd: a remote without `sv`, a missing service, a worker
still stopping (the last two on runit and on systemd)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CliRunner
from tests.testbed import SUPERVISORS, TestBed, slow_stop

pytestmark = pytest.mark.integration


def test_a_remote_without_sv_is_named_plainly(tmp_path: Path, cli: CliRunner) -> None:
    bed = TestBed.start(tmp_path / "bed", sshd_config="SetEnv PATH=/nonexistent\n")
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


SLOW_TO_STOP = slow_stop(4, ready=True)


def _until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)
def test_start_of_a_worker_still_stopping_gives_a_fresh_process(
    testbed: TestBed, tmp_path: Path, cli: CliRunner
) -> None:
    """A start on a worker still draining after SIGTERM (`sv start` would answer with
    the dying pid): pshctl finishes that stop first, then starts and verifies a new
    process."""
    testbed.add_service("w1", SLOW_TO_STOP)
    root = testbed.project(["w1"], tmp_path / "app")
    _until(lambda: "ready" in testbed.log_file("w1").read_text(), "the TERM trap")
    dying = testbed.pid("w1")
    testbed.stop_service("w1", wait=False)  # TERM sent; the worker takes 4 s to exit
    # The stop request returns before the supervisor has acted on it: wait until it has.
    _until(lambda: testbed.got_term("w1"), "the supervisor to take the stop")
    result = cli("-e", "test", "start", "w1", "--verify", "1", "--json", cwd=root)
    assert result.exit_code == 0, result
    (worker,) = result.json["workers"]
    assert worker["ok"] and worker["stop"] == "exited"
    assert worker["new_pid"] not in (None, dying)
    assert testbed.pid("w1") == worker["new_pid"]
