"""Progress on every long wait, seen on a real terminal (tmux): the stop countdown, the
SIGKILL warning, `wait`'s live rows; and nothing live when piped or with --json."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, CliRunner
from tests.terminal import Terminal
from tests.testbed import CRASHES, IGNORES_TERM, SUPERVISORS, TestBed

pytestmark = pytest.mark.integration

PSHCTL = REPO / ".venv" / "bin" / "pshctl"


def _run(terminal: Terminal, *args: str) -> str:
    terminal.type(f'{shlex.join([str(PSHCTL), *args])}; echo "rc=$?"')
    return "rc"


def _ended(screen: str) -> re.Match[str] | None:
    return re.search(r"^rc=(\d+)\s*$", screen, re.MULTILINE)


@pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)
def test_a_stop_counts_down_and_a_kill_is_a_warning(testbed: TestBed,
                                                    terminal: Terminal) -> None:
    testbed.add_service("stubborn", IGNORES_TERM)
    root = testbed.project(["stubborn"])
    terminal.start_shell(str(root), PSHCTL.parent)
    _run(terminal, "restart", "stubborn", "-e", "test", "--grace", "4", "--verify", "1")
    counting = terminal.wait_for(lambda s: re.search(r"stubborn\s+stopping\s+SIGTERM [1-3]s/4s",
                                                     s))
    assert "SIGTERM" in counting
    screen = terminal.wait_for(_ended, timeout=60)
    assert _ended(screen).group(1) == "0", screen  # type: ignore[union-attr]
    row = next(x for x in screen.splitlines() if x.startswith("stubborn") and " ok " in x)
    assert re.search(r"killed after ([4-9]|\d\d)s", row), screen  # 4 unless the remote is slow
    assert re.search(r"^warning: stubborn: killed after \d+s: it did not exit on SIGTERM "
                     r"\(give it longer with --grace\)", screen, re.MULTILINE), screen


def test_the_kill_is_in_the_json_and_nothing_is_live_without_a_terminal(
        testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("stubborn", IGNORES_TERM)
    root = testbed.project(["stubborn"])
    result = cli("restart", "stubborn", "-e", "test", "--grace", "1", "--verify", "0.5",
                 "--json", cwd=root)
    assert result.exit_code == 0, result
    (worker,) = result.json["workers"]
    assert worker["stop"] == "killed" and 1 <= worker["killed_after_s"] < 3
    assert worker["warnings"] == [
        f"killed after {int(worker['killed_after_s'])}s: it did not exit on SIGTERM"]
    # --json: plain progress lines on stderr, nothing redrawn; and the warning.
    assert "stubborn: stopping: SIGTERM, SIGKILL after 1s" in result.stderr
    assert "\x1b[" not in result.stderr and "warning: stubborn: killed" in result.stderr
    piped = subprocess.run([str(PSHCTL), "restart", "stubborn", "-e", "test", "--grace", "1",
                            "--verify", "0.5"], cwd=root, capture_output=True, text=True,
                           timeout=120, check=False)
    assert piped.returncode == 0, piped
    assert "\x1b[" not in piped.stderr  # plain lines, no live redraws
    assert "stubborn: stopping: SIGTERM, SIGKILL after 1s" in piped.stderr


def test_wait_shows_live_rows_of_what_it_waits_for(testbed: TestBed,
                                                   terminal: Terminal) -> None:
    testbed.add_service("flaky", CRASHES)
    root = testbed.project(["flaky"])
    terminal.start_shell(str(root), PSHCTL.parent)
    _run(terminal, "wait", "flaky", "-e", "test", "--timeout", "6")
    live = terminal.wait_for(lambda s: re.search(r"flaky\s+crash-looping\s+restarted [1-9]\d* "
                                                 r"times; waiting", s))
    assert "worker" in live
    screen = terminal.wait_for(_ended, timeout=60)
    assert _ended(screen).group(1) == "5", screen  # type: ignore[union-attr]
    assert "error: timed out after 6s waiting for: flaky" in screen
    assert "hint: see why in its log: pshctl logs flaky -n 50" in screen


def test_sandbox_up_and_down_say_what_they_are_doing(tmp_path: Path, terminal: Terminal) -> None:
    from pshctl.sandbox import manager

    app = tmp_path / "shop"
    shutil.copytree(REPO / "examples", app, ignore=shutil.ignore_patterns("__pycache__"))
    steps: list[str] = []
    try:
        manager.up(app, progress=steps.append)
    finally:
        manager.down(app, progress=steps.append)
    assert "building the web container shop" in steps
    assert {"starting sshd for queue", "waiting for the services to run"} <= set(steps)
    assert any(s.startswith("starting runsvdir for ") for s in steps), steps
    assert "stopping the services (SIGTERM, SIGKILL after 15s)" in steps
    assert steps[-1] == "stopping the containers' sshd"

    # On a terminal the step shows as one spinner line, gone when the command ends.
    terminal.start_shell(str(app), PSHCTL.parent)
    try:
        _run(terminal, "sandbox", "up")
        screen = terminal.wait_for(_ended, timeout=120)
        assert _ended(screen).group(1) == "0", screen  # type: ignore[union-attr]
        assert "waiting for the services to run" not in screen  # transient
    finally:
        manager.down(app)
