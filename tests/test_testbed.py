"""The test bed itself: real sshd and runit, reachable with OpenSSH, gone after stop."""

from __future__ import annotations

import pwd
import subprocess
from pathlib import Path

import pytest

from pshctl.sandbox.servers import pid_alive
from tests.testbed import PROMPT, TestBed

pytestmark = pytest.mark.integration


def test_services_run_under_runit_and_answer_over_openssh(tmp_path: Path) -> None:
    bed = TestBed.start(tmp_path / "bed")
    try:
        bed.add_services({"one": PROMPT, "two": "echo hello\nexec sleep 100000\n"})
        pid = bed.pid("one")
        assert pid and pid_alive(pid)
        out = subprocess.run(
            bed.ssh_argv("sv", "status", str(bed.service_root / "two")),
            capture_output=True, text=True, timeout=30, check=False,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("run: ")
        assert "hello" in bed.log_file("two").read_text()
        assert bed.sshd.accepted_logins() == 1
        pids = [bed.sshd.pid, *(r.pid for r in bed.runits), pid]
    finally:
        bed.stop()
    assert not any(pid_alive(p) for p in pids)


def test_project_targets_the_bed(testbed: TestBed, tmp_path: Path) -> None:
    root = testbed.project(["queue", "mail"], tmp_path / "app", overrides={"mail": {"port": 1}})
    assert "queue:" in (root / ".platform.app.yaml").read_text()
    config = (root / ".pshctl.yaml").read_text()
    assert f'"port": {testbed.port}' in config and '"port": 1' in config


def test_remote_shells_read_the_beds_dot_files_not_the_machines(testbed: TestBed) -> None:
    (testbed.home / ".bashrc").write_text("echo bed-bashrc >&2\n")
    out = subprocess.run(testbed.ssh_argv("echo $HOME"), capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.stdout == f"{testbed.home}\n"
    # bash, started by sshd, reads ~/.bashrc: the bed's own one, so never the machine's.
    if pwd.getpwnam(testbed.user).pw_shell.endswith("/bash"):
        assert out.stderr == "bed-bashrc\n"
