"""`pshctl top`'s pure part: /proc stat lines, process trees, CPU % and RSS."""

from __future__ import annotations

import os
import subprocess

import pytest

from pshctl.cli.top import human_bytes, usage_cells
from pshctl.errors import OperationFailed
from pshctl.top import (
    ProcSample,
    ProcStat,
    Snapshot,
    TreeUsage,
    parse_sample,
    parse_stat,
    proc_command,
    tree,
    tree_usage,
)


def stat_line(pid: int, ppid: int, *, comm: str = "sleep", utime: int = 0, stime: int = 0,
              cutime: int = 0, cstime: int = 0, start: int = 100, rss: int = 10) -> str:
    """A /proc/PID/stat line as Linux writes it (fields per proc(5))."""
    fields = ["S", ppid, pid, pid, 0, -1, 4194304, 0, 0, 0, 0, utime, stime, cutime, cstime,
              20, 0, 1, 0, start, 1000000, rss] + [0] * 30
    return f"{pid} ({comm}) " + " ".join(str(f) for f in fields)


def test_a_stat_line_gives_parent_times_start_and_rss() -> None:
    stat = parse_stat(stat_line(42, 7, utime=5, stime=3, cutime=2, cstime=1, start=900, rss=77))
    assert stat == ProcStat(pid=42, ppid=7, ticks=11, start=900, rss_pages=77)


@pytest.mark.parametrize("comm", ["a b", "x) (y", "((", "worker: queue)"])
def test_a_command_name_with_spaces_and_parentheses_is_read_past(comm: str) -> None:
    stat = parse_stat(stat_line(9, 1, comm=comm, utime=4, rss=3))
    assert stat is not None and (stat.pid, stat.ppid, stat.ticks, stat.rss_pages) == (9, 1, 4, 3)


@pytest.mark.parametrize("line", ["", "garbage", "12 (cut", "12 (x) S 1 2", "x (y) S 1"])
def test_a_line_that_is_not_a_stat_line_is_skipped(line: str) -> None:
    assert parse_stat(line) is None


def snap(uptime: float, *lines: str) -> Snapshot:
    stats = [parse_stat(line) for line in lines]
    return Snapshot(uptime, {s.pid: s for s in stats if s is not None})


def sample(before: Snapshot, after: Snapshot, tick: int = 100, page: int = 4096) -> ProcSample:
    return ProcSample(tick, page, before, after)


def test_the_tree_is_the_root_and_its_descendants_only() -> None:
    now = snap(10, stat_line(1, 0), stat_line(10, 1), stat_line(11, 10), stat_line(12, 11),
               stat_line(20, 1), stat_line(13, 10))
    assert [s.pid for s in tree(10, now.processes)] == [10, 11, 12, 13]
    assert tree(99, now.processes) == []


def test_cpu_memory_and_uptime_of_a_tree() -> None:
    before = snap(1000.0, stat_line(10, 1, utime=100, start=50_000),
                  stat_line(11, 10, utime=10, start=60_000), stat_line(30, 1, utime=500))
    after = snap(1002.0, stat_line(10, 1, utime=150, stime=10, start=50_000, rss=100),
                 stat_line(11, 10, utime=50, start=60_000, rss=50), stat_line(30, 1, utime=900))
    usage = tree_usage(10, sample(before, after))
    # (160 + 50) - (100 + 10) = 100 ticks in 2 s at 100 ticks/s: half a core.
    assert usage == TreeUsage(pid=10, processes=2, cpu_percent=50.0, rss_bytes=150 * 4096,
                              uptime_s=1002.0 - 500.0)


def test_a_child_that_exited_and_was_reaped_keeps_its_time_in_the_parent() -> None:
    # Between the looks the child (20 ticks so far, 30 more) ended; the parent reaped it,
    # so its 50 ticks moved into the parent's cutime: only the 30 of the window count.
    before = snap(100.0, stat_line(10, 1, utime=5), stat_line(11, 10, utime=20))
    after = snap(101.0, stat_line(10, 1, utime=5, cutime=50))
    usage = tree_usage(10, sample(before, after))
    assert usage is not None and usage.cpu_percent == pytest.approx(30.0)
    assert usage.processes == 1


def test_a_child_that_left_the_tree_does_not_make_cpu_negative() -> None:
    before = snap(100.0, stat_line(10, 1, utime=5), stat_line(11, 10, utime=900))
    after = snap(101.0, stat_line(10, 1, utime=6), stat_line(11, 1, utime=901))  # reparented
    usage = tree_usage(10, sample(before, after))
    assert usage is not None and usage.cpu_percent == 0.0


def test_a_main_process_new_since_the_first_look_has_no_cpu_figure() -> None:
    before = snap(100.0, stat_line(10, 1, utime=5, start=100))
    after = snap(101.0, stat_line(10, 1, utime=1, start=10_050))  # pid reused
    usage = tree_usage(10, sample(before, after))
    assert usage is not None and usage.cpu_percent is None and usage.uptime_s == pytest.approx(0.5)
    assert tree_usage(10, sample(snap(100.0), after)).cpu_percent is None  # type: ignore[union-attr]


def test_a_main_process_gone_has_no_usage() -> None:
    assert tree_usage(10, sample(snap(1, stat_line(10, 1)), snap(2, stat_line(11, 1)))) is None


def test_the_reader_output_is_parsed_with_its_units() -> None:
    text = "\n".join(["T 250 16384", "U 10.00 3.0", stat_line(10, 1, utime=1), "=",
                      "U 10.50 3.1", stat_line(10, 1, utime=26, rss=2), "="]) + "\n"
    parsed = parse_sample(text)
    assert (parsed.clock_tick, parsed.page_size) == (250, 16384)
    usage = tree_usage(10, parsed)
    assert usage is not None and usage.cpu_percent == pytest.approx(20.0)  # 25/250/0.5
    assert usage.rss_bytes == 2 * 16384


@pytest.mark.parametrize("text", ["", "U 1 1\n=\nU 2 2\n=\n", "T 0 4096\nU 1 1\n=\nU 2 2\n=\n"])
def test_an_answer_that_is_not_the_readers_is_an_error(text: str) -> None:
    with pytest.raises(OperationFailed, match="unexpected answer from the /proc reader"):
        parse_sample(text)


@pytest.mark.parametrize("text", ["T 100 4096\n", "T 100 4096\nU 1 1\n=\nU 2 2\n1 (x) S"])
def test_an_answer_cut_short_says_so(text: str) -> None:
    with pytest.raises(OperationFailed, match=r"answer is cut short \(. of 2 looks"):
        parse_sample(text)


def test_the_reader_script_runs_on_this_machine_and_sees_itself() -> None:
    done = subprocess.run(proc_command(0.1), shell=True, capture_output=True, text=True,
                          timeout=30, check=True)
    parsed = parse_sample(done.stdout)
    assert parsed.clock_tick > 0 and parsed.page_size > 0
    assert parsed.after.uptime > parsed.before.uptime
    me = tree_usage(os.getpid(), parsed)  # this test, and the shell it started below it
    assert me is not None and me.processes >= 2 and me.rss_bytes > 0


def test_json_fields_are_rounded_and_named_as_the_api() -> None:
    usage = TreeUsage(pid=3, processes=2, cpu_percent=12.345, rss_bytes=1000, uptime_s=7.26)
    assert usage.to_dict() == {"pid": 3, "processes": 2, "cpu_percent": 12.3,
                               "rss_bytes": 1000, "uptime_s": 7.3}


@pytest.mark.parametrize(("count", "text"), [(0, "0B"), (1023, "1023B"), (1024, "1.0K"),
                                             (5 * 1024**2 + 512 * 1024, "5.5M"),
                                             (3 * 1024**3, "3.0G"), (2 * 1024**4, "2.0T")])
def test_memory_is_shown_in_binary_units(count: int, text: str) -> None:
    assert human_bytes(count) == text


def test_a_worker_running_nothing_shows_dashes() -> None:
    assert usage_cells(None) == ["-", "-", "-"]
    assert usage_cells(TreeUsage(1, 4, None, 2048, 1.0)) == ["4", "-", "2.0K"]


def test_a_looks_time_is_the_middle_of_its_two_clock_reads() -> None:
    from pshctl.top import parse_sample

    text = "\n".join(["T 100 4096", "U 10.00 3.0", stat_line(10, 1, utime=1), "V 10.10 3.0",
                      "=", "U 11.00 3.1", stat_line(10, 1, utime=101), "V 11.30 3.1",
                      "="]) + "\n"
    sample = parse_sample(text)
    assert (sample.before.uptime, sample.after.uptime) == (10.05, 11.15)
