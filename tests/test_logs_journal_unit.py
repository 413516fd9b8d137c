"""The journal source's pure parts: its commands (quoted, never raw) and the decoder of
``journalctl -o json`` (cursor kept, bytes kept, entries cut anywhere by the network)."""

from __future__ import annotations

import json
import shlex

from pshctl.logs.journal import (
    FOLLOW_SCRIPT,
    TAIL_SCRIPT,
    JournalDecoder,
    follow_command,
    message_bytes,
    source_command,
    tail_command,
)
from pshctl.logs.protocol import LogLines


def entry(n: int, message: object) -> bytes:
    return json.dumps({"__CURSOR": f"s=ab;i={n:x}", "MESSAGE": message}).encode() + b"\n"


def lines(events: list) -> list[bytes]:
    return [line for e in events if isinstance(e, LogLines) for line in e.data.split(b"\n")]


def test_commands_quote_the_unit_and_pass_arguments() -> None:
    argv = shlex.split(follow_command("it's", 5, None))
    assert argv[:3] == ["sh", "-c", FOLLOW_SCRIPT]
    assert argv[3:] == ["sh", "it's.service", "5", "", "", "", ""]
    assert shlex.split(follow_command("/srv/x/app", None, "s=1;i=2"))[4:] == [
        "app.service", "all", "s=1;i=2", "", "", ""]
    assert shlex.split(follow_command("app", 0, None, fresh=True))[-3] == "1"
    # A cursor wins over "fresh": resuming after it is exact.
    assert shlex.split(follow_command("app", 0, "s=1", fresh=True))[-3] == ""
    assert shlex.split(tail_command("app", None))[3:] == ["sh", "app.service", "all", "", ""]
    source = shlex.split(source_command("/var/log/app.log", "app", "runit"))
    assert source[-3:] == ["/var/log/app.log", "app.service", "no"]
    assert shlex.split(source_command("/l", "app", "auto"))[-1] == "ask"
    assert shlex.split(source_command("/l", "app", "systemd"))[-1] == "yes"


def test_filters_are_arguments_the_time_in_whole_seconds_rounded_down() -> None:
    pattern = "it's $(rm -rf /) `x` \\d+"
    argv = shlex.split(tail_command("app", 20, since=1764583200.9, grep=pattern))
    assert argv[:3] == ["sh", "-c", TAIL_SCRIPT]
    assert argv[3:] == ["sh", "app.service", "20", "1764583200", pattern]
    argv = shlex.split(follow_command("app", None, "s=1", since=5.0, grep="a|b"))
    assert argv[3:] == ["sh", "app.service", "all", "s=1", "", "5", "a|b"]


def test_messages_as_bytes() -> None:
    assert message_bytes({"MESSAGE": "héllo"}) == "héllo".encode()
    assert message_bytes({"MESSAGE": [98, 255, 10]}) == b"b\xff\n"
    assert message_bytes({"MESSAGE": None}) is None  # too large, without --all
    assert message_bytes({}) is None


def test_decoder_keeps_the_cursor_of_the_last_whole_entry() -> None:
    decoder = JournalDecoder("q", "app.service")
    stream = entry(1, "one") + entry(2, [0xFF, 0x41]) + entry(3, "three")
    cut = len(stream) - 7  # the network cuts the third entry short
    assert lines(decoder.feed_all([stream[:5], stream[5:cut]])) == [b"one", b"\xffA"]
    assert decoder.cursor == "s=ab;i=2"
    decoder.reset_link()  # the connection dropped: the rest comes again, after i=2
    assert lines(decoder.feed_all([entry(3, "three")])) == [b"three"]
    assert decoder.cursor == "s=ab;i=3"


def test_the_marker_line_sets_the_cursor_and_shows_nothing() -> None:
    decoder = JournalDecoder("q", "app.service")
    assert decoder.feed_all([b"@" + entry(9, "old line")]) == []
    assert decoder.cursor == "s=ab;i=9" and decoder.seen and not decoder.fresh


def test_an_empty_journal_is_read_from_its_start_after_a_reconnect() -> None:
    decoder = JournalDecoder("q", "app.service")
    assert not decoder.fresh  # nothing heard yet: start as asked
    decoder.mark_seen()  # the heartbeat came, no entry: the journal had none
    assert decoder.fresh


def test_a_line_that_is_not_journal_json_is_shown_as_it_came() -> None:
    decoder = JournalDecoder("q", "app.service")
    assert lines(decoder.feed_all([b"Failed to seek to cursor\n"])) == [b"Failed to seek to cursor"]
