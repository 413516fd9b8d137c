"""The sandbox run by an ordinary user, not root: a real account, real processes.

The suite usually runs as root (CI). This test creates a throwaway account, runs
``pshctl`` as that user (``setpriv``) and checks that every sandbox process belongs
to it and that the commands work over the user's own sshd. Run as an ordinary user,
the rest of the suite already covers this, so the test is skipped there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pshctl.sandbox.servers import find_program
from tests.helpers import REPO, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create an account"),
]

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Development tools the copied environment does not need (they are most of its size).
DEV_ONLY = ("mypy*", "*mypyc*", "ruff*", "pip", "pip-*", "setuptools*", "_pytest", "pytest*",
            "pygments", "__pycache__")


@dataclass
class Account:
    name: str
    uid: int
    gid: int
    share: Path  # a directory the account owns, outside root's private temp dirs
    python: list[str] = field(default_factory=list)
    pythonpath: str = ""

    @property
    def home(self) -> Path:
        return self.share / "home"

    def env(self) -> dict[str, str]:
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
               "PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "NO_COLOR": "1", "COLUMNS": "120"}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env

    def run(self, *argv: str, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
             *argv],
            cwd=cwd or self.home, env=self.env(), capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def pshctl(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(*self.python, "-m", "pshctl", *args, cwd=cwd)

    def pids(self) -> list[int]:
        """Every live process that runs as this account."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == self.uid and "Z" not in _state(entry):
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found


def _state(proc: Path) -> str:
    return (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]


def _can_import(account: Account) -> bool:
    probe = account.run(*account.python, "-c", "import pshctl.cli, paramiko, yaml, rich")
    return probe.returncode == 0


def _give_python(account: Account) -> None:
    """A Python the account can run, with pshctl and its dependencies importable.

    Our interpreter may live where the account cannot reach (pyenv under /root):
    then use the system's python of the same version on our packages, copied if
    their directory is private too.
    """
    account.python = [sys.executable]
    if _can_import(account):
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}")
                   if os.access(p, os.X_OK)), None)
    if system is None:
        pytest.skip(f"no {version} that another account can run")
    account.python = [system]
    packages = sysconfig.get_paths()["purelib"]
    account.pythonpath = f"{REPO}:{packages}"
    if _can_import(account):
        return
    lib = account.share / "lib"
    shutil.copytree(packages, lib, ignore=shutil.ignore_patterns(*DEV_ONLY), symlinks=True)
    shutil.copytree(REPO / "pshctl", lib / "pshctl",
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    subprocess.run(["chmod", "-R", "a+rX", str(lib)], check=True)
    account.pythonpath = str(lib)
    assert _can_import(account), "pshctl does not import for the test account"


@pytest.fixture
def account() -> Iterator[Account]:
    if not (shutil.which("useradd") and shutil.which("setpriv")):
        pytest.skip("useradd and setpriv are needed")
    name = f"pshctl-{secrets.token_hex(3)}"
    share = Path(tempfile.mkdtemp(prefix="pshctl-user-"))
    share.chmod(0o755)
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(share / "home"),
                    "--shell", "/bin/sh", name],
                   check=True, capture_output=True)
    try:
        uid = int(subprocess.run(["id", "-u", name], check=True, capture_output=True,
                                 text=True).stdout)
        gid = int(subprocess.run(["id", "-g", name], check=True, capture_output=True,
                                 text=True).stdout)
        acct = Account(name, uid, gid, share)
        acct.home.mkdir()
        _give_python(acct)
        subprocess.run(["chown", "-R", f"{uid}:{gid}", str(acct.home)], check=True)
        yield acct
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        for _ in range(50):
            if subprocess.run(["pgrep", "-u", name], capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(share, ignore_errors=True)


def _wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    wait_until(predicate, "the account's processes", timeout=timeout)
    return True


def test_an_ordinary_user_runs_the_sandbox(account: Account) -> None:
    if find_program("sshd") is None or find_program("runsvdir") is None:
        pytest.skip("sshd and runit are needed")
    app = account.home / "shop"
    shutil.copytree(REPO / "examples", app, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chown", "-R", f"{account.uid}:{account.gid}", str(app)], check=True)

    up = account.pshctl("sandbox", "up", str(app), "--json")
    assert up.returncode == 0, up.stdout + up.stderr
    sandbox = json.loads(up.stdout)
    assert [c["name"] for c in sandbox["containers"]] == ["shop", "queue", "mail"]
    ours = set(account.pids())
    started = [sandbox["runsvdir_pid"]] + [c["sshd_pid"] for c in sandbox["containers"]]
    started += [c["service"]["pid"] for c in sandbox["containers"]]
    assert set(started) <= ours, "a sandbox process does not run as the account"

    status = account.pshctl("-e", "sandbox", "status", "--json", cwd=app)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "queue" in status.stdout and "mail" in status.stdout

    who = account.pshctl("-e", "sandbox", "ssh", "--worker=queue", "--", "id", "-u", cwd=app)
    assert (who.returncode, who.stdout.strip()) == (0, str(account.uid)), who.stderr

    # Not root, so file modes hold: the code is read-only, the mount is writable.
    code = account.pshctl("-e", "sandbox", "ssh", "--worker=queue", "--",
                          "touch", "new-file", cwd=app)
    assert code.returncode != 0 and "Permission denied" in code.stderr, code
    mount = account.pshctl("-e", "sandbox", "ssh", "--worker=queue", "--",
                           "touch", "var/jobs/new-file", cwd=app)
    assert mount.returncode == 0, mount.stderr

    restart = account.pshctl("-e", "sandbox", "restart", "mail", cwd=app)
    assert restart.returncode == 0, restart.stdout + restart.stderr

    down = account.pshctl("sandbox", "down", str(app))
    assert down.returncode == 0, down.stdout + down.stderr
    assert _wait_until(lambda: not account.pids()), f"left running: {account.pids()}"
