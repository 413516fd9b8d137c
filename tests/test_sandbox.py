"""`pshctl sandbox` with real processes: sshd per container, runsvdir, the example app.

Each test starts its own sandbox(es) on a copy of ``examples/`` under the isolated
state directory and stops them by PID at the end, also when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pshctl.sandbox import manager, registry, servers
from pshctl.sandbox.state import read_state
from tests.helpers import REPO, CliResult, CliRunner, run_pshctl, wait_until

pytestmark = pytest.mark.integration


def _copy_example(dest: Path) -> Path:
    shutil.copytree(REPO / "examples", dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture
def started() -> Iterator[list[Path]]:
    """App dirs whose sandbox a test started; each is brought down afterwards."""
    apps: list[Path] = []
    yield apps
    for app in apps:
        state_file = registry.sandbox_dir(app, "shop") / "state.json"
        state = read_state(state_file)
        manager.down(app, "shop")
        if state is not None:  # belt and braces: nothing may outlive the test
            for proc in state.processes():
                if proc.alive():
                    servers.terminate(proc.pid, sig=signal.SIGKILL)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return _copy_example(tmp_path / "shop")


def _up(cli: CliRunner, app: Path, started: list[Path]) -> dict[str, Any]:
    started.append(app)
    result = cli("sandbox", "up", str(app), "--json")
    assert result.exit_code == 0, result
    return result.json


def _entry(app: Path) -> dict[str, Any]:
    entry = registry.read_registration(app, "shop")
    assert entry is not None
    return entry


def ssh(entry: dict[str, Any], worker: str | None, command: str) -> subprocess.CompletedProcess:
    """OpenSSH's client with what the registration says, and nothing else."""
    port = entry["workers"][worker]["port"] if worker else entry["port"]
    argv = [
        servers.find_program("ssh") or "ssh", "-F", "none", "-q",
        "-i", entry["identity_file"], "-p", str(port),
        "-o", f"UserKnownHostsFile={entry['known_hosts']}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        f"{entry['user']}@{entry['host']}", command,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def _pids(status: dict[str, Any]) -> list[int]:
    """Every PID the sandbox runs: sshds, runsvdir, its runsv, the services, the emulated
    control plane."""
    pids = [c["sshd_pid"] for c in status["containers"]] + [status["runsvdir_pid"]]
    pids += [status["controlplane_pid"]]
    pids += servers.children_of(status["runsvdir_pid"])
    pids += [c["service"]["pid"] for c in status["containers"] if c["service"]["pid"]]
    return pids


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    wait_until(predicate, "the sandbox", timeout=timeout)


# --- life cycle ----------------------------------------------------------------------


def test_up_twice_then_down_leaves_no_process(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    first = _up(cli, shop, started)
    assert first["state"] == "running" and not first["already_running"]
    assert [c["name"] for c in first["containers"]] == ["shop", "queue", "mail"]
    assert all(c["service"]["state"] == "run" for c in first["containers"])
    pids = _pids(first)
    assert len(pids) == 3 + 1 + 1 + 3 + 3
    assert all(servers.pid_alive(p) for p in pids)

    second = _up(cli, shop, started)
    assert second["already_running"] and not second["outdated"]
    assert _pids(second)[:5] == pids[:5]  # same sshds, runsvdir, control plane: nothing new

    os.utime(shop / ".platform.app.yaml")  # an edit: `up` says a down + up deploys it
    third = cli("sandbox", "up", str(shop))
    assert third.exit_code == 0 and "the app definition changed" in third.stderr

    status = cli("sandbox", "status", str(shop), "--json")
    assert status.exit_code == 0 and status.json["state"] == "running"

    down = cli("sandbox", "down", str(shop), "--json")
    assert down.exit_code == 0, down
    assert down.json["was"] == "running"
    _wait_for(lambda: not any(servers.pid_alive(p) for p in pids), timeout=5)
    assert registry.read_registration(shop, "shop") is None

    after = cli("sandbox", "status", str(shop))
    assert after.exit_code == 1 and "no sandbox of shop" in after.stdout
    again = cli("sandbox", "down", str(shop))
    assert again.exit_code == 0 and "no sandbox of shop was running" in again.stdout


def test_an_included_start_command_runs_and_its_edit_is_noticed(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    definition = shop / ".platform.app.yaml"
    text = definition.read_text()
    plain = 'start: "python3 workers/mail_worker.py"'
    assert plain in text
    definition.write_text(
        text.replace(plain, "start: !include {type: string, path: workers/mail.sh}")
    )
    (shop / "workers" / "mail.sh").write_text("exec python3 workers/mail_worker.py\n")
    up = _up(cli, shop, started)
    mail = next(c for c in up["containers"] if c["name"] == "mail")
    assert mail["service"]["state"] == "run", up

    later = time.time() + 5  # an edit of the included file only
    os.utime(shop / "workers" / "mail.sh", (later, later))
    again = cli("sandbox", "up", str(shop))
    assert again.exit_code == 0 and "the app definition changed" in again.stderr, again


def test_stale_sandbox_is_detected_and_replaced(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    first = _up(cli, shop, started)
    ports = [c["ssh_port"] for c in first["containers"]]
    for pid in reversed(_pids(first)):  # as after a reboot: every process gone at once
        servers.terminate(pid, sig=signal.SIGKILL)

    stale = cli("sandbox", "status", str(shop), "--json")
    assert stale.exit_code == 1 and stale.json["state"] == "stale"

    second = _up(cli, shop, started)
    assert second["replaced"] == "stale" and second["state"] == "running"
    assert [c["ssh_port"] for c in second["containers"]] == ports  # reused: still free
    assert ssh(_entry(shop), "queue", "true").returncode == 0  # same host keys


def test_two_apps_run_side_by_side(cli: CliRunner, tmp_path: Path, started: list[Path]) -> None:
    one = _up(cli, _copy_example(tmp_path / "one"), started)
    two = _up(cli, _copy_example(tmp_path / "two"), started)
    assert one["state_dir"] != two["state_dir"]
    ports = {c["ssh_port"] for c in one["containers"]} | {
        c["ssh_port"] for c in two["containers"]
    }
    assert len(ports) == 6
    listed = cli("sandbox", "status", "--all", "--json").json
    assert sorted(s["project_root"] for s in listed) == sorted(
        str((tmp_path / n).resolve()) for n in ("one", "two")
    )


def test_missing_programs_give_the_install_command(
    cli: CliRunner, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = servers.find_program
    monkeypatch.setattr(
        servers, "find_program", lambda name: None if name in {"runsv", "sv"} else real(name)
    )
    result = cli("sandbox", "up", str(shop))
    assert result.exit_code == 3
    assert "missing system program(s): runsv, sv" in result.stderr
    assert "apt-get install -y runit" in result.stderr


def test_a_failed_up_leaves_nothing_behind(
    cli: CliRunner, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = manager._start_sshd
    pids: list[int] = []

    def fail_on_second(*args: Any, **kwargs: Any) -> servers.SshServer:
        if pids:
            raise servers.PshctlError("sshd exited at start (simulated)")
        server = real(*args, **kwargs)
        pids.append(server.pid)
        return server

    monkeypatch.setattr(manager, "_start_sshd", fail_on_second)
    result = cli("sandbox", "up", str(shop))
    assert result.exit_code == 1 and "simulated" in result.stderr
    assert pids and not servers.pid_alive(pids[0])
    assert not (registry.sandbox_dir(shop, "shop") / "state.json").exists()
    assert registry.read_registration(shop, "shop") is None


def test_no_app_is_a_config_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("sandbox", "up", str(tmp_path))
    assert result.exit_code == 3 and "no app definition here" in result.stderr
    result = cli("sandbox", "down", str(tmp_path))
    assert result.exit_code == 3 and "`pshctl sandbox down examples`" in result.stderr


def test_down_needs_no_readable_definition(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    pids = _pids(_up(cli, shop, started))
    (shop / ".platform.app.yaml").write_text("name: shop\nworkers: [broken\n")
    status = cli("sandbox", "status", str(shop), "--json")
    assert (status.exit_code, status.json["state"]) == (0, "running"), status
    unknown = cli("sandbox", "status", str(shop), "-A", "nope")
    assert unknown.exit_code == 3, unknown  # a name still has to exist
    shutil.rmtree(shop)  # even a deleted checkout can be brought down
    down = cli("sandbox", "down", str(shop), "--json")
    assert (down.exit_code, down.json["was"]) == (0, "running"), down
    started.remove(shop)  # down, and its directory is gone: nothing left to tear down
    _wait_for(lambda: not any(servers.pid_alive(p) for p in pids), timeout=5)


def test_suggested_commands_name_the_chosen_app(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "applications.yaml").write_text(
        "- name: api\n  workers: {q: {commands: {start: sleep 60}}}\n"
        "- name: front\n  workers: {m: {commands: {start: sleep 60}}}\n"
    )
    result = cli("-A", "api", "sandbox", "status", str(tmp_path))
    assert result.exit_code == 1
    assert f"start one: pshctl -A api sandbox up {tmp_path}" in result.stdout


# --- what a container is -------------------------------------------------------------


def _login_env(entry: dict[str, Any], worker: str | None) -> tuple[str, dict[str, str]]:
    proc = ssh(entry, worker, "pwd; env -0")
    assert proc.returncode == 0, proc.stderr
    cwd, _, rest = proc.stdout.partition("\n")
    return cwd, dict(i.split("=", 1) for i in rest.split("\0") if "=" in i)


def _service_env(status: dict[str, Any], name: str) -> tuple[str, dict[str, str]]:
    container = next(c for c in status["containers"] if c["name"] == name)
    pid = container["service"]["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    env = dict(i.split("=", 1) for i in raw.split("\0") if "=" in i)
    return os.readlink(f"/proc/{pid}/cwd"), env


def test_each_container_gets_its_variables_mounts_and_directory(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    status = _up(cli, shop, started)
    entry = _entry(shop)
    common = {
        "PLATFORM_APPLICATION_NAME": "shop",
        "PLATFORM_BRANCH": "sandbox",
        "PLATFORM_ENVIRONMENT": "sandbox",
    }
    expected = {
        None: {**common, "APP_ROLE": "web", "JOBS_DIR": "var/jobs"},
        "queue": {**common, "APP_ROLE": "worker", "JOBS_DIR": "var/jobs", "JOB_SECONDS": "3"},
        "mail": {**common, "APP_ROLE": "worker", "MAIL_INTERVAL": "10"},
    }
    for worker, want in expected.items():
        name = worker or "shop"
        for cwd, env in (_login_env(entry, worker), _service_env(status, name)):
            assert {k: env.get(k) for k in want} == want, name
            assert cwd == env["PLATFORM_APP_DIR"]
            assert Path(cwd).name == "app" and name in cwd
        if worker == "mail":
            assert "JOBS_DIR" not in env and "PORT" not in env  # overridden whole
        if worker is None:
            assert env["PORT"] and status["containers"][0]["web_url"].endswith(f":{env['PORT']}/")

    # var/jobs is network storage shared by web and queue; mail has no mount at all.
    put = ssh(entry, None, "echo hello > var/jobs/note && ls var/jobs")
    assert put.returncode == 0, put.stderr
    assert ssh(entry, "queue", "cat var/jobs/note").stdout == "hello\n"
    assert ssh(entry, "mail", "test -e var/jobs").returncode != 0
    if os.geteuid() != 0:  # root writes anywhere; an ordinary user only in mounts
        assert ssh(entry, "queue", "touch not-a-mount").returncode != 0

    # runit in each container: `sv status app` through SVDIR, and the service's log.
    for worker in (None, "queue", "mail"):
        assert ssh(entry, worker, "sv status app").stdout.startswith("run: app: (pid ")


def test_queue_worker_finishes_its_job_on_sigterm(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    _up(cli, shop, started)
    entry = _entry(shop)
    log = Path(entry["workers"]["queue"]["log_dir"]) / "app.log"
    queued = ssh(entry, None, "python3 enqueue.py invoice")
    assert queued.returncode == 0 and queued.stdout.startswith("queued "), queued.stderr
    job = queued.stdout.split()[1]
    _wait_for(lambda: f"job {job} (invoice): started" in log.read_text())

    restart = ssh(entry, "queue", "sv restart app")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    # `sv restart` may answer before the worker has finished its job and said so.
    _wait_for(lambda: "stopped cleanly" in log.read_text())
    text = log.read_text()
    assert text.index("got SIGTERM") < text.index(f"job {job}: done") < text.index(
        "stopped cleanly"
    )
    _wait_for(lambda: log.read_text().count("started in ") == 2)


def test_sv_stop_kills_a_worker_that_ignores_sigterm_after_15_s(
    cli: CliRunner, tmp_path: Path, started: list[Path]
) -> None:
    app = tmp_path / "stubborn"
    app.mkdir()
    (app / ".platform.app.yaml").write_text(
        "name: shop\nworkers:\n  deaf:\n    commands:\n"
        "      start: \"trap 'echo ignoring TERM' TERM; while :; do sleep 0.1; done\"\n"
    )
    _up(cli, app, started)
    entry = _entry(app)
    began = time.monotonic()
    stop = ssh(entry, "deaf", "sv stop app; sv status app")
    took = time.monotonic() - began
    assert stop.stdout.startswith("ok: down: app"), stop.stdout + stop.stderr
    assert 14 <= took < 20
    assert "ignoring TERM" in (Path(entry["workers"]["deaf"]["log_dir"]) / "app.log").read_text()


# --- the pshctl commands against the sandbox -----------------------------------------


def _pshctl(app: Path, *args: str) -> CliResult:
    return run_pshctl("-e", "sandbox", *args, cwd=app, timeout=90)


def test_pshctl_commands_work_on_the_sandbox(
    cli: CliRunner, shop: Path, started: list[Path]
) -> None:
    status = _up(cli, shop, started)
    app_dirs = {c["name"]: c["app_dir"] for c in status["containers"]}

    result = _pshctl(shop, "status", "--json")
    assert result.exit_code == 0, result
    assert "queue" in result.stdout and "mail" in result.stdout

    result = _pshctl(shop, "ssh", "--worker=queue", "--", "pwd")
    assert (result.exit_code, result.stdout) == (0, app_dirs["queue"] + "\n"), result

    old_pid = next(c for c in status["containers"] if c["name"] == "mail")["service"]["pid"]
    result = _pshctl(shop, "restart", "mail")
    assert result.exit_code == 0, result
    mail = manager.status(shop, "shop").containers[2]
    assert mail.name == "mail" and mail.service.pid not in (None, old_pid)

    _wait_for(lambda: "started in" in Path(status["containers"][1]["log_file"]).read_text())
    result = _pshctl(shop, "logs", "-n", "5", "queue")
    assert result.exit_code == 0, result
    assert "queue[" in result.stdout and 0 < len(result.stdout.splitlines()) <= 5


def test_sandbox_json_is_one_document(cli: CliRunner, shop: Path, started: list[Path]) -> None:
    _up(cli, shop, started)
    result = cli("sandbox", "status", str(shop), "--json")
    assert json.loads(result.stdout)["containers"][1]["name"] == "queue"
