"""Logs without SSH: line assembly, the follow protocol, the remote script run locally."""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from pshctl.cli.logs import _Printer, colour_for
from pshctl.errors import UsageError
from pshctl.logs import (
    FOLLOW_SCRIPT,
    TAIL_SCRIPT,
    FollowDecoder,
    LineAssembler,
    LogLines,
    LogNotice,
    LogRequest,
    last_lines,
    log_path,
)
from pshctl.targets import Target


def texts(events: list) -> list[str]:
    return [line for e in events if isinstance(e, LogLines) for line in e.lines]


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


class LocalFollow:
    """FOLLOW_SCRIPT as a local process, its output decoded by a FollowDecoder."""

    def __init__(self, path: Path, lines: int | None, resume: tuple[str, int] | None = None,
                 decoder: FollowDecoder | None = None) -> None:
        rid, roff = (resume[0], str(resume[1])) if resume else ("", "")
        self.decoder = decoder or FollowDecoder("w", str(path), lines)
        self.events: list = []
        self.proc = subprocess.Popen(
            ["sh", "-c", FOLLOW_SCRIPT, "sh", str(path), "all" if lines is None else str(lines),
             rid, roff],
            stdout=subprocess.PIPE,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while data := os.read(self.proc.stdout.fileno(), 65536):
            self.events += self.decoder.feed(data)

    @property
    def lines(self) -> list[str]:
        return texts(self.events)

    def wait(self, check: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out; events: {self.events}"
            time.sleep(0.02)

    def wait_lines(self, *expected: str) -> None:
        self.wait(lambda: self.lines[-len(expected) :] == list(expected))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def follower():
    started: list[LocalFollow] = []

    def start(*args, **kwargs) -> LocalFollow:
        started.append(LocalFollow(*args, **kwargs))
        return started[-1]

    yield start
    for f in started:
        f.stop()


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


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
    time.sleep(0.5)
    log.write_text("fresh\n")
    f.wait_lines("late", "fresh")
    assert [e.kind for e in f.events if isinstance(e, LogNotice)] == ["rotated"]


def test_script_truncation_reads_from_the_start(tmp_path: Path, follower) -> None:
    log = tmp_path / "app.log"
    log.write_text("long line before\nand another\n")
    f = follower(log, 10)
    f.wait_lines("long line before", "and another")
    log.write_text("")  # as `: > app.log` or logrotate's copytruncate
    time.sleep(0.5)
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
    log.unlink()
    log.write_text("other\n")
    point = again.decoder.resume_point
    again.stop()
    again.decoder.reset_link()
    other = follower(log, 10, resume=point, decoder=again.decoder)
    other.wait_lines("other")
    assert other.lines == ["other"]


# --- printing ----------------------------------------------------------------------------


def test_printer_plain_prefixes_every_line_when_several_workers() -> None:
    printer = _Printer(["queue", "mail"], as_json=False)
    out = io.StringIO()
    with redirect_stdout(out):
        printer.lines(LogLines("mail", b"a [bold]b[/]\nc"))
        printer.lines(LogLines("queue", b""))
    assert out.getvalue() == "mail  | a [bold]b[/]\nmail  | c\nqueue | \n"


def test_printer_single_worker_is_raw_and_json_is_one_object_per_line() -> None:
    out = io.StringIO()
    at = 1795924227.1239  # 2026-11-29 03:50:27.1239 UTC
    with redirect_stdout(out):
        _Printer(["queue"], as_json=False).lines(LogLines("queue", b"x\ny"))
        _Printer(["queue"], as_json=True).lines(LogLines("queue", b'x\n"y"', received=at))
    stamp = '"received": "2026-11-29T03:50:27.123Z"'
    assert out.getvalue() == (
        f'x\ny\n{{"worker": "queue", "instance": 0, "name": "queue", "line": "x", {stamp}}}\n'
        f'{{"worker": "queue", "instance": 0, "name": "queue", "line": "\\"y\\"", {stamp}}}\n'
    )
    out = io.StringIO()
    with redirect_stdout(out):
        _Printer(["queue.1"], as_json=True, labels={"queue.1": ("queue", 1)}).lines(
            LogLines("queue.1", b"z", received=at))
    assert out.getvalue() == (f'{{"worker": "queue", "instance": 1, "name": "queue.1", '
                              f'"line": "z", {stamp}}}\n')


def test_printer_colours_prefixes_on_a_terminal_and_never_reads_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    from pshctl.cli import output

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, color_system="standard", no_color=False,
                       markup=False, highlight=False, emoji=False, soft_wrap=True)
    monkeypatch.setattr(output, "console", lambda stderr=False: terminal)
    printer = _Printer(["queue", "mail"], as_json=False)
    assert printer.styled
    printer.lines(LogLines("mail", b"[bold red]not markup[/] :x:\nsecond"))
    shown = screen.getvalue()
    assert "\x1b[" in shown  # coloured prefix
    assert "[bold red]not markup[/] :x:" in shown
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert plain == "mail  | [bold red]not markup[/] :x:\nmail  | second\n"


def test_colours_are_stable_per_name() -> None:
    assert colour_for("queue") == colour_for("queue")
    assert len({colour_for(n) for n in ("queue", "mail", "cron", "web", "a", "b")}) > 1


# --- the reconnect loop, with fake connections ----------------------------------------------


class FakeTransport:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


class FakeChannel:
    """Hands out ``chunks``; then EOF with no exit status (a dropped link) or blocks."""

    def __init__(self, chunks: list[bytes], drop: bool) -> None:
        self.chunks = list(chunks)
        self.drop = drop
        self.transport = FakeTransport()
        self.closed = threading.Event()

    def settimeout(self, timeout: float) -> None:
        self.timeout = timeout

    def shutdown_write(self) -> None:
        pass

    def recv(self, size: int) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.drop:
            self.transport.active = False
            return b""
        if self.closed.wait(self.timeout):
            return b""
        raise TimeoutError()

    def recv_ready(self) -> bool:
        return bool(self.chunks)

    def exit_status_ready(self) -> bool:
        return False

    def get_transport(self) -> FakeTransport:
        return self.transport

    def close(self) -> None:
        self.closed.set()


class FakeSession:
    def __init__(self, channel: FakeChannel, commands: list[str]) -> None:
        self.channel = channel
        self.commands = commands

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def open_exec(self, command: str) -> FakeChannel:
        self.commands.append(command)
        return self.channel


def test_follow_reconnects_with_backoff_and_resumes_after_the_last_line() -> None:
    from pshctl.errors import AuthenticationFailed, ConnectionFailed
    from pshctl.logs import LogStream

    commands: list[str] = []
    plan: list[object] = [
        FakeChannel([b"B 1:1 0 4 1\nab\n", b"cd"], drop=True),  # "cd" unfinished, then dropped
        ConnectionFailed("connection refused by h:22"),
        FakeChannel([b"S 1:1 3\nD 4\ncde\n"], drop=False),
    ]

    def connect(target, options):
        step = plan.pop(0)
        if isinstance(step, Exception):
            raise step
        return FakeSession(step, commands)

    target = Target(name="queue", worker="queue", host="h", log_dir="/log")
    events: list = []
    with LogStream([target], LogRequest(lines=5, follow=True), connect=connect) as stream:
        for event in stream:
            events.append(event)
            if isinstance(event, LogLines) and event.lines == ["cde"]:
                break
    assert texts(events) == ["ab", "cde"]
    kinds = [e.kind for e in events if isinstance(e, LogNotice)]
    assert kinds == ["disconnected", "reconnecting", "reconnected"]
    assert commands[0].endswith(" /log/app.log 5 '' ''")
    assert commands[1].endswith(" /log/app.log 5 1:1 3")  # after "ab\n", before "cd"

    refused = [AuthenticationFailed("no key accepted")]
    with LogStream([target], LogRequest(follow=True),
                   connect=lambda t, o: (_ for _ in ()).throw(refused[0])) as stream:
        events = list(stream)
    assert [(e.kind, e.is_failure) for e in events] == [("failed", True)]
    assert stream.failures["queue"].error is refused[0]
