"""An interactive `pshctl ssh` session driven through a real terminal (tmux)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.testbed import TestBed

pytestmark = pytest.mark.integration


class Terminal:
    """One tmux session on a private server socket; the server is killed at the end."""

    def __init__(self, socket: Path, name: str = "t") -> None:
        self.socket = socket
        self.name = name

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return proc.stdout

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        self.tmux(
            "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command
        )

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)
        self.tmux("send-keys", "-t", self.name, "Enter")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name, "-S", "-200")

    def wait_for(self, check: Callable[[str], bool], timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; screen:\n{text}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"],
            capture_output=True,
            timeout=30,
            check=False,
        )


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    term = Terminal(tmp_path / "tmux.sock")
    try:
        yield term
    finally:
        term.kill()


def test_interactive_shell_in_a_pty(testbed: TestBed, terminal: Terminal, tmp_path: Path) -> None:
    root = testbed.project(["queue"], tmp_path / "app")
    status_file = tmp_path / "status"
    pshctl = shlex.join([sys.executable, "-m", "pshctl", "-e", "test", "ssh", "--worker", "queue"])
    # The pane's shell records pshctl's exit status and whether the tty came back sane.
    script = (
        f"cd {shlex.quote(str(root))}; {pshctl}; echo $? > {shlex.quote(str(status_file))}; "
        f"stty -a | grep -q -- ' icanon' && echo restored >> {shlex.quote(str(status_file))}; "
        "sleep 60"
    )
    env = " ".join(
        f"{k}={shlex.quote(v)}"
        for k, v in os.environ.items()
        if k
        in (
            "HOME",
            "XDG_DATA_HOME",
            "XDG_CONFIG_HOME",
            "XDG_STATE_HOME",
            "PYTHON_KEYRING_BACKEND",
            "PATH",
            "NO_COLOR",
        )
    )
    terminal.start(f"env TERM=xterm {env} sh -c {shlex.quote(script)}")

    terminal.wait_for(_prompt)
    terminal.type("echo hello-$((6*7))")
    terminal.wait_for(lambda s: "hello-42" in s)

    terminal.type("stty size")
    terminal.wait_for(lambda s: "30 100" in s)
    terminal.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
    time.sleep(0.3)
    terminal.type("stty size")
    terminal.wait_for(lambda s: "40 120" in s)

    terminal.type("sleep 30; echo done-$((2+3))")  # Ctrl-C goes to the remote side
    time.sleep(0.5)
    terminal.keys("C-c")
    terminal.type("echo alive-$((1+1))")
    screen = terminal.wait_for(lambda s: "alive-2" in s, timeout=10)
    assert "done-5" not in screen  # the remote sleep was interrupted, not us

    terminal.type("exit 3")
    deadline = time.monotonic() + 15
    while not (status_file.exists() and "restored" in status_file.read_text()):
        assert time.monotonic() < deadline, terminal.screen()
        time.sleep(0.1)
    assert status_file.read_text().split() == ["3", "restored"]


def _prompt(screen: str) -> bool:
    lines = [line for line in screen.splitlines() if line.strip()]
    return bool(lines) and lines[-1].rstrip().endswith(("#", "$"))
