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
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CliRunner, wait_until
from tests.testbed import IGNORES_TERM, SUPERVISORS, TestBed

ON_BOTH = pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)


def _spawn(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pshctl", "restart", "stubborn", "-e",
                             "test", "--json", *args], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})


def _mid_stop(testbed: TestBed) -> None:
    wait_until(lambda: testbed.got_term("stubborn"), "a run to be stopping the worker",
               timeout=30)


@pytest.mark.integration
@ON_BOTH
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


@pytest.mark.integration
@ON_BOTH
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


def _path_without(tmp_path: Path, missing: str) -> str:
    """A remote PATH with everything of /usr/bin and /bin but ``missing``."""
    bin_dir = tmp_path / f"no-{missing}"
    bin_dir.mkdir()
    for directory in (Path("/usr/bin"), Path("/bin"), Path("/usr/sbin"), Path("/sbin")):
        for program in directory.iterdir():
            link = bin_dir / program.name
            if program.name != missing and not link.exists():
                link.symlink_to(program)
    return str(bin_dir)


@pytest.mark.integration
@pytest.mark.parametrize("missing", ["flock", "sh"])
def test_a_container_without_flock_acts_without_a_lease(tmp_path: Path, cli: CliRunner,
                                                        missing: str) -> None:
    """The action goes on and says so; without `sh` its own error shows, not the lease's."""
    path = _path_without(tmp_path, missing) if missing == "flock" else "/nonexistent"
    bed = TestBed.start(tmp_path / "bed", remote_env={"PATH": path})
    try:
        bed.add_service("queue")
        root = bed.project(["queue"], tmp_path / "app",
                           overrides={"queue": {"supervisor": "runit"}})
        result = cli("-e", "test", "restart", "queue", "--json", "--verify", "0", cwd=root)
        assert f"queue: unleased: no `{missing}` on the container: acting without a lease" \
            in result.stderr, result
        (worker,) = result.json["workers"]
        if missing == "flock":
            assert result.exit_code == 0 and worker["new_pid"] == bed.pid("queue"), result
        else:
            assert result.exit_code == 1 and "`sv` is not installed" in worker["error"], result
    finally:
        bed.stop()


@pytest.mark.parametrize("service", ["app", "/srv/service/queue", "../../etc/passwd",
                                     "-rf x", "a\nb", ".hidden", "x" * 300, ""])
def test_lock_names_are_plain_file_names(service: str) -> None:
    from pshctl.lease import lock_name

    name = lock_name(service)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}-[0-9a-f]{12}\.lock", name), name
    assert lock_name(service + "x") != name


def test_containers_sharing_a_tmp_get_their_own_leases() -> None:
    """The sandbox's containers share /tmp and all run `app.service`: the lease's scope
    (worker, instance, port) keeps them apart, the same for every run of one worker."""
    from pshctl.lease import lock_name
    from pshctl.lifecycle import lease_scope
    from pshctl.targets import Target

    queue, mail = (Target(name=n, worker=n, host="h", port=2222, service_name="app")
                   for n in ("queue", "mail"))
    assert lock_name("app", lease_scope(queue)) != lock_name("app", lease_scope(mail))
    assert lock_name("app", lease_scope(queue)) == lock_name("app", lease_scope(
        Target(name="queue", worker="queue", host="h", port=2222, service_name="app")))
