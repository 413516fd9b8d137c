"""A real terminal for tests: one tmux session on a private server, read off the screen.

A pytest plugin (fixture ``terminal``); the tmux server is killed at the end of the test.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until

PROMPT = "ready$ "
# Forwarded from the test's isolated environment (the autouse `isolation` fixture).
FORWARDED = (
    "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
    "PYTHON_KEYRING_BACKEND", "NO_COLOR", "GIT_CEILING_DIRECTORIES",
)


class Terminal:
    """One tmux session (window ``t``) on the server socket ``socket``."""

    def __init__(self, socket: Path, name: str = "t") -> None:
        self.socket = socket
        self.name = name

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return proc.stdout

    def start(self, command: str, *, width: int = 100, height: int = 30,
              cwd: str | None = None) -> None:
        where = ["-c", cwd] if cwd else []
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                  *where, command)

    def start_shell(self, cwd: str, path: Path, *, width: int = 120, height: int = 40) -> None:
        """A plain ``sh`` in ``cwd`` with only the test's environment, ``path`` first on
        PATH, and the prompt :data:`PROMPT`; returns once it prompts."""
        env = {k: os.environ[k] for k in FORWARDED if k in os.environ}
        env.update(
            PATH=f"{path}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            TERM="xterm",
            LANG="C.UTF-8",
            PS1=PROMPT,
        )
        argv = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh"]
        self.start(shlex.join(argv), width=width, height=height, cwd=cwd)
        self.wait_for(lambda s: s.rstrip().endswith(PROMPT.rstrip()))

    def type(self, text: str) -> None:
        """Type a line and press Enter."""
        self.tmux("send-keys", "-t", self.name, "-l", text)
        self.tmux("send-keys", "-t", self.name, "Enter")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        # -J joins lines the terminal wrapped; -S reaches into the scrollback.
        return self.tmux("capture-pane", "-p", "-J", "-t", self.name, "-S", "-500")

    def wait_for(self, check: Callable[[str], object], timeout: float = 30) -> str:
        """The screen once ``check`` accepts it; fails with the screen after ``timeout``."""

        def accepted() -> str | None:
            text = self.screen()
            return text if check(text) else None

        try:
            return wait_until(accepted, "the screen", timeout=timeout, every=0.1)
        except AssertionError:
            raise AssertionError(f"timed out after {timeout}s; screen:\n{self.screen()}") \
                from None

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"],
                       capture_output=True, timeout=30, check=False)


@pytest.fixture
def terminal(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Terminal]:
    if request.node.get_closest_marker("integration") is None:
        pytest.fail("a test with a real terminal (tmux) must be marked @pytest.mark.integration")
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: run `make test` (it installs it) or scripts/system-deps")
    term = Terminal(tmp_path / "tmux.sock")
    try:
        yield term
    finally:
        term.kill()
