"""--grep, --since and merged history without SSH: the remote scripts run locally, the
decoder's G frames, and the pure history functions."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pshctl.errors import UsageError
from pshctl.logs import (
    BAD_PATTERN_STATUS,
    TAIL_SCRIPT,
    WINDOW_SCRIPT,
    FollowDecoder,
    LogRequest,
    follow_command,
    parse_window,
    tail_command,
    window_command,
)
from pshctl.logs.history import merged, since_start, times_of
from pshctl.logs.protocol import MISSING_STATUS
from tests.helpers import wait_until
from tests.localfollow import LocalFollow, append, followers, texts


def sh(script: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", "-c", script, "sh", *args], capture_output=True, timeout=30,
                          check=False)


# --- tail with a pattern -----------------------------------------------------------------


def test_tail_with_a_pattern_gives_the_last_matching_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"{'ERROR' if i % 3 == 0 else 'info'} {i}\n" for i in range(30)))
    done = sh(TAIL_SCRIPT, str(log), "2", "ERROR|fatal")
    assert (done.returncode, done.stdout) == (0, b"ERROR 24\nERROR 27\n")
    every = sh(TAIL_SCRIPT, str(log), "all", "^ERROR (0|3)$")
    assert (every.returncode, every.stdout) == (0, b"ERROR 0\nERROR 3\n")
    none = sh(TAIL_SCRIPT, str(log), "all", "nothing like this")
    assert (none.returncode, none.stdout) == (0, b"")
    assert sh(TAIL_SCRIPT, str(log), "5", "--not-an-option").returncode == 0  # -e PATTERN


def test_a_pattern_grep_refuses_is_said_and_the_missing_log_too(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x\n")
    bad = sh(TAIL_SCRIPT, str(log), "5", "(unclosed")
    assert bad.returncode == BAD_PATTERN_STATUS and b"grep" in bad.stderr
    assert sh(TAIL_SCRIPT, str(tmp_path / "nope"), "5", "x").returncode == MISSING_STATUS


def test_nothing_the_pattern_holds_reaches_a_shell(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("$(touch pwned) `touch pwned` ; touch pwned\n")
    for pattern in ("$(touch pwned)", "`touch pwned`", "x; touch pwned", "'\"; touch pwned"):
        command = tail_command(str(log), None, pattern)
        subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, timeout=30,
                       check=False)
        command = window_command(str(log), 100, pattern)
        subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, timeout=30,
                       check=False)
    assert not (tmp_path / "pwned").exists()


def test_a_pattern_is_one_line() -> None:
    with pytest.raises(UsageError, match="one pattern on one line"):
        LogRequest(grep="a\nb")
    with pytest.raises(UsageError):
        LogRequest(grep="")
    assert follow_command("/l", 5, None, "x|y").endswith(" /l 5 '' '' 'x|y'")
    assert tail_command("/l", 5) == tail_command("/l", 5, None)


# --- windows (--since) ----------------------------------------------------------------


def test_a_window_is_the_end_of_the_log_in_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\nthree\nhalf")
    done = sh(WINDOW_SCRIPT, str(log), "9")
    window = parse_window(done.stdout, 9)
    assert window is not None and done.returncode == 0
    stat = os.stat(log)
    assert window.file_id == f"{stat.st_dev}:{stat.st_ino}"
    assert window.end == len("one\ntwo\nthree\n")  # the unfinished line is left to a follow
    assert window.data == b"wo\nthree\n" and not window.complete
    assert window.lines == [b"three"]  # the line the window cut through is left out
    whole = parse_window(sh(WINDOW_SCRIPT, str(log), "1000").stdout, 1000)
    assert whole is not None and whole.complete
    assert whole.lines == [b"one", b"two", b"three"]


def test_a_window_of_matching_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a 1\nb 2\na 3\nb 4\na 5\n")
    window = parse_window(sh(WINDOW_SCRIPT, str(log), "1000", "^a").stdout, 1000)
    assert window is not None and window.lines == [b"a 1", b"a 3", b"a 5"]
    assert window.end == log.stat().st_size
    assert sh(WINDOW_SCRIPT, str(tmp_path / "nope"), "10").returncode == MISSING_STATUS
    assert sh(WINDOW_SCRIPT, str(log), "10", "(").returncode == BAD_PATTERN_STATUS


def test_an_answer_that_is_no_window_is_none() -> None:
    assert parse_window(b"", 10) is None
    assert parse_window(b"8:9 12", 10) is None  # no newline: cut short
    assert parse_window(b"8:9 x\n", 10) is None
    empty = parse_window(b"8:9 0\n", 10)
    assert empty is not None and empty.lines == [] and empty.complete


# --- following with a pattern (G frames) --------------------------------------------------


@pytest.fixture
def grep_follower() -> Iterator[Callable[..., LocalFollow]]:
    """FOLLOW_SCRIPT as a local process; tests give the pattern (its fifth argument)."""
    yield from followers()


def test_follow_sends_only_matching_whole_lines(tmp_path: Path, grep_follower) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "app.log"
    log.write_text("".join(f"{'hit' if i % 2 else 'miss'} {i}\n" for i in range(20)))
    f = grep_follower(log, 2, pattern="^hit")
    f.wait_lines("hit 17", "hit 19")
    append(log, "miss new\nhit new 1\nhit new 2 ha")  # the last one is not finished yet
    f.wait_lines("hit new 1")
    append(log, "lf done\nmiss\n")
    f.wait_lines("hit new 1", "hit new 2 half done")
    assert f.lines == ["hit 17", "hit 19", "hit new 1", "hit new 2 half done"]


def test_a_follow_with_a_pattern_resumes_where_it_was(tmp_path: Path, grep_follower) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "app.log"
    log.write_text("hit 1\nmiss\nhit 2\n")
    first = grep_follower(log, 10, pattern="hit")
    first.wait_lines("hit 1", "hit 2")
    assert first.decoder.resume_point == (first.decoder.file_id, log.stat().st_size)
    first.stop()
    append(log, "miss\nhit 3\n")
    first.decoder.reset_link()
    again = grep_follower(log, 10, pattern="hit", decoder=first.decoder,
                          resume=first.decoder.resume_point)
    again.wait_lines("hit 3")
    assert again.lines == ["hit 3"]  # nothing repeated, nothing lost


def test_no_backlog_asked_with_a_pattern(tmp_path: Path, grep_follower) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "app.log"
    log.write_text("hit old\n")
    f = grep_follower(log, 0, pattern="hit")
    wait_until(lambda: f.decoder.started, "the first frame")
    append(log, "hit new\n")
    f.wait_lines("hit new")
    assert f.lines == ["hit new"]


def test_g_frames_decode_however_they_are_cut() -> None:
    stream = b"G 8:9 12 6\nhit 1\nG 8:9 30 12\nhit 2\nhit 3\n"
    for piece in (1, 2, 5, 7, 100):
        decoder = FollowDecoder("w", "/l", 10)
        events = []
        for i in range(0, len(stream), piece):
            events += decoder.feed(stream[i:i + piece])
        assert texts(events) == ["hit 1", "hit 2", "hit 3"]
        assert decoder.resume_point == ("8:9", 30)


def test_a_g_frame_cut_by_a_lost_connection_shows_nothing_twice() -> None:
    decoder = FollowDecoder("w", "/l", 10)
    assert texts(decoder.feed(b"G 8:9 12 6\nhit 1\nG 8:9 30 12\nhit 2\nhi")) == ["hit 1"]
    decoder.reset_link()
    assert decoder.resume_point == ("8:9", 12)  # the cut frame is asked for again
    assert texts(decoder.feed(b"S 8:9 12\nG 8:9 30 12\nhit 2\nhit 3\n")) == ["hit 2", "hit 3"]
    assert decoder.resume_point == ("8:9", 30)


def test_a_follow_can_resume_from_a_window() -> None:
    decoder = FollowDecoder("w", "/l", None)
    decoder.resume_from("8:9", 77)
    assert decoder.resume_point == ("8:9", 77)


# --- history ------------------------------------------------------------------------------


def test_lines_without_a_time_take_the_time_above() -> None:
    lines = ["no time yet", "2026-12-01T10:00:00Z boom", "  at Foo.bar", "2026-12-01T10:00:05Z ok"]
    times = times_of(lines)
    assert times[0] is None and times[1] == times[2] and times[3] == times[1] + 5  # type: ignore[operator]


def test_where_lines_since_a_time_begin() -> None:
    assert since_start([None, 1.0, 2.0, 3.0], 2.0) == (2, True)
    assert since_start([5.0, 6.0], 2.0) == (0, False)  # an earlier part may hold more
    assert since_start([1.0, 1.5], 2.0) == (2, True)  # none since then
    assert since_start([None, None], 2.0) == (None, False)  # no times: cannot choose


def test_histories_with_times_merge_by_time_stably() -> None:
    histories = {
        "queue": [b"2026-12-01T10:00:01Z q1", b"  q1 detail", b"2026-12-01T10:00:03Z q3"],
        "mail": [b"2026-12-01T10:00:00Z m0", b"2026-12-01T10:00:03Z m3"],
    }
    order = ["queue", "mail"]
    rows = [(w, line) for w, line, _ in merged(histories, order)]
    assert rows == [("mail", b"2026-12-01T10:00:00Z m0"), ("queue", b"2026-12-01T10:00:01Z q1"),
                    ("queue", b"  q1 detail"), ("queue", b"2026-12-01T10:00:03Z q3"),
                    ("mail", b"2026-12-01T10:00:03Z m3")]  # a tie: the order asked
    assert merged(histories, order) == merged(dict(reversed(histories.items())), order)


def test_histories_without_times_come_in_the_order_asked() -> None:
    histories = {"queue": [b"2026-12-01T10:00:01Z q"], "mail": [b"no time", b"none"]}
    rows = [(w, line) for w, line, _ in merged(histories, ["mail", "queue"])]
    assert rows == [("mail", b"no time"), ("mail", b"none"), ("queue", b"2026-12-01T10:00:01Z q")]


def test_a_g_frame_of_another_file_cut_by_a_lost_connection_resumes_nowhere_yet() -> None:
    """The file was replaced while filtering: until a frame of the new file is whole, its
    place is not known, so a reconnect does not claim one."""
    decoder = FollowDecoder("w", "/l", 10)
    assert texts(decoder.feed(b"G 8:9 12 6\nhit 1\n")) == ["hit 1"]
    assert texts(decoder.feed(b"G 7:7 40 12\nhit 2\nhi")) == []
    decoder.reset_link()
    assert decoder.resume_point is None
    assert texts(decoder.feed(b"S 7:7 0\nG 7:7 40 12\nhit 2\nhit 3\n")) == ["hit 2", "hit 3"]
    assert decoder.resume_point == ("7:7", 40)


def test_g_frames_without_a_final_newline_keep_their_last_byte() -> None:
    decoder = FollowDecoder("w", "/l", 10)
    assert texts(decoder.feed(b"G 8:9 9 5\nhit 1G 8:9 12 0\n")) == ["hit 1"]
    assert decoder.resume_point == ("8:9", 12)  # an empty frame still moves the place on
