"""What pshctl writes has explicit modes whatever the umask; the state dir stays the sandbox's.

The regression: under ``umask 000`` the sandbox's ``authorized_keys`` was world-writable,
and its sshd runs with ``StrictModes no``: any local user could add a key and log in.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pshctl import files
from pshctl.errors import ConfigError
from pshctl.sandbox import manager, registry, servers
from pshctl.sandbox.state import read_state
from tests.helpers import CliRunner
from tests.test_sandbox import _copy_example
from tests.test_sandbox_build import _build


def _pshctl_under_umask_000(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pshctl", *args], cwd=cwd, umask=0,
                          capture_output=True, text=True, timeout=180, check=False)


def _writable_by_others(top: Path) -> list[str]:
    found = []
    for directory, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            path = Path(directory, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o022:
                found.append(f"{path.relative_to(top)} {stat.filemode(mode)}")
    return found


@pytest.fixture
def shop_umask_000(tmp_path: Path) -> Iterator[Path]:
    """The example app as a checkout made under umask 000 (every file world-writable)."""
    app = _copy_example(tmp_path / "shop")
    for directory, dirnames, filenames in os.walk(app):
        for name in dirnames:
            os.chmod(Path(directory, name), 0o777)
        for name in filenames:
            os.chmod(Path(directory, name), 0o666)
    yield app
    state = read_state(registry.sandbox_dir(app, "shop") / "state.json")
    manager.down(app, "shop")
    if state is not None:
        for proc in state.processes():
            if proc.alive():
                servers.terminate(proc.pid, sig=signal.SIGKILL)


@pytest.mark.integration
def test_sandbox_under_umask_000_writes_nothing_others_can_write(shop_umask_000: Path) -> None:
    app = shop_umask_000
    up = _pshctl_under_umask_000("sandbox", "up", str(app), cwd=app)
    assert up.returncode == 0, up.stderr
    state_dir = registry.sandbox_dir(app, "shop")
    ran = _pshctl_under_umask_000("-e", "sandbox", "ssh", "--worker", "queue", "--",
                                  "echo", "logged-in", cwd=app)
    assert (ran.returncode, ran.stdout) == (0, "logged-in\n"), ran.stderr

    assert _writable_by_others(state_dir) == []
    assert _writable_by_others(registry.state_root()) == []
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for secret in ("keys/authorized_keys", "keys/client", "known_hosts", "state.json",
                   "environment.json", "lock", "workers/queue/ssh/sshd_config"):
        assert stat.S_IMODE((state_dir / secret).stat().st_mode) == 0o600, secret


def test_files_get_their_mode_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        files.write_file(tmp_path / "a" / "b" / "secret", "x")
        files.write_file(tmp_path / "script", "#!/bin/sh\n", files.SCRIPT)
        files.touch(tmp_path / "log")
        files.append_private(tmp_path / "appended", "line\n")
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in tmp_path.rglob("*")}
    assert modes == {"a": 0o700, "a/b": 0o700, "a/b/secret": 0o600, "script": 0o755,
                     "log": 0o600, "appended": 0o600}
    os.umask(0o777)  # nothing at all allowed: the modes still come out as asked
    try:
        files.write_file(tmp_path / "c" / "secret", "y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700
    assert (tmp_path / "c" / "secret").read_text() == "y"


def test_existing_group_writable_file_is_tightened_not_loosened(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("")
    path.chmod(0o666)
    files.append_private(path, "x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("service", ["../../escape", "..", ".", "a/b", "x\x00y"])
def test_mount_service_name_stays_inside_the_state_dir(tmp_path: Path, service: str) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / ".platform.app.yaml").write_text(
        "name: bad\nmounts:\n  'data': {source: service, service: " + repr(service) + "}\n"
        "workers:\n  w:\n    commands: {start: x}\n"
    )
    with pytest.raises(ConfigError, match="must be a plain name"):
        _build(root, tmp_path, "w")
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("where", ["file", "/dev/null/x", "unwritable"])
def test_state_dir_in_an_unusable_place_is_a_config_error(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "file":
        path = tmp_path / "a-file"
        path.write_text("")
    elif where == "unwritable":
        path = Path("/proc/pshctl-state") if os.geteuid() == 0 else tmp_path / "ro" / "state"
        if os.geteuid() != 0:
            (tmp_path / "ro").mkdir(mode=0o500)
    else:
        path = Path(where)
    app = _copy_example(tmp_path / "shop")
    monkeypatch.setenv("PSHCTL_STATE_DIR", str(path))
    commands = [["sandbox", "up", str(app)]]
    if where != "unwritable":  # a directory still to be made reads as empty: only up fails
        commands += [["-e", "sandbox", "status"], ["sandbox", "status", "--all"]]
    for argv in commands:
        result = cli(*argv, cwd=app)
        assert result.exit_code == 3, (argv, result)
        assert f"PSHCTL_STATE_DIR={path}" in result.stderr, result
        assert "Traceback" not in result.stderr
