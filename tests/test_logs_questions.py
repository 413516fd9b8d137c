"""`pshctl logs --since / --grep / --timestamps` and merged history, on real logs read
over a real sshd (the test bed)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.helpers import CliRunner
from tests.test_logs import follow, write_lines  # noqa: F401 - the fixture
from tests.testbed import PROMPT, TestBed

pytestmark = pytest.mark.integration

UTC = timezone.utc


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
def bed(testbed: TestBed) -> tuple[TestBed, Path]:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    return testbed, testbed.project(["queue", "mail"])


def test_grep_keeps_the_last_matching_lines(bed: tuple[TestBed, Path], cli: CliRunner) -> None:
    testbed, root = bed
    noise = [f"job {i} done" for i in range(5000)]
    noise[1000] = "job 1000 FAILED: Timeout"
    noise[4000] = "job 4000 FAILED: connection refused"
    noise[4500] = "job 4500 FAILED: disk full"
    write_lines(testbed.log_file("queue"), noise, "w")
    result = cli("logs", "queue", "-e", "test", "--grep", "Timeout|refused", cwd=root)
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == ["job 1000 FAILED: Timeout",
                                          "job 4000 FAILED: connection refused"]
    last = cli("logs", "queue", "-e", "test", "-g", "FAILED", "-n", "1", cwd=root)
    assert last.stdout.splitlines() == ["job 4500 FAILED: disk full"]
    bad = cli("logs", "queue", "-e", "test", "--grep", "(unclosed", cwd=root)
    assert bad.exit_code == 1, bad  # that log could not be read as asked
    assert "grep refused the pattern '(unclosed'" in bad.stderr


def test_grep_follows_only_matching_lines(bed: tuple[TestBed, Path], follow) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    testbed, root = bed
    log = testbed.log_file("queue")
    write_lines(log, ["ERROR old", "fine"], "w")
    f = follow(root, "queue", "--grep", "ERROR", "-n", "5")
    f.wait_out("ERROR old")
    write_lines(log, ["fine again", "ERROR new one", "fine"])
    f.wait_out("ERROR new one")
    write_lines(log, ["ERROR last"])
    f.wait_out("ERROR last")
    assert f.interrupt() == 130
    assert f.out == ["ERROR old", "ERROR new one", "ERROR last"]


def test_since_reads_back_as_far_as_needed(bed: tuple[TestBed, Path], cli: CliRunner) -> None:
    testbed, root = bed
    now = datetime.now(UTC)
    # 20,000 old lines (1.2 MB: more than the first window), then the last 30 minutes.
    old = [f"{stamp(now - timedelta(hours=5))} old {i} {'x' * 30}" for i in range(20000)]
    recent = [f"{stamp(now - timedelta(minutes=30 - i) + timedelta(seconds=30))} recent {i}"
              for i in range(30)]
    recent.insert(5, "  a line saying no time belongs to the one above")
    write_lines(testbed.log_file("queue"), old + recent, "w")
    result = cli("logs", "queue", "-e", "test", "--since", "10m", cwd=root)
    assert result.exit_code == 0, result
    got = result.stdout.splitlines()
    assert [line.split()[2] for line in got] == [str(i) for i in range(20, 30)]
    hours = cli("logs", "queue", "-e", "test", "--since", "6h", "-n", "3", cwd=root)
    assert [line.split()[-1] for line in hours.stdout.splitlines()] == ["27", "28", "29"]
    everything = cli("logs", "queue", "-e", "test", "--since", "6h", cwd=root)
    assert len(everything.stdout.splitlines()) == len(old) + len(recent)
    at = (now - timedelta(minutes=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    since_time = cli("logs", "queue", "-e", "test", "--since", at, cwd=root)
    assert [line.split()[2] for line in since_time.stdout.splitlines()] == ["27", "28", "29"]
    with_detail = cli("logs", "queue", "-e", "test", "--since", "26m", cwd=root)
    assert "  a line saying no time belongs to the one above" in with_detail.stdout
    bad = cli("logs", "queue", "-e", "test", "--since", "yesterday", cwd=root)
    assert bad.exit_code == 2 and "--since takes a duration or a time" in bad.stderr


def test_since_with_grep_and_a_log_without_times(bed: tuple[TestBed, Path],
                                                 cli: CliRunner) -> None:
    testbed, root = bed
    now = datetime.now(UTC)
    write_lines(testbed.log_file("queue"), [
        f"{stamp(now - timedelta(hours=1))} ERROR old",
        f"{stamp(now - timedelta(minutes=2))} ERROR new",
        f"{stamp(now - timedelta(minutes=1))} fine",
    ], "w")
    result = cli("logs", "queue", "-e", "test", "--since", "5m", "--grep", "ERROR", cwd=root)
    assert result.stdout.splitlines() == [f"{stamp(now - timedelta(minutes=2))} ERROR new"]
    write_lines(testbed.log_file("mail"), [f"plain {i}" for i in range(50)], "w")
    untimed = cli("logs", "mail", "-e", "test", "--since", "5m", "-n", "2", cwd=root)
    assert untimed.stdout.splitlines() == ["plain 48", "plain 49"]
    assert "says when it was written: --since cannot choose" in untimed.stderr


def test_history_of_several_workers_is_merged_by_time(bed: tuple[TestBed, Path],
                                                      cli: CliRunner) -> None:
    testbed, root = bed
    now = datetime.now(UTC)
    write_lines(testbed.log_file("queue"), [
        f"{stamp(now - timedelta(seconds=50))} q1", "  q1 traceback line",
        f"{stamp(now - timedelta(seconds=30))} q2"], "w")
    write_lines(testbed.log_file("mail"), [
        f"{stamp(now - timedelta(seconds=60))} m0", f"{stamp(now - timedelta(seconds=40))} m1",
        f"{stamp(now - timedelta(seconds=30))} m2"], "w")
    runs = [cli("logs", "queue", "mail", "-e", "test", "-n", "all", cwd=root).stdout
            for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    words = [line.split()[-1] for line in runs[0].splitlines()]
    assert words == ["m0", "q1", "line", "m1", "q2", "m2"]  # a tie keeps the order asked
    assert runs[0].splitlines()[0].startswith("mail  | ")


def test_history_without_times_comes_in_the_order_asked(bed: tuple[TestBed, Path],
                                                        cli: CliRunner) -> None:
    testbed, root = bed
    write_lines(testbed.log_file("queue"), ["q a", "q b"], "w")
    write_lines(testbed.log_file("mail"), ["m a", "m b"], "w")
    runs = {cli("logs", "mail", "queue", "-e", "test", cwd=root).stdout for _ in range(3)}
    assert runs == {"mail  | m a\nmail  | m b\nqueue | q a\nqueue | q b\n"}


def test_timestamps_say_the_line_s_own_time_else_when_it_came(
        bed: tuple[TestBed, Path], cli: CliRunner) -> None:
    testbed, root = bed
    write_lines(testbed.log_file("queue"), ["[2026-12-01 10:00:00.250000] own time",
                                            "no time of its own"], "w")
    began = time.time()
    result = cli("logs", "queue", "-e", "test", "--timestamps", cwd=root)
    own, received = result.stdout.splitlines()
    assert own == "2026-12-01T10:00:00.250Z [2026-12-01 10:00:00.250000] own time"
    when, text = received.split(" ", 1)
    assert text == "no time of its own"
    moment = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    assert began - 1 <= moment <= time.time() + 1
    rows = [json.loads(line) for line in
            cli("logs", "queue", "-e", "test", "--json", cwd=root).stdout.splitlines()]
    assert [r["time"] for r in rows] == ["2026-12-01T10:00:00.250Z", None]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["received"])
               for r in rows)


def test_follow_since_shows_the_recent_history_then_what_comes(
        bed: tuple[TestBed, Path], follow) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    testbed, root = bed
    now = datetime.now(UTC)
    log = testbed.log_file("queue")
    write_lines(log, [f"{stamp(now - timedelta(hours=2))} ERROR too old",
                      f"{stamp(now - timedelta(minutes=3))} ERROR recent",
                      f"{stamp(now - timedelta(minutes=2))} fine recent"], "w")
    f = follow(root, "queue", "--since", "10m", "--grep", "ERROR")
    f.wait_out(f"{stamp(now - timedelta(minutes=3))} ERROR recent")
    write_lines(log, ["ERROR new, no time of its own", "fine"])
    f.wait_out("ERROR new, no time of its own")
    assert f.interrupt() == 130
    assert f.out == [f"{stamp(now - timedelta(minutes=3))} ERROR recent",
                     "ERROR new, no time of its own"]
