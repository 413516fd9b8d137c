"""A scaled worker in the sandbox: each instance its own container (own sshd, own
supervised process, own `instance` and `tmp` mounts, shared `storage`), on runit and on
systemd, and every command reaching every instance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pshctl.sandbox import manager, registry, servers
from pshctl.sandbox.state import read_state
from tests.helpers import CliRunner

pytestmark = pytest.mark.integration

APP = """\
applications:
  farm:
    type: "python:3.11"
    source:
      root: "/"
    mounts:
      "var/shared": {source: storage, source_path: shared}
      "var/own": {source: instance, source_path: own}
      "var/scratch": {source: tmp, source_path: scratch}
    workers:
      queue:
        commands:
          start: "sh worker.sh"
      mail:
        commands:
          start: "exec sleep 100000"
"""
# Each instance says where it runs, then, once told to (a file in the shared mount),
# writes LINES numbered lines to its log.
WORKER = """\
echo "started in $PLATFORM_APP_DIR"
echo "$PLATFORM_APP_DIR" > var/own/whoami
while [ ! -e var/shared/go ]; do sleep 0.1; done
i=0
while [ $i -lt 200 ]; do echo "line $i"; i=$((i + 1)); done
exec sleep 100000
"""
LINES = 200


def _supervisors() -> list[Any]:
    root_only = pytest.mark.skipif(os.geteuid() != 0, reason="a systemd user manager needs root")
    return ["runit", pytest.param("systemd", marks=root_only)]


@pytest.fixture(params=_supervisors())
def farm(request: pytest.FixtureRequest, tmp_path: Path, cli: CliRunner) -> Iterator[Path]:
    """The app's sandbox, up with three instances of `queue`; brought down afterwards."""
    root = tmp_path / "farm"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(APP)
    (root / "worker.sh").write_text(WORKER)
    up = cli("sandbox", "up", str(root), "--json", "--instances", "queue=3",
             "--supervisor", request.param)
    try:
        assert up.exit_code == 0, up
        yield root
    finally:
        state = read_state(registry.sandbox_dir(root, "farm") / "state.json")
        manager.down(root, "farm")
        for proc in state.processes() if state else []:
            assert not proc.alive()
            servers.terminate(proc.pid, sig=signal.SIGKILL)


def _until(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def run(cli: CliRunner, root: Path, *args: str) -> Any:
    return cli("-e", "sandbox", *args, cwd=root)


def test_each_instance_is_its_own_container(farm: Path, cli: CliRunner) -> None:
    status = cli("sandbox", "status", str(farm), "--json").json
    containers = {c["name"]: c for c in status["containers"]}
    assert sorted(containers) == ["mail", "queue.0", "queue.1", "queue.2"]
    queue = [containers[f"queue.{n}"] for n in range(3)]
    assert len({c["ssh_port"] for c in queue}) == 3
    assert len({c["sshd_pid"] for c in queue}) == 3
    assert len({c["service"]["pid"] for c in queue}) == 3
    assert all(c["service"]["state"] == "run" for c in queue)

    entry = registry.read_registration(farm, "farm")
    assert entry is not None
    assert [i["port"] for i in entry["workers"]["queue"]["instances"]] == [
        c["ssh_port"] for c in queue]

    # storage is shared, instance and tmp mounts are each instance's own.
    note = run(cli, farm, "ssh", "--worker", "queue", "-I", "1", "--",
               "sh", "-c", "echo one > var/shared/note; echo mine > var/own/mine; "
               "echo t > var/scratch/t")
    assert note.exit_code == 0, note
    for n in (0, 2):
        seen = run(cli, farm, "ssh", "--worker", "queue", "-I", str(n), "--", "sh", "-c",
                   "cat var/shared/note; test -e var/own/mine || echo no-own; "
                   "test -e var/scratch/t || echo no-scratch")
        assert seen.stdout.split() == ["one", "no-own", "no-scratch"], seen


def test_status_restart_and_instance_choice(farm: Path, cli: CliRunner) -> None:
    status = run(cli, farm, "status", "--json")
    assert status.exit_code == 0, status
    rows = status.json["workers"]
    assert [(r["name"], r["worker"], r["instance"]) for r in rows] == [
        ("queue.0", "queue", 0), ("queue.1", "queue", 1), ("queue.2", "queue", 2),
        ("mail", "mail", 0)]
    assert status.json["summary"][0] == {"worker": "queue", "instances": 3, "up": 3}

    before = [r["pid"] for r in rows[:3]]
    restarted = run(cli, farm, "restart", "queue", "--rolling", "--grace", "5",
                    "--verify", "1", "--json")
    assert restarted.exit_code == 0, restarted
    assert [r["old_pid"] for r in restarted.json["workers"]] == before
    after = [r["new_pid"] for r in restarted.json["workers"]]
    assert all(a and a != b for a, b in zip(after, before, strict=True))
    again = run(cli, farm, "status", "queue", "--json").json["workers"]
    assert [r["pid"] for r in again] == after

    two = run(cli, farm, "ssh", "--worker", "queue", "-I", "2", "--", "cat", "var/own/whoami")
    assert two.exit_code == 0 and two.stdout.strip().endswith("/workers/queue.2/app"), two
    missing = run(cli, farm, "ssh", "--worker", "queue", "-I", "5", "--", "true")
    assert missing.exit_code == 3
    assert "instance 5 of queue does not exist; available instances: 0, 1, 2" in missing.stderr


def test_ssh_opens_instance_0_and_all_reaches_every_instance(farm: Path,
                                                             cli: CliRunner) -> None:
    one = run(cli, farm, "ssh", "--worker", "queue", "--", "cat", "var/own/whoami")
    assert one.exit_code == 0, one
    assert one.stdout.strip().endswith("/workers/queue/app")  # instance 0's directory
    assert "queue has 3 instances (0, 1, 2); this is instance 0 (-I N for another)" in \
        one.stderr

    every = run(cli, farm, "ssh", "--all", "--", "sh", "-c", "echo $PLATFORM_APP_DIR")
    assert every.exit_code == 0, every
    lines = {name.strip(): text for name, text in
             (line.split(" | ", 1) for line in every.stdout.splitlines())}
    assert sorted(lines) == ["mail", "queue.0", "queue.1", "queue.2"]
    assert lines["queue.1"].strip().endswith("/workers/queue.1/app")
    assert len(set(lines.values())) == 4

    top = run(cli, farm, "top", "queue.1", "--json", "--sample", "0.2")
    assert top.exit_code == 0, top
    assert [r["name"] for r in top.json["workers"]] == ["queue.1"]

    copied = farm / "whoami"
    cp = run(cli, farm, "cp", "queue.2:var/own/whoami", str(copied))
    assert cp.exit_code == 0, cp
    assert copied.read_text().strip().endswith("/workers/queue.2/app")
    ambiguous = run(cli, farm, "cp", "queue:var/own/whoami", str(copied))
    assert ambiguous.exit_code == 2 and "queue has 3 instances" in ambiguous.stderr


def test_logs_follow_merges_three_instances_without_loss(farm: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pshctl", "-e", "sandbox", "logs", "-f", "queue", "-n", "0"],
        cwd=farm, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(line.rstrip("\n")
                                                        for line in proc.stdout or []),
                              daemon=True)
    reader.start()
    try:
        # Every follower is attached once the instances' own marker lines show up: the
        # follow starts at the end, so a line written now must come through.
        marker = ["ssh", "--all", "--", "sh", "-c", "echo attached >> ../log/app.log"]
        deadline = time.monotonic() + 30
        while len({line.split(" | ")[0] for line in out if line.endswith(" | attached")}) < 3:
            assert time.monotonic() < deadline and proc.poll() is None, out
            CliRunner()("-e", "sandbox", *marker, cwd=farm)
            time.sleep(0.5)
        go = CliRunner()("-e", "sandbox", "ssh", "--worker", "queue", "--", "touch",
                         "var/shared/go", cwd=farm)
        assert go.exit_code == 0, go
        _until(lambda: sum(" | line " in line for line in out) >= 3 * LINES, "every line")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    for n in range(3):
        prefix = f"queue.{n} | "
        lines = [line[len(prefix):] for line in out if line.startswith(prefix + "line ")]
        assert lines == [f"line {i}" for i in range(LINES)], (n, lines[:5])


def test_through_the_emulated_api_every_instance_is_reached(
    farm: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Upsun way: token -> API -> one pf:ssh:<app>--queue:<N> link per instance -> a
    certificate -> SSH; the same three containers as the sandbox's registration."""
    from pshctl.sandbox import controlplane

    for name, value in manager.api_environment(farm, "farm").items():
        monkeypatch.setenv(name, value)
    world = controlplane.read_world(controlplane.directory_of(registry.sandbox_dir(farm,
                                                                                     "farm")))
    assert world is not None
    model = controlplane.Model(world, {})
    links = model.links(controlplane.ENVIRONMENT)
    entry = registry.read_registration(farm, "farm")
    assert entry is not None
    ports = [i["port"] for i in entry["workers"]["queue"]["instances"]]
    assert [links[f"pf:ssh:farm--queue:{n}"]["href"].rsplit(":", 1)[1]
            for n in range(3)] == [str(p) for p in ports]
    assert "pf:ssh:farm--queue" not in links and "pf:ssh:farm--mail" in links
    assert model.deployment()["workers"]["farm--queue"]["instance_count"] == 3

    local = run(cli, farm, "status", "--json").json["workers"]
    status = cli("-e", "main", "status", "--json", cwd=farm)
    assert status.exit_code == 0, status
    rows = status.json["workers"]
    assert [(r["name"], r["worker"], r["instance"], r["pid"]) for r in rows] == [
        (r["name"], r["worker"], r["instance"], r["pid"]) for r in local]
    assert status.json["summary"][0] == {"worker": "queue", "instances": 3, "up": 3}

    restarted = cli("-e", "main", "restart", "queue", "--grace", "5", "--verify", "1",
                    "--json", cwd=farm)
    assert restarted.exit_code == 0, restarted
    assert [r["name"] for r in restarted.json["workers"]] == ["queue.0", "queue.1", "queue.2"]
    assert all(r["new_pid"] and r["new_pid"] != r["old_pid"]
               for r in restarted.json["workers"])

    two = cli("-e", "main", "ssh", "--worker", "queue", "-I", "2", "--",
              "cat", "var/own/whoami", cwd=farm)
    assert two.exit_code == 0 and two.stdout.strip().endswith("/workers/queue.2/app"), two
    missing = cli("-e", "main", "status", "queue", "-I", "5", cwd=farm)
    assert missing.exit_code == 3
    assert "instance 5 of queue does not exist; available instances: 0, 1, 2" in \
        missing.stderr
    # The certificate the API signed is what each instance's sshd accepted.
    log = (registry.sandbox_dir(farm, "farm") / "workers" / "queue.2" / "ssh" /
           "sshd.log").read_text(errors="replace")
    assert "Accepted publickey" in log and "ED25519-CERT" in log and "ID " in log
