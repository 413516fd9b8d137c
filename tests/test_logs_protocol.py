"""The follow protocol without SSH: line assembly, the decoder, the remote scripts run locally."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pshctl.errors import UsageError
from pshctl.logs import (
    FOLLOW_SCRIPT,
    FOLLOW_SH,
    TAIL_SCRIPT,
    FollowDecoder,
    LineAssembler,
    LogNotice,
    LogRequest,
    last_lines,
    log_path,
)
from pshctl.targets import Target
from tests.localfollow import LocalFollow, append, followers, texts

# --- LineAssembler / last_lines ------------------------------------------------------


def test_assembler_hands_out_whole_lines_only() -> None:
    lines = LineAssembler()
    assert lines.feed(b"one\ntw") == b"one"
    assert lines.feed(b"o") is None
    assert lines.held == 3
    assert lines.feed(b"\nthree\nfour\n") == b"two\nthree\nfour"
    assert lines.held == 0
    assert lines.feed(b"\n") == b""  # an empty line is a line
    assert lines.feed(b"tail") is None
    assert lines.flush() == b"tail"
    assert lines.flush() is None


def test_assembler_passes_on_overlong_lines_in_pieces() -> None:
    lines = LineAssembler(max_line=10)
    assert lines.feed(b"x" * 6) is None
    assert lines.feed(b"x" * 6) == b"x" * 12
    assert lines.held == 0


@pytest.mark.parametrize(
    ("data", "count", "expected"),
    [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc\n", 3, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 9, b"a\nb\nc\n"),
        (b"a\nb\nc", 1, b"c"),
        (b"a\nb\nc", 2, b"b\nc"),
        (b"a\nb\n", 0, b""),
        (b"", 3, b""),
        (b"\n\n", 1, b"\n"),
    ],
)
def test_last_lines_counts_like_tail(data: bytes, count: int, expected: bytes) -> None:
    assert last_lines(data, count) == expected


def test_tail_script_matches_gnu_tail(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)) + "no newline")
    out = subprocess.run(["sh", "-c", TAIL_SCRIPT, "sh", str(log), "3"], capture_output=True,
                         check=True).stdout
    assert out == b"line 48\nline 49\nno newline"
    assert last_lines(log.read_bytes(), 3) == out
    everything = subprocess.run(["sh", "-c", TAIL_SCRIPT, "sh", str(log), "all"],
                                capture_output=True, check=True).stdout
    assert everything == log.read_bytes()
    missing = subprocess.run(["sh", "-c", TAIL_SCRIPT, "sh", str(tmp_path / "nope"), "3"],
                             capture_output=True, check=False)
    assert missing.returncode == 66


# --- requests and paths -----------------------------------------------------------------


def test_log_path_and_type_validation() -> None:
    target = Target(name="queue", worker="queue", host="h", log_dir="/srv/log/")
    assert log_path(target) == "/srv/log/app.log"
    assert log_path(target, "cron") == "/srv/log/cron.log"
    for bad in ("../etc/passwd", "a/b", "", "-n"):
        with pytest.raises(UsageError):
            LogRequest(log_type=bad)
    with pytest.raises(UsageError):
        LogRequest(lines=-1)


# --- FollowDecoder ---------------------------------------------------------------------


def frames(*parts: bytes) -> bytes:
    return b"".join(parts)


def feed_in_pieces(decoder: FollowDecoder, data: bytes, size: int) -> list:
    events: list = []
    for i in range(0, len(data), size):
        events += decoder.feed(data[i : i + size])
    return events


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1000])
def test_decoder_survives_any_split(piece: int) -> None:
    stream = frames(
        b"B 1:2 100 8 1\n", b"a\nb\nc\nd\n",
        b"H\n",
        b"D 6\n", b"e\nf\ngg",
        b"D 3\n", b"g\nh",
        b"R 1:3\n",
        b"D 2\n", b"x\n",
        b"T\n",
        b"D 2\n", b"y\n",
    )
    decoder = FollowDecoder("w", "/log/app.log", lines=4)
    events = feed_in_pieces(decoder, stream, piece)
    assert texts(events) == ["a", "b", "c", "d", "e", "f", "ggg", "h", "x", "y"]
    kinds = [e.kind for e in events if isinstance(e, LogNotice)]
    assert kinds == ["rotated", "truncated"]
    assert decoder.resume_point == ("1:3", 2)


def test_decoder_trims_an_inexact_backlog_to_the_last_lines() -> None:
    decoder = FollowDecoder("w", "/log/app.log", lines=2)
    events = decoder.feed(b"B 9:9 5 11 0\nrt\nb\nc\nd\nee")
    assert texts(events) == ["d"]  # "ee" is unfinished and counts as the second line
    assert decoder.resume_point == ("9:9", 14)
    assert texts(decoder.feed(b"D 1\n\n")) == ["ee"]
    assert decoder.resume_point == ("9:9", 17)


def test_decoder_resume_point_is_after_the_last_whole_line() -> None:
    decoder = FollowDecoder("w", "/log/app.log", lines=10)
    decoder.feed(b"B 1:1 0 4 1\nab\ncd")
    assert decoder.resume_point == ("1:1", 3)
    decoder.feed(b"D 3")  # the link drops inside a header ...
    decoder.reset_link()
    assert decoder.resume_point == ("1:1", 3)  # ... "cd" will be sent again
    assert texts(decoder.feed(b"S 1:1 3\nD 3\ncd\n")) == ["cd"]


def test_decoder_drops_read_padding_at_truncation() -> None:
    decoder = FollowDecoder("w", "/log/app.log", lines=0)
    events = decoder.feed(b"B 1:1 0 0 1\nD 6\nab\0\0\0\0T\nD 4\nnew\n")
    assert texts(events) == ["ab", "new"]


def test_decoder_reports_a_missing_log_once() -> None:
    decoder = FollowDecoder("w", "/log/app.log", lines=10)
    events = decoder.feed(b"M\nH\nH\n")
    events += decoder.feed(b"M\n")
    assert [e.kind for e in events] == ["missing"]
    assert not events[0].is_failure  # following waits for it
    assert decoder.resume_point is None


def test_decoder_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        FollowDecoder("w", "p", 1).feed(b"Z what\n")


# --- the follow script, run locally --------------------------------------------------------


@pytest.fixture(params=["python", "sh"])
def follower(request: pytest.FixtureRequest) -> Iterator[Callable[..., LocalFollow]]:
    """Each script test runs the Python follower (python3 is here) and the sh fallback."""
    yield from followers(script=FOLLOW_SCRIPT if request.param == "python" else FOLLOW_SH)


def test_script_backlog_then_new_lines(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"old {i}\n" for i in range(1000)))
    f = follower(log, 3)
    f.wait_lines("old 997", "old 998", "old 999")
    append(log, "new 1\nnew 2 half")
    f.wait_lines("new 1")
    append(log, " done\n")
    f.wait_lines("new 1", "new 2 half done")
    assert f.lines == ["old 997", "old 998", "old 999", "new 1", "new 2 half done"]


def test_script_backlog_can_be_the_whole_log(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"old {i}\n" for i in range(100)))
    f = follower(log, None)
    f.wait_lines("old 98", "old 99")
    assert f.lines == [f"old {i}" for i in range(100)]


def test_script_rotation_keeps_late_lines_of_the_old_file(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    log.write_text("a\n")
    f = follower(log, 10)
    f.wait_lines("a")
    log.rename(tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", "late\n")  # the writer had not reopened yet
    f.wait_lines("late")  # read from the old file before the name points at a new one
    log.write_text("fresh\n")
    f.wait_lines("late", "fresh")
    assert [e.kind for e in f.events if isinstance(e, LogNotice)] == ["rotated"]


def test_script_truncation_reads_from_the_start(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    log.write_text("long line before\nand another\n")
    f = follower(log, 10)
    f.wait_lines("long line before", "and another")
    log.write_text("")  # as `: > app.log` or logrotate's copytruncate
    f.wait(lambda: any(isinstance(e, LogNotice) and e.kind == "truncated" for e in f.events))
    append(log, "after\n")
    f.wait_lines("after")
    assert "truncated" in [e.kind for e in f.events if isinstance(e, LogNotice)]


def test_script_waits_for_a_missing_log(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    f = follower(log, 10)
    f.wait(lambda: any(isinstance(e, LogNotice) and e.kind == "missing" for e in f.events))
    log.write_text("here\n")
    f.wait_lines("here")


def test_script_resumes_at_an_offset_or_starts_over(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    first = follower(log, 10)
    first.wait_lines("one", "two")
    point = first.decoder.resume_point
    first.stop()
    append(log, "three\n")
    first.decoder.reset_link()
    again = follower(log, 10, resume=point, decoder=first.decoder)
    again.wait_lines("three")
    assert again.lines == ["three"]  # nothing repeated
    # Replaced while disconnected (a follower still running would follow the new file at
    # once, as the inotify one does, and resume from there).
    point = again.decoder.resume_point
    again.stop()
    again.decoder.reset_link()
    log.unlink()
    log.write_text("other\n")
    other = follower(log, 10, resume=point, decoder=again.decoder)
    other.wait_lines("other")
    assert other.lines == ["other"]


def test_follower_is_python_woken_by_inotify_where_python3_is(tmp_path: Path) -> None:
    """No process per look: the follower is one python3, and it starts nothing."""
    import shutil

    if shutil.which("python3") is None:
        pytest.skip("no python3 on PATH")
    log = tmp_path / "app.log"
    log.write_text("old\n")
    f = LocalFollow(log, 1)
    try:
        f.wait_lines("old")
        for i in range(20):
            append(log, f"line {i}\n")
        f.wait_lines("line 19")
        assert "python" in Path(f"/proc/{f.proc.pid}/exe").resolve().name
        children = Path(f"/proc/{f.proc.pid}/task/{f.proc.pid}/children").read_text()
        assert children.split() == []
    finally:
        f.stop()


def test_follower_without_python3_is_the_sh_loop(tmp_path: Path) -> None:
    """The same script where the container has no python3: the polling loop answers."""
    import shutil

    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("sh", "stat", "tail", "head", "cat", "sleep", "wc"):
        found = shutil.which(tool)
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    f = LocalFollow(log, 1, env={"PATH": str(tools)})
    try:
        f.wait_lines("two")
        append(log, "three\n")
        f.wait_lines("two", "three")
        assert Path(f"/proc/{f.proc.pid}/exe").resolve().name != "python3"
    finally:
        f.stop()


# --- the edges the mutation run found (make mutation) -----------------------------------


def test_requests_say_exactly_what_is_wrong() -> None:
    with pytest.raises(UsageError) as bad_type:
        LogRequest(log_type="../x")
    assert bad_type.value.message == "invalid log type '../x'"
    assert bad_type.value.hint == ("a log type is a file name without '.log', such as app, "
                                   "deploy or cron")
    with pytest.raises(UsageError) as bad_lines:
        LogRequest(lines=-1)
    assert bad_lines.value.message == "--lines must be 0 or more"
    assert LogRequest(lines=0).lines == 0 and LogRequest(lines=None).lines is None


@pytest.mark.parametrize("pattern", ["", "a\nb", "a\0b", "\n", "\0"])
def test_a_pattern_is_one_line_of_text(pattern: str) -> None:
    with pytest.raises(UsageError) as bad:
        LogRequest(grep=pattern)
    assert (bad.value.message, bad.value.hint) == (
        "--grep takes one pattern on one line", "an extended regular expression, as grep -E takes")


@pytest.mark.parametrize("pattern", [None, "x", "a|b", " ", "^$"])
def test_a_pattern_on_one_line_is_taken_as_it_is(pattern: str | None) -> None:
    assert LogRequest(grep=pattern).grep == pattern


@pytest.mark.parametrize(("log_dir", "expected"), [
    ("/", "/app.log"), ("", "/app.log"), ("/srv/XX/", "/srv/XX/app.log"), ("/a//", "/a/app.log"),
])
def test_log_path_joins_any_log_dir(log_dir: str, expected: str) -> None:
    assert log_path(Target(name="w", worker="w", host="h", log_dir=log_dir)) == expected


def test_the_remote_commands_are_exactly_the_scripts_with_their_arguments() -> None:
    import shlex

    from pshctl.logs import follow_command, tail_command

    assert tail_command("/l/app.log", 5) == shlex.join(
        ["sh", "-c", TAIL_SCRIPT, "sh", "/l/app.log", "5"])
    assert tail_command("/l/app.log", None).endswith(" sh /l/app.log all")
    assert follow_command("/l/app.log", 0) == shlex.join(
        ["sh", "-c", FOLLOW_SCRIPT, "sh", "/l/app.log", "0", "", ""])
    assert follow_command("/l/app.log", None, ("8:9", 42)).endswith(" /l/app.log all 8:9 42")


def test_assembler_edges() -> None:
    assert LineAssembler().held == 0
    assert LineAssembler().feed_all([]) is None
    assert LineAssembler().feed_all([b"a\n", b"b"]) == b"a"  # the newline in the first chunk
    joined = LineAssembler()
    assert joined.feed_all([b"a", b"b\n"]) == b"ab"
    rest = LineAssembler()
    assert rest.feed_all([b"a\nb", b"c"]) == b"a" and rest.held == 2
    assert rest.flush() == b"bc"
    exact = LineAssembler(max_line=10)
    assert exact.feed(b"x" * 10) is None and exact.held == 10  # at the limit: still held
    assert exact.feed(b"y") == b"x" * 10 + b"y"


def test_decode_replaces_what_is_not_utf8() -> None:
    from pshctl.logs.protocol import decode

    assert decode(b"caf\xc3\xa9 \xff") == "café \ufffd"


def test_headers_are_bounded_however_they_are_cut() -> None:
    from pshctl.logs.protocol import MAX_HEADER

    longest = b"H" + b" " * (MAX_HEADER - 1)
    for pieces in ([longest + b"\n"], [longest, b"\n"], [longest[:10], longest[10:] + b"\n"]):
        decoder = FollowDecoder("w", "p", 1)
        for piece in pieces:
            assert decoder.feed(piece) == []
    for pieces in ([longest + b" \n"], [longest, b" \n"]):
        decoder = FollowDecoder("w", "p", 1)
        with pytest.raises(ValueError, match=r"^bad follow header: b'H   "):
            for piece in pieces:
                decoder.feed(piece)
    with pytest.raises(ValueError) as refused:
        FollowDecoder("w", "p", 1).feed(b"x" * (MAX_HEADER + 1))
    assert str(refused.value) == f"bad follow header: {b'x' * 80!r}"


@pytest.mark.parametrize(("frame", "shown"), [
    (b"Z what\n", "'Z what'"), (b"\n", "''"), (b"\xffQ\n", "'\ufffdQ'"),
    (b"Z 1:1 0 0 1\n", "'Z 1:1 0 0 1'"), (b"Z 1:1 3\n", "'Z 1:1 3'"),
    (b"D 1 2\n", "'D 1 2'"), (b"B 1:1 0 0\n", "'B 1:1 0 0'"), (b"S 1:1\n", "'S 1:1'"),
    (b"S 1:1 " + b"9" * 200 + b"\n", repr("S 1:1 " + "9" * 74)),  # its first 80 characters
])
def test_decoder_names_the_bad_header(frame: bytes, shown: str) -> None:
    with pytest.raises(ValueError) as refused:
        FollowDecoder("w", "p", 1).feed(frame)
    assert str(refused.value) == f"bad follow header: {shown}"


def test_events_carry_the_worker_and_say_what_happened() -> None:
    decoder = FollowDecoder("queue", "/log/app.log", lines=5)
    events = decoder.feed(b"M\nB 1:1 0 2 1\na\nR 1:2\nD 3\nbX\0T\nD 2\nc\n")
    assert all(e.worker == "queue" for e in events)
    assert [e.message for e in events if isinstance(e, LogNotice)] == [
        "no log file /log/app.log (yet); waiting for it",
        "/log/app.log was replaced; following the new file",
        "/log/app.log was truncated; reading from its start",
    ]
    assert texts(events) == ["a", "bX", "c"]  # the padding goes, the line's own X stays


def test_resume_points_through_every_frame() -> None:
    exact = FollowDecoder("w", "p", lines=5)
    exact.feed(b"B 1:1 0 4 1\nab")  # an exact backlog: resuming makes sense at once
    assert exact.resume_point == ("1:1", 0)
    trimmed = FollowDecoder("w", "p", lines=5)
    trimmed.feed(b"B 1:1 0 5 0\nab")  # a window to trim: only once it is all in
    assert trimmed.resume_point is None
    empty = FollowDecoder("w", "p", lines=0)
    assert empty.feed(b"B 1:1 7 0 1\n") == [] and empty.resume_point == ("1:1", 7)
    resumed = FollowDecoder("w", "p", lines=5)
    resumed.feed(b"S 4:2 3\n")
    assert resumed.resume_point == ("4:2", 3)
    rotated = FollowDecoder("w", "p", lines=5)
    rotated.feed(b"S 4:2 3\nR 4:3\nD 2\nx\n")
    assert rotated.resume_point == ("4:3", 2)


def test_no_backlog_asked_keeps_only_the_unfinished_line() -> None:
    for frame, expected in ((b"B 1:1 0 5 0\nab\ncd", ["cde"]), (b"B 1:1 0 4 0\nabcd", ["abcde"]),
                            (b"B 1:1 0 3 1\nab\n", ["e"])):
        decoder = FollowDecoder("w", "p", lines=0)
        events = decoder.feed(frame) + decoder.feed(b"D 2\ne\n")
        assert texts(events) == expected, frame


def test_a_trimmed_backlog_keeps_its_unfinished_line_once() -> None:
    decoder = FollowDecoder("w", "p", lines=1)
    events = feed_in_pieces(decoder, b"B 1:1 0 5 0\nab\ncd" + b"D 2\ne\n", 3)
    assert texts(events) == ["cde"]


# --- the history commands, run by the local shell ----------------------------------------

LOG = b"".join(f"{i:02d} {'even' if i % 2 == 0 else 'odd'}\n".encode() for i in range(20))


def _run(command: str) -> bytes:
    return subprocess.run(command, shell=True, capture_output=True, check=True,
                          timeout=30).stdout


def test_a_window_holds_the_last_whole_lines_and_where_they_end(tmp_path: Path) -> None:
    from pshctl.logs.protocol import parse_window, window_command

    log = tmp_path / "app.log"
    log.write_bytes(LOG + b"20 unfinis")  # the last line is still being written
    window = parse_window(_run(window_command(str(log), 20)), 20)
    assert window is not None and window.end == len(LOG) and not window.complete
    assert window.lines == [b"18 even", b"19 odd"]  # the line cut at its start left out
    matching = parse_window(_run(window_command(str(log), 16, "odd")), 16)
    assert matching is not None and matching.end == len(LOG)
    assert matching.lines == [b"17 odd", b"19 odd"]
    whole = parse_window(_run(window_command(str(log), 10_000, "1[0-9] even")), 10_000)
    assert whole is not None and whole.complete
    assert whole.lines == [f"{i} even".encode() for i in range(10, 20, 2)]


def test_a_tail_with_a_pattern_keeps_the_last_matching_lines(tmp_path: Path) -> None:
    from pshctl.logs.protocol import tail_command

    log = tmp_path / "app.log"
    log.write_bytes(LOG)
    assert _run(tail_command(str(log), 2, "even")) == b"16 even\n18 even\n"
    assert _run(tail_command(str(log), None, "^0[0-3]")) == b"00 even\n01 odd\n02 even\n03 odd\n"
    assert _run(tail_command(str(log), 1)) == b"19 odd\n"


def test_a_garbled_window_head_is_read_as_text() -> None:
    from pshctl.logs.protocol import parse_window

    window = parse_window(b"\xff:1 12\nsome data\n", 100)
    assert window is not None and (window.file_id, window.end) == ("\ufffd:1", 12)
    assert parse_window(b"only a head", 10) is None
    assert parse_window(b"1:2 x\n", 10) is None
