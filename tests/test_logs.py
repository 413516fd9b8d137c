"""pshctl logs against a real sshd and real services (the test bed), each test on a
runit bed and on a systemd one (the `testbed` parameter)."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import CliRunner, wait_until
from tests.testbed import SUPERVISORS, TestBed

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)]

# A service that writes numbered lines quickly: "<name> <n> <padding>".
COUNTER = (
    'i=0; pad=$(printf "%0{width}d" 0 | tr 0 x)\n'
    'while :; do i=$((i + 1)); echo "{name} $i $pad"; sleep {pause}; done\n'
)


def counter(name: str, width: int = 10, pause: float = 0.01) -> str:
    return COUNTER.format(name=name, width=width, pause=pause)


def write_lines(path: Path, lines: list[str], mode: str = "a") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as f:
        f.write("".join(line + "\n" for line in lines))


class Follow:
    """``pshctl logs -f ...`` as a subprocess; stdout and stderr collected line by line."""

    def __init__(self, root: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pshctl", "logs", "-f", "-e", "test", *args],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [threading.Thread(target=self._collect, args=(stream, sink), daemon=True)
                        for stream, sink in ((self.proc.stdout, self.out),
                                             (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _collect(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 20) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and not check():
                raise AssertionError(f"pshctl ended: no {what}; stdout={self.out[-10:]} "
                                     f"stderr={self.err}")
            return check()

        wait_until(seen, f"{what}; stdout={self.out[-10:]} stderr={self.err}", timeout=timeout)

    def wait_out(self, line: str) -> None:
        self.wait(lambda: line in self.out, repr(line))

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=15)
        for reader in self.readers:  # every line it wrote has been collected
            reader.join(timeout=15)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def follow():
    started: list[Follow] = []

    def start(root: Path, *args: str) -> Follow:
        started.append(Follow(root, *args))
        return started[-1]

    yield start
    for f in started:
        f.kill()


def assert_clean_interrupt(f: Follow) -> None:
    assert f.interrupt() == 130
    assert not any("Traceback" in line for line in f.err), f.err


def numbers(lines: list[str], name: str) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith(f"{name} ")]


def assert_consecutive(seen: list[int]) -> None:
    assert seen, "no lines"
    jumps = [(a, b) for a, b in itertools.pairwise(seen) if b != a + 1]
    assert not jumps, f"repeated or lost lines around {jumps[:5]}"


# --- reading ---------------------------------------------------------------------------


def test_lines_returns_exactly_the_last_n(testbed: TestBed, cli: CliRunner) -> None:
    root = testbed.project(["queue"])
    write_lines(testbed.log_file("queue"), [f"line {i} [red]x[/red]" for i in range(1, 501)])
    result = cli("logs", "queue", "-n", "7", "-e", "test", cwd=root)
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [f"line {i} [red]x[/red]" for i in range(494, 501)]
    assert cli("logs", "queue", "-n", "0", "-e", "test", cwd=root).stdout == ""
    everything = cli("logs", "queue", "-n", "all", "-e", "test", cwd=root)
    assert len(everything.stdout.splitlines()) == 500
    assert cli("logs", "queue", "-n", "-3", "-e", "test", cwd=root).exit_code == 2


def test_no_worker_reads_the_app_container_and_type_picks_the_file(
    testbed: TestBed, cli: CliRunner
) -> None:
    root = testbed.project(["queue"])
    write_lines(testbed.log_file("app"), ["web app line"])
    write_lines(testbed.log_file("queue", "cron"), ["cron line 1", "cron line 2"])
    assert cli("logs", "-e", "test", cwd=root).stdout == "web app line\n"
    result = cli("logs", "-w", "queue", "-t", "cron", "-n", "1", "--json", "-e", "test", cwd=root)
    before = time.time()
    line = json.loads(result.stdout)
    assert result.stdout.count("\n") == 1
    assert (line["worker"], line["line"]) == ("queue", "cron line 2")
    received = datetime.fromisoformat(line["received"].replace("Z", "+00:00"))
    assert abs(received.timestamp() - before) < 60


def test_a_missing_log_is_reported_and_the_others_go_on(
    testbed: TestBed, cli: CliRunner
) -> None:
    root = testbed.project(["queue", "ghost"])
    write_lines(testbed.log_file("queue"), ["q1", "q2"])
    result = cli("logs", "queue", "ghost", "-e", "test", cwd=root)
    assert result.exit_code == 1
    assert result.stdout == "queue | q1\nqueue | q2\n"
    assert f"ghost: no log file {testbed.log_file('ghost')}" in result.stderr


def test_an_unreachable_worker_is_reported_and_the_others_go_on(
    testbed: TestBed, cli: CliRunner
) -> None:
    root = testbed.project(["queue", "dead"], overrides={"dead": {"port": 1}})
    write_lines(testbed.log_file("queue"), ["q1"])
    result = cli("logs", "--all", "-e", "test", cwd=root)
    assert result.exit_code == 1
    assert "queue | q1" in result.stdout.splitlines()
    assert "dead: connection refused" in result.stderr
    assert "hint: is sshd running and listening on that port?" in result.stderr
    only_dead = cli("logs", "dead", "-e", "test", cwd=root)
    assert only_dead.exit_code == 4


def test_several_workers_merge_with_prefixes_and_whole_lines(
    testbed: TestBed, follow
) -> None:
    # Long lines written fast: a line split by the network or interleaved mid-line
    # with another worker's would break the pattern.
    testbed.add_services({"queue": counter("queue", width=5000, pause=0.002),
                          "mail": counter("mail", width=3000, pause=0.002)})
    root = testbed.project(["queue", "mail"])
    f = follow(root, "queue", "mail", "-n", "5")
    f.wait(lambda: len(f.out) > 400, "400 lines")
    assert_clean_interrupt(f)
    pattern = re.compile(r"^(queue|mail ) \| (queue|mail) (\d+) (x+)$")
    for line in f.out:
        match = pattern.match(line)
        assert match, line[:120]
        assert match[1].strip() == match[2]
        assert len(match[4]) == (5000 if match[2] == "queue" else 3000)
    for name in ("queue", "mail"):
        assert_consecutive([int(m[3]) for m in map(pattern.match, f.out) if m and m[2] == name])


# --- following -----------------------------------------------------------------------


def test_follow_shows_lines_written_after_it_started(testbed: TestBed, follow) -> None:
    root = testbed.project(["queue"])
    log = testbed.log_file("queue")
    write_lines(log, ["before 1", "before 2"])
    f = follow(root, "queue", "-n", "1")
    f.wait_out("before 2")
    write_lines(log, ["after 1", "after [b]2[/b]"])
    f.wait_out("after [b]2[/b]")
    assert f.out == ["before 2", "after 1", "after [b]2[/b]"]
    assert_clean_interrupt(f)


def test_follow_survives_rotation_and_truncation(testbed: TestBed, follow) -> None:
    root = testbed.project(["queue"])
    log = testbed.log_file("queue")
    write_lines(log, ["first"])
    f = follow(root, "queue")
    f.wait_out("first")
    log.rename(log.with_name("app.log.1"))  # rotated: renamed, then recreated
    write_lines(log.with_name("app.log.1"), ["late in the old file"])
    f.wait_out("late in the old file")  # read before the name points at a new file
    write_lines(log, ["new file 1", "new file 2", "new file 3"])
    f.wait_out("new file 3")
    log.write_text("")  # truncated in place
    f.wait(lambda: any("was truncated" in line for line in f.err), "the truncation notice")
    write_lines(log, ["after truncation"])
    f.wait_out("after truncation")
    assert f.out == [
        "first", "late in the old file", "new file 1", "new file 2", "new file 3",
        "after truncation",
    ]
    assert any("was replaced" in line for line in f.err), f.err
    assert any("was truncated" in line for line in f.err), f.err
    assert_clean_interrupt(f)


def assert_survives_killed_sessions(testbed: TestBed, f) -> None:  # type: ignore[no-untyped-def]
    """Kill the follow's sshd session twice: each time it says so, reconnects, and goes on
    with the next line of the counter "queue", none lost or repeated."""
    f.wait(lambda: len(f.out) > 30, "first lines")
    for round_ in (1, 2):
        assert testbed.kill_sessions(), "no sshd session to kill"
        f.wait(lambda r=round_: sum("reconnected" in e for e in f.err) >= r, "a reconnect")
        seen = len(f.out)
        f.wait(lambda s=seen: len(f.out) > s + 30, "lines after the reconnect")
    assert_clean_interrupt(f)
    assert sum("connection lost" in e for e in f.err) == 2, f.err
    assert_consecutive(numbers(f.out, "queue"))


def test_follow_reconnects_when_the_session_is_killed(testbed: TestBed, follow) -> None:
    testbed.add_service("queue", counter("queue", pause=0.01))
    root = testbed.project(["queue"])
    f = follow(root, "queue", "-n", "3")
    assert_survives_killed_sessions(testbed, f)


def test_follow_waits_for_a_missing_log(testbed: TestBed, follow) -> None:
    root = testbed.project(["queue", "ghost"])
    write_lines(testbed.log_file("queue"), ["q"])
    f = follow(root, "queue", "ghost")
    f.wait(lambda: any("ghost: no log file" in e for e in f.err), "the missing-log note")
    f.wait_out("queue | q")
    write_lines(testbed.log_file("ghost"), ["boo"])
    f.wait_out("ghost | boo")
    assert_clean_interrupt(f)


# --- pipes -------------------------------------------------------------------------------


@pytest.mark.parametrize("busy", [True, False], ids=["busy-log", "quiet-log"])
def test_follow_into_head_ends_promptly_and_quietly(testbed: TestBed, busy: bool) -> None:
    if busy:
        testbed.add_service("queue", counter("queue", pause=0.01))
    else:  # head is satisfied by the backlog; nothing else is ever written
        write_lines(testbed.log_file("queue"), [f"queue {i}" for i in range(10)])
    root = testbed.project(["queue"])
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$0" -m pshctl logs -f queue -n 5 -e test | head -3',
         sys.executable],
        cwd=root, capture_output=True, text=True, timeout=30, env={**os.environ},
        check=False,
    )
    assert proc.returncode == 0, proc
    assert proc.stderr == "environment test · app app\n"  # the context line, nothing else
    assert len(proc.stdout.splitlines()) == 3
    assert time.monotonic() - started < 10
