"""`pshctl sandbox up --supervisor systemd`: a real `systemd --user` (and journald) per
container, and a sandbox that mixes runit and systemd containers.

Root only (a user manager needs a delegated cgroup and a private mount namespace here),
as the suite runs in CI; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pshctl.sandbox import manager, registry, servers
from pshctl.sandbox.cgroups import Cgroup
from pshctl.sandbox.state import read_state
from tests.helpers import REPO, CliRunner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="a systemd user manager needs root here"),
]


@pytest.fixture
def started() -> Iterator[list[Path]]:
    apps: list[Path] = []
    yield apps
    for app in apps:
        state = read_state(registry.sandbox_dir(app, "shop") / "state.json")
        manager.down(app, "shop")
        if state is not None:  # nothing may outlive the test
            for proc in state.processes():
                if proc.alive():
                    servers.terminate(proc.pid, sig=signal.SIGKILL)
            for container in state.containers:
                if container.token:
                    Cgroup(f"pshctl-{container.token}.slice").kill()
                    Cgroup(f"pshctl-{container.token}.slice").remove()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    dest = tmp_path / "shop"
    shutil.copytree(REPO / "examples", dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _up(cli: CliRunner, app: Path, started: list[Path], *args: str) -> dict[str, Any]:
    started.append(app)
    result = cli("sandbox", "up", str(app), "--json", *args)
    assert result.exit_code == 0, result
    return result.json


def _until(check: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _cgroup_of(pid: int) -> str:
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return next(line.split(":", 2)[2] for line in lines if line.startswith("0::"))


def _mount_ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/mnt")


def test_each_container_runs_under_its_own_user_manager(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    up = _up(cli, shop, started, "--supervisor", "systemd")
    containers = up["containers"]
    assert [c["supervisor"] for c in containers] == ["systemd"] * 3
    assert up["runsvdir_pid"] is None  # no runit at all
    managers = [c["manager_pid"] for c in containers]
    assert len(set(managers)) == 3 and all(servers.pid_alive(p) for p in managers)
    state = read_state(registry.sandbox_dir(shop, "shop") / "state.json")
    assert state is not None
    for container, record in zip(containers, state.containers, strict=True):
        pid = container["service"]["pid"]
        assert container["service"]["state"] == "run" and pid
        # The service runs in its manager's cgroup and mount namespace, not the host's.
        cgroup = f"/pshctl-{record.token}.slice/user@0.service/app.slice/app.service"
        assert _cgroup_of(pid) == cgroup
        assert _mount_ns(pid) == _mount_ns(container["manager_pid"]) != _mount_ns(os.getpid())

    # Inside a container: its own manager, its own /run, its journal.
    queue = cli("-e", "sandbox", "ssh", "--worker=queue", "--", "sh", "-c",
                "systemctl --user is-active app; systemctl --user show -p MainPID --value app;"
                " findmnt -n -o FSTYPE /run", cwd=shop)
    assert queue.exit_code == 0, queue
    active, main_pid, fstype = queue.stdout.split()
    assert (active, fstype) == ("active", "tmpfs")
    assert int(main_pid) == containers[1]["service"]["pid"]
    _until(lambda: "started in" in cli("-e", "sandbox", "logs", "queue", cwd=shop).stdout,
           "the worker's output in its log")

    status = cli("-e", "sandbox", "status", "--json", cwd=shop)
    assert status.exit_code == 0, status
    assert [w["supervisor"] for w in status.json["workers"]] == ["systemd", "systemd"]
    assert all(w["restarts"] == 0 for w in status.json["workers"])

    restart = cli("-e", "sandbox", "restart", "--all", "--verify", "1", "--json", cwd=shop)
    assert restart.exit_code == 0, restart
    assert all(w["ok"] and w["stop"] == "exited" for w in restart.json["workers"])

    assert all(_private_runs(pid) for pid in managers)  # each manager's own /run
    namespaces = {_mount_ns(pid) for pid in managers}
    down = cli("sandbox", "down", str(shop), "--json")
    assert down.exit_code == 0, down
    left = [p for p in [*managers, *(c["service"]["pid"] for c in containers)]
            if servers.pid_alive(p)]
    assert not left
    for record in state.containers:
        assert not Cgroup(f"pshctl-{record.token}.slice").exists()
    # No process is left in those mount namespaces: they, and their mounts, are gone.
    assert not [p.name for p in Path("/proc").iterdir() if p.name.isdigit()
                and _mount_ns_or_none(int(p.name)) in namespaces]


def _mount_ns_or_none(pid: int) -> str | None:
    try:
        return _mount_ns(pid)
    except OSError:
        return None


def _private_runs(pid: int) -> bool:
    """The process sees a sandbox manager's tmpfs on /run (source `pshctl-run`)."""
    try:
        return " pshctl-run " in Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return False


def test_a_sandbox_mixes_runit_and_systemd_per_worker(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    (shop / ".pshctl.yaml").write_text(json.dumps(
        {"environments": {"sandbox": {"workers": {"mail": {"supervisor": "systemd"}}}}}))
    up = _up(cli, shop, started)
    assert {c["name"]: c["supervisor"] for c in up["containers"]} == {
        "shop": "runit", "queue": "runit", "mail": "systemd"}
    status = cli("-e", "sandbox", "status", "--json", cwd=shop)
    assert status.exit_code == 0, status
    assert {w["name"]: w["supervisor"] for w in status.json["workers"]} == {
        "queue": "runit", "mail": "systemd"}
    before = {w["name"]: w["pid"] for w in status.json["workers"]}
    restart = cli("-e", "sandbox", "restart", "--all", "--verify", "1", "--json", cwd=shop)
    assert restart.exit_code == 0, restart
    for worker in restart.json["workers"]:
        assert worker["ok"] and worker["new_pid"] not in (None, before[worker["name"]])
    stop = cli("-e", "sandbox", "stop", "queue", "mail", "--grace", "5", "--json", cwd=shop)
    assert [w["stop"] for w in stop.json["workers"]] == ["exited", "exited"], stop
    wait = cli("-e", "sandbox", "wait", "queue", "mail", "--timeout", "2", "--json", cwd=shop)
    assert wait.exit_code == 5  # both down: the wait times out
    start = cli("-e", "sandbox", "start", "queue", "mail", "--verify", "1", cwd=shop)
    assert start.exit_code == 0, start


CRASHING_APP = """name: shop
type: 'python:3.11'
disk: 256
workers:
    loop:
        commands:
            start: 'echo starting; sleep 0.2; exit 3'
"""


def test_status_of_a_crash_looping_systemd_worker_shows_its_restarts(
    cli: CliRunner, tmp_path: Path, started: list[Path]
) -> None:
    app = tmp_path / "shop"
    app.mkdir()
    (app / ".platform.app.yaml").write_text(CRASHING_APP)
    _up(cli, app, started, "--supervisor", "systemd")

    def restarts() -> int:
        status = cli("-e", "sandbox", "status", "--json", cwd=app)
        return status.json["workers"][0]["restarts"] or 0

    _until(lambda: restarts() >= 2, "systemd to restart it twice")
    status = cli("-e", "sandbox", "status", cwd=app)
    row = next(line for line in status.stdout.splitlines() if line.startswith("loop"))
    assert "crash-looping" in row or "starting" in row, status
    document = cli("-e", "sandbox", "status", "--json", cwd=app).json["workers"][0]
    assert document["supervisor"] == "systemd" and document["restarts"] >= 2
    restart = cli("-e", "sandbox", "restart", "loop", "--grace", "1", "--verify", "1",
                  "--json", cwd=app)
    assert restart.exit_code == 1 and restart.json["workers"][0]["state"] == "crash-looping"


def test_an_ordinary_user_is_told_systemd_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(manager.SandboxUnavailable, match="needs root") as caught:
        manager.require_programs(systemd=True)
    assert "--supervisor runit" in (caught.value.hint or "")
