"""`pshctl restart` and `status --watch` on a real terminal (tmux): live rows, Ctrl-C.

Each worker traps SIGTERM and takes about two seconds to exit, so a restart is still
in flight when the test presses Ctrl-C. With ``--max-parallel 2`` two workers are
being restarted and the others have not begun. One Ctrl-C must let the two finish
(they come back up) and begin no other; a second one must abort at once and name the
workers that may be down, with a `pshctl start` command that brings them back.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

import pytest

from tests.helpers import REPO, wait_until
from tests.terminal import Terminal
from tests.testbed import SUPERVISORS, TestBed, slow_stop

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)]

PSHCTL = REPO / ".venv" / "bin" / "pshctl"
WORKERS = ["w1", "w2", "w3", "w4", "w5"]
STOP_SECONDS = 2
# On SIGTERM: end the child at once, then take STOP_SECONDS to exit (a worker draining
# its queue). The child is killed first so that a SIGKILL later leaves no orphan.
SLOW_STOP = slow_stop(STOP_SECONDS, ready=True)
ROW = re.compile(r"^\s*(w\d)\s+(\S+)", re.MULTILINE)


@pytest.fixture
def bed(testbed: TestBed, terminal: Terminal) -> TestBed:
    """Five slow-stopping workers, and a shell in their project dir."""
    testbed.add_services({name: SLOW_STOP for name in WORKERS})
    # Started is not enough: a shell stopped before its trap is set dies at once, and a
    # loaded machine can take that long to run a new process's first lines.
    wait_until(lambda: all("ready" in _log(testbed, name) for name in WORKERS),
               "every worker to set its SIGTERM trap")
    root = testbed.project(WORKERS)
    terminal.start_shell(str(root), PSHCTL.parent)
    return testbed


def _log(bed: TestBed, name: str) -> str:
    path = bed.log_file(name)
    return path.read_text() if path.exists() else ""


def _restart_line(marker: str) -> str:
    argv = [str(PSHCTL), "restart", *WORKERS, "-e", "test", "--grace", "10",
            "--verify", "1", "--max-parallel", "2"]
    return f'{shlex.join(argv)}; echo "{marker}=$?"'


def _rows(screen: str) -> dict[str, str]:
    """Worker -> step, as the live rows show them now (the last row per worker wins)."""
    return dict(ROW.findall(screen))


def _two_stopping(screen: str) -> bool:
    rows = _rows(screen)
    phases = sorted(rows.get(name, "") for name in WORKERS)
    return phases == ["stopping", "stopping", "waiting", "waiting", "waiting"]


def _exit_status(screen: str, marker: str) -> int | None:
    found = re.search(rf"^{marker}=(\d+)\s*$", screen, re.MULTILINE)
    return int(found.group(1)) if found else None


def _wait_local(bed: TestBed, check: Callable[[dict[str, str]], bool],
                timeout: float = 20) -> dict[str, str]:
    """Each worker's state as its supervisor says it locally (``up``, ``stopping`` or
    ``other``), once ``check`` accepts it."""

    def states() -> dict[str, str] | None:
        seen = {name: _state(bed, name) for name in WORKERS}
        return seen if check(seen) else None

    return wait_until(states, "the workers' states", timeout=timeout, every=0.2)


def _state(bed: TestBed, name: str) -> str:
    if bed.is_up(name):
        return "up"
    return "stopping" if bed.stopping(name) else "other"


def _up(state: str) -> bool:
    return state == "up"


def test_one_ctrl_c_finishes_the_workers_in_flight(bed: TestBed, terminal: Terminal) -> None:
    before = {name: bed.pid(name) for name in WORKERS}
    assert all(before.values()), before

    terminal.type(_restart_line("rc"))
    screen = terminal.wait_for(_two_stopping)
    assert re.search(r"^\s*worker\s+step\s+detail", screen, re.MULTILINE), screen
    busy = sorted(name for name, phase in _rows(screen).items() if phase == "stopping")
    assert re.search(rf"^\s*{busy[0]}\s+stopping\s+SIGTERM, SIGKILL after 10s", screen,
                     re.MULTILINE), screen

    terminal.keys("C-c")
    screen = terminal.wait_for(lambda s: _exit_status(s, "rc") is not None)
    assert _exit_status(screen, "rc") == 130, screen
    said = re.search(r"^interrupted: finishing (.+?) \(starting what was stopped; "
                     r"no new worker begins\)", screen, re.MULTILINE)
    assert said, screen
    assert sorted(said.group(1).split(", ")) == busy, screen
    # The results table after the message: the two in flight restarted, none other begun.
    table = _rows(screen[said.end():])
    assert table == {name: "ok" if name in busy else "skipped" for name in WORKERS}, screen

    # Seen from the machine itself: every worker runs, the two in flight as new processes.
    states = _wait_local(bed, lambda states: all(map(_up, states.values())))
    after = {name: bed.pid(name) for name in WORKERS}
    for name in WORKERS:
        changed = after[name] != before[name]
        assert changed == (name in busy), (name, before, after, states)


def test_second_ctrl_c_aborts_and_names_the_workers_down(bed: TestBed,
                                                        terminal: Terminal) -> None:
    before = {name: bed.pid(name) for name in WORKERS}
    assert all(before.values()), before

    terminal.type(_restart_line("rc"))
    screen = terminal.wait_for(_two_stopping)
    busy = sorted(name for name, phase in _rows(screen).items() if phase == "stopping")
    terminal.keys("C-c")
    terminal.wait_for(lambda s: "interrupted: finishing" in s)
    terminal.keys("C-c")  # while the two are still draining (STOP_SECONDS)
    screen = terminal.wait_for(lambda s: _exit_status(s, "rc") is not None)

    assert _exit_status(screen, "rc") == 130, screen
    down = re.search(r"^error: aborted; these workers may be down: (.+?)\s*$", screen,
                     re.MULTILINE)
    assert down, screen
    assert sorted(down.group(1).split(", ")) == busy, screen
    hint = re.search(r"^hint: bring them back with: (pshctl start .+?)\s*$", screen,
                     re.MULTILINE)
    assert hint, screen
    command = hint.group(1)
    assert shlex.split(command) == ["pshctl", "start", *busy, "-e", "test", "-A", "app"]
    # Aborted, not finished: no results table was printed.
    assert not re.search(r"^\s*worker\s+result\s", screen, re.MULTILINE), screen

    # The message is true: the named workers were told to stop and nothing started them
    # again (they may still be draining); the others were never touched.
    states = _wait_local(bed, lambda states: all(states[n] == "stopping" for n in busy))
    for name in WORKERS:
        if name not in busy:
            assert _up(states[name]) and bed.pid(name) == before[name], (name, states)

    # The printed command, typed at once into the same shell (the two may still be
    # exiting after SIGTERM), brings them back with fresh processes.
    terminal.type(f'{command}; echo "again=$?"')
    screen = terminal.wait_for(lambda s: _exit_status(s, "again") is not None)
    assert _exit_status(screen, "again") == 0, screen
    table = _rows(screen[screen.rindex(command):])
    assert table == dict.fromkeys(busy, "ok"), screen
    _wait_local(bed, lambda states: all(map(_up, states.values())))
    after = {name: bed.pid(name) for name in WORKERS}
    for name in WORKERS:
        assert (after[name] != before[name]) == (name in busy), (name, before, after)


def _status_rows(screen: str) -> dict[str, str]:
    """Worker -> state in the --watch table (rows may be framed by box characters)."""
    return dict(re.findall(r"^[\s│┃|]*(w\d)[\s│┃|]+(\S+)", screen, re.MULTILINE))


def test_status_watch_redraws_in_place_and_quits_on_ctrl_c(bed: TestBed,
                                                             terminal: Terminal) -> None:
    argv = [str(PSHCTL), "status", "--watch", "--interval", "0.3", "-e", "test"]
    terminal.type(f'{shlex.join(argv)}; echo "rc=$?"')
    screen = terminal.wait_for(lambda s: _status_rows(s) == dict.fromkeys(WORKERS, "up"))
    assert "Ctrl-C to quit" in screen, screen

    bed.stop_service("w2")  # from outside: the next refresh shows it
    screen = terminal.wait_for(lambda s: _status_rows(s).get("w2") == "down")
    assert _status_rows(screen) == {**dict.fromkeys(WORKERS, "up"), "w2": "down"}, screen
    # Redrawn in place: one table on the screen, not one per refresh.
    assert screen.count("Ctrl-C to quit") == 1, screen

    terminal.keys("C-c")
    screen = terminal.wait_for(lambda s: _exit_status(s, "rc") is not None)
    assert _exit_status(screen, "rc") == 130, screen
    assert "Traceback" not in screen, screen
    bed.start_service("w2")
