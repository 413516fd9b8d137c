"""`pshctl logs` from the user journal, on a real systemd bed: a real `systemd --user`
whose units' output goes to a real journald of its own (tests/testbed.py), read with
the container's own journalctl over a real sshd."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import pytest

from tests.helpers import CliRunner, wait_until
from tests.test_logs import (
    assert_clean_interrupt,
    assert_survives_killed_sessions,
    counter,
    follow,  # noqa: F401 - the fixture
    numbers,
    write_lines,
)
from tests.testbed import TestBed

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", ["systemd"], indirect=True)]

# Writes 40 numbered lines (one not UTF-8), then waits.
FORTY = ("i=0; while [ $i -lt 40 ]; do i=$((i + 1)); echo \"line $i\"; done\n"
         "printf 'not utf-8: \\377\\n'\nexec sleep 100000\n")


def _journal_has(cli: CliRunner, root: Path, text: str) -> bool:
    return text in cli("logs", "queue", "-n", "all", "-e", "test", cwd=root).stdout


def test_history_comes_from_the_journal_when_there_is_no_log_file(
    testbed: TestBed, cli: CliRunner
) -> None:
    testbed.add_service("queue", FORTY, log="journal")
    root = testbed.project(["queue"])
    assert not testbed.log_file("queue").exists()
    wait_until(lambda: _journal_has(cli, root, "not utf-8"), "the unit's output in the journal")
    last = cli("logs", "queue", "-n", "3", "-e", "test", cwd=root)
    assert last.exit_code == 0, last
    assert last.stdout.splitlines() == ["line 39", "line 40", "not utf-8: \ufffd"]
    everything = cli("logs", "queue", "-n", "all", "-e", "test", cwd=root).stdout.splitlines()
    assert [line for line in everything if line.startswith("line ")] == [
        f"line {i}" for i in range(1, 41)]

    # log_source: file insists on the file, which is not there.
    as_file = testbed.project(["queue"], testbed.root / "as-file",
                              overrides={"queue": {"log_source": "file"}})
    missing = cli("logs", "queue", "-e", "test", cwd=as_file)
    assert missing.exit_code == 1
    assert f"no log file {testbed.log_file('queue')}" in missing.stderr


def test_auto_prefers_the_log_file_and_journal_can_be_forced(
    testbed: TestBed, cli: CliRunner
) -> None:
    testbed.add_service("queue", FORTY, log="journal")
    root = testbed.project(["queue"])
    wait_until(lambda: _journal_has(cli, root, "line 40"), "the unit's output in the journal")
    write_lines(testbed.log_file("queue"), ["from the file"])
    assert cli("logs", "queue", "-e", "test", cwd=root).stdout == "from the file\n"

    journal = testbed.project(["queue"], testbed.root / "journal",
                              overrides={"queue": {"log_source": "journal"}})
    forced = cli("logs", "queue", "-n", "1", "-e", "test", cwd=journal)
    assert forced.exit_code == 0, forced
    assert forced.stdout == "not utf-8: \ufffd\n"
    # The journal holds the service's own output only: another log type is a file.
    cron = cli("logs", "queue", "-t", "cron", "-e", "test", cwd=journal)
    assert cron.exit_code != 0
    assert "the journal has only the service's own output" in cron.stderr


def test_grep_and_since_are_the_journals_own_filters(testbed: TestBed, cli: CliRunner) -> None:
    """--grep and --since on the journal: journalctl matches each entry's message and
    its time, in the container; -n then limits what is left."""
    flag = testbed.root / "write-the-late-lines"
    testbed.add_service("queue", "i=0; while [ $i -lt 40 ]; do i=$((i + 1)); "
                        "echo \"early $i\"; done\n"
                        f"while [ ! -e {flag} ]; do sleep 0.05; done\n"
                        "echo 'late 1'; echo 'late 2 ERROR'; echo 'late 3'\n"
                        "exec sleep 100000\n", log="journal")
    root = testbed.project(["queue"])
    wait_until(lambda: _journal_has(cli, root, "early 40"), "the early lines in the journal")
    since = math.floor(time.time()) + 1  # a whole second after every early line
    wait_until(lambda: time.time() >= since, "the next second")
    flag.touch()
    wait_until(lambda: _journal_has(cli, root, "late 3"), "the late lines in the journal")

    def logs(*args: str) -> list[str]:
        result = cli("logs", "queue", "-e", "test", *args, cwd=root)
        assert result.exit_code == 0, result
        return result.stdout.splitlines()

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    assert logs("--since", stamp) == ["late 1", "late 2 ERROR", "late 3"]
    assert logs("--since", stamp, "-n", "1") == ["late 3"]
    assert logs("-n", "all", "--grep", "^early [0-9]*5$") == [
        f"early {i}" for i in (5, 15, 25, 35)]
    assert logs("--grep", "early [0-9]*5$", "-n", "2") == ["early 25", "early 35"]
    assert logs("--since", stamp, "--grep", "ERROR|late 3") == ["late 2 ERROR", "late 3"]
    assert logs("--grep", "error") == []  # matched case-sensitively, as grep -E does
    bad = cli("logs", "queue", "-e", "test", "--grep", "(unclosed", cwd=root)
    assert bad.exit_code == 1, bad
    assert "journalctl refused the pattern '(unclosed'" in bad.stderr


def test_grep_follows_the_matching_entries_across_a_reconnect(
    testbed: TestBed, follow  # noqa: F811 - the fixture
) -> None:
    testbed.add_service("queue", counter("queue", pause=0.01), log="journal")
    root = testbed.project(["queue"])
    f = follow(root, "queue", "-n", "2", "--grep", "^queue [0-9]*0 ")
    f.wait(lambda: len(f.out) > 5, "first matching lines")
    assert testbed.kill_sessions(), "no sshd session to kill"
    f.wait(lambda: any("reconnected" in e for e in f.err), "a reconnect")
    seen = len(f.out)
    f.wait(lambda: len(f.out) > seen + 5, "matching lines after the reconnect")
    assert_clean_interrupt(f)
    tens = numbers(f.out, "queue")
    assert all(n % 10 == 0 for n in tens), tens
    assert [b - a for a, b in itertools.pairwise(tens)] == [10] * (len(tens) - 1), tens


def test_a_unit_of_no_systemd_is_read_from_its_file(testbed: TestBed, cli: CliRunner) -> None:
    """auto: no log file and no such unit -> the file, reported missing as ever."""
    root = testbed.project(["ghost"])
    result = cli("logs", "ghost", "-e", "test", cwd=root)
    assert result.exit_code == 1
    assert f"ghost: no log file {testbed.log_file('ghost')}" in result.stderr


@pytest.mark.parametrize("lines", ["3", "0"])
def test_follow_resumes_after_the_last_entry_when_the_session_is_killed(
    testbed: TestBed, follow, lines: str  # noqa: F811 - the fixture
) -> None:
    testbed.add_service("queue", counter("queue", pause=0.01), log="journal")
    root = testbed.project(["queue"])
    f = follow(root, "queue", "-n", lines)
    assert_survives_killed_sessions(testbed, f)
