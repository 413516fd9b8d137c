"""An interactive `pshctl ssh` session driven through a real terminal (tmux)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.terminal import Terminal
from tests.testbed import TestBed

pytestmark = pytest.mark.integration


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
    wait_until(lambda: terminal.tmux("display", "-p", "-t", "t",
                                     "#{pane_width}x#{pane_height}").strip() == "120x40",
               "tmux to resize the pane")  # the kernel has sent pshctl its SIGWINCH
    terminal.type("stty size")
    terminal.wait_for(lambda s: "40 120" in s)

    terminal.type("echo asleep-$((3+4)); sleep 30; echo done-$((2+3))")
    terminal.wait_for(lambda s: "asleep-7" in s)
    terminal.keys("C-c")  # goes to the remote side
    terminal.type("echo alive-$((1+1))")
    screen = terminal.wait_for(lambda s: "alive-2" in s, timeout=10)
    assert "done-5" not in screen  # the remote sleep was interrupted, not us

    terminal.type("exit 3")
    wait_until(lambda: status_file.exists() and "restored" in status_file.read_text(),
               "pshctl to exit and the terminal to be restored", timeout=15)
    assert status_file.read_text().split() == ["3", "restored"]


def _prompt(screen: str) -> bool:
    lines = [line for line in screen.splitlines() if line.strip()]
    return bool(lines) and lines[-1].rstrip().endswith(("#", "$"))
