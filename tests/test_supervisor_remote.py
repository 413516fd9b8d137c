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
