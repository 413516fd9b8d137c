"""Times in log lines, and --since values (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pshctl.logs.times import line_time, since

UTC = timezone.utc
T = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC).timestamp()
PARIS = timezone(timedelta(hours=1))


@pytest.mark.parametrize(("line", "expected"), [
    ("2026-12-01T10:00:00Z worker started", T),
    ("2026-12-01T10:00:00.250Z done", T + 0.25),
    ("2026-12-01T11:00:00+01:00 done", T),
    ("2026-12-01T11:00:00+0100 done", T),
    ("2026-12-01 10:00:00,500 INFO app: python logging", T + 0.5),
    ("[2026-12-01 10:00:00.123456] Launching command 'php cron.php'", T + 0.123456),
    ("2026/12/01 10:00:00 [error] 12#12: *1 connect() failed", T),
    ('1.2.3.4 - - [01/Dec/2026:11:00:00 +0100] "GET / HTTP/1.1" 200', T),
    ("[01-Dec-2026 10:00:00 UTC] PHP Warning:  Undefined variable", T),
    ("[01-Dec-2026 10:00:00] PHP Notice", T),
    ('{"level":"info","time":"2026-12-01T10:00:00Z","msg":"ok"}', T),
    ('{"@timestamp": "2026-12-01T10:00:00.000Z", "message": "x"}', T),
    ("  (2026-12-01 10:00:00) indented and bracketed", T),
])
def test_the_shapes_of_time_logs_start_with(line: str, expected: float) -> None:
    assert line_time(line) == pytest.approx(expected)


@pytest.mark.parametrize("line", [
    "", "plain text, no time", "    at Foo.bar(Foo.java:12)", "2026-13-45T99:00:00 nonsense",
    "job 2026-12-01T10:00:00Z done",  # a time inside the text is not the line's time
    "12345 items", '{"msg": "no time key"}', "Foo  1 10:00:00 not a month",
])
def test_lines_without_a_time_have_none(line: str) -> None:
    assert line_time(line) is None


def test_a_time_without_a_zone_is_in_the_default_zone() -> None:
    assert line_time("2026-12-01 11:00:00 x", PARIS) == pytest.approx(T)
    assert line_time("2026-12-01 11:00:00Z x", PARIS) == pytest.approx(T + 3600)


def test_syslog_times_take_the_year_that_puts_them_in_the_past() -> None:
    january = datetime(2027, 1, 2, tzinfo=UTC)
    assert line_time("Dec  1 10:00:00 host cron[1]: x", now=january) == pytest.approx(T)
    december = datetime(2026, 12, 5, tzinfo=UTC)
    assert line_time("Dec  1 10:00:00 host x", now=december) == pytest.approx(T)


@pytest.mark.parametrize(("text", "ago"), [
    ("10m", 600), ("90s", 90), ("2h", 7200), ("1h30m", 5400), ("3d", 259200), ("1w", 604800),
    ("0.5h", 1800),
])
def test_since_a_while_ago(text: str, ago: float) -> None:
    assert since(text, now=T) == pytest.approx(T - ago)


def test_since_a_time() -> None:
    assert since("2026-12-01T10:00Z", now=0) == pytest.approx(T)
    assert since("2026-12-01T11:00:00+01:00", now=0) == pytest.approx(T)
    assert since("2026-12-01T11:00", now=0, local=PARIS) == pytest.approx(T)
    assert since("2026-12-01", now=0, local=UTC) == pytest.approx(T - 36000)


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "yesterday", "2026-12-01T25:00",
                                  "10m ago", "-5m", "2026-12-01Tjunk"])
def test_what_since_does_not_take(text: str) -> None:
    assert since(text, now=T) is None


def test_lines_of_one_second_differ_by_their_fraction_and_zone() -> None:
    """Each second's time is built once and kept: the fraction, the zone written and the
    default zone still count for every line."""
    lines = ["2026-12-01T10:00:00.5Z a", "2026-12-01T10:00:00Z b",
             "2026-12-01T10:00:00+01:00 c", "2026-12-01T10:00:00 d"]
    assert [line_time(line) for line in lines] == [T + 0.5, T, T - 3600, T]
    assert [line_time(line, PARIS) for line in lines] == [T + 0.5, T, T - 3600, T - 3600]
    assert line_time("2026-13-01T10:00:00Z not a month") is None  # and again, from the kept
    assert line_time("2026-13-01T10:00:00.1Z not a month") is None
