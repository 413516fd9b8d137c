"""Log history as an operator asks for it: since a time, and several workers in one order.

Pure functions over decoded lines. A line that says no time (a stack trace's second
line, a wrapped message) belongs to the line above it and takes its time.

Several workers' histories are merged by time when every one of them carries times:
a stable sort on (time, position of the worker in the order asked, position of the
line), so equal times and lines without one keep their order, the same on every run.
When a worker's lines carry no time, no order between workers can be known: each
worker's lines come as a block, in the order the workers were asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from pshctl.logs.times import UTC, line_time


def times_of(lines: Sequence[str], zone: tzinfo = UTC) -> list[float | None]:
    """Each line's time; a line without one takes the time of the line above it (None
    for lines before the first that has one)."""
    found: list[float | None] = []
    last: float | None = None
    for line in lines:
        moment = line_time(line, zone)
        last = moment if moment is not None else last
        found.append(last)
    return found


def since_start(times: Sequence[float | None], since: float) -> tuple[int | None, bool]:
    """Where the lines written at or after ``since`` begin, and whether a line older than
    ``since`` was seen (so that no earlier part of the log can hold more of them).

    (None, False) when no line has a time: ``since`` cannot choose among them.
    """
    older = False
    for index, moment in enumerate(times):
        if moment is None:
            continue
        if moment >= since:
            return index, older
        older = True
    return (len(times), True) if older else (None, False)


def merged(histories: Mapping[str, Sequence[bytes]], order: Sequence[str],
           zone: tzinfo = UTC) -> list[tuple[str, bytes, float | None]]:
    """Every line (as the bytes the log holds) as (worker, line, its time), in the order
    described above."""
    rows: list[tuple[float, int, int, str, bytes, float | None]] = []
    timed = True
    blocks: list[tuple[str, bytes, float | None]] = []
    for rank, worker in enumerate(order):
        lines = histories.get(worker, ())
        times = times_of([line.decode("utf-8", "replace") for line in lines], zone)
        first = next((t for t in times if t is not None), None)
        if lines and first is None:
            timed = False
        for index, (line, moment) in enumerate(zip(lines, times, strict=True)):
            blocks.append((worker, line, moment))
            # Lines above the first timed one come just before it.
            key = moment if moment is not None else (first if first is not None else 0.0)
            rows.append((key, rank, index, worker, line, moment))
    if not timed:
        return blocks
    rows.sort(key=lambda row: row[:3])
    return [(worker, line, moment) for _, _, _, worker, line, moment in rows]
