"""The runit driver against a real sshd whose remote has no `sv` on its PATH."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import CliRunner
from tests.testbed import TestBed


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


def test_wait_on_a_worker_whose_service_does_not_exist_fails_at_once(
    testbed: TestBed, tmp_path: Path, cli: CliRunner
) -> None:
    testbed.add_service("queue")
    root = testbed.project(["queue", "ghost"], tmp_path / "app")  # no runit service "ghost"
    import time

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
