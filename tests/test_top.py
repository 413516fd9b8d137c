"""`pshctl top` and `status --wide` against real sshd and runit: figures checked against /proc."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers import CliRunner
from tests.testbed import PROMPT, TestBed

pytestmark = pytest.mark.integration

BUSY = "while :; do :; done\n"  # one core's worth of a shell loop, its own main process
TREE = "sleep 100000 &\nsleep 100000 &\nwait\n"  # the run script's shell and two children
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def _uptime(pid: int) -> float:
    boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
    return boot_uptime - int(_stat(pid)[19]) / TICK


def _rss(pid: int) -> int:
    return int(_stat(pid)[21]) * PAGE


def test_top_figures_match_proc(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_services({"busy": BUSY, "tree": TREE, "idle": PROMPT})
    root = testbed.project(["busy", "tree", "idle"])
    tree_pid = testbed.pid("tree")
    assert tree_pid is not None
    kids = _children(tree_pid)
    while len(kids) < 2:  # the run script is still forking its two sleeps
        time.sleep(0.05)
        kids = _children(tree_pid)

    result = cli("top", "-e", "test", "--json", "--sample", "1", cwd=root)
    assert result.exit_code == 0, result
    usage = {w["name"]: w["usage"] for w in result.json["workers"]}

    tree = usage["tree"]
    assert tree["pid"] == tree_pid and tree["processes"] == 3
    # RSS of idle processes does not move: the sum of what /proc says of each, now.
    assert tree["rss_bytes"] == sum(_rss(p) for p in [tree_pid, *kids])
    assert abs(tree["uptime_s"] - _uptime(tree_pid)) < 3
    assert tree["cpu_percent"] < 5

    busy = usage["busy"]
    assert busy["pid"] == testbed.pid("busy") and busy["processes"] == 1
    # A shell spinning on a 2-core machine shared with other work: clearly busy, at most
    # one core, give or take the rounding of two tick counters and two clock reads (each
    # to 1/TICK s) over the 1 s sample.
    assert 10 < busy["cpu_percent"] <= 100 + 4 * 100 / TICK
    assert usage["idle"]["cpu_percent"] < 5 and usage["idle"]["processes"] == 1


def test_top_shows_a_table_and_a_stopped_worker_as_dashes(testbed: TestBed,
                                                          cli: CliRunner) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    root = testbed.project(["queue", "mail"])
    testbed.sv("-w", "5", "stop", "mail")
    result = cli("top", "-e", "test", cwd=root)
    assert result.exit_code == 0, result
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["WORKER", "STATE", "PID", "PROCS", "CPU", "MEMORY", "UPTIME",
                              "ERROR"]
    queue, mail = (row.split() for row in rows)
    assert queue[1] in ("up", "starting")  # younger than 2 s right after the bed started
    assert [queue[0], *queue[2:4]] == ["queue", str(testbed.pid("queue")), "1"]
    assert queue[4].endswith("%") and queue[5][-1] in "BKMG"
    assert mail == ["mail", "down", "-", "-", "-", "-", "-"]


def test_status_wide_adds_the_top_columns(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("queue", TREE)
    root = testbed.project(["queue"])
    result = cli("status", "--wide", "-e", "test", cwd=root)
    assert result.exit_code == 0, result
    header, row = result.stdout.splitlines()
    assert header.split() == ["WORKER", "STATE", "PID", "UPTIME", "RESTARTS", "PROCS", "CPU",
                              "MEMORY", "ERROR"]
    assert row.split()[5] == "3"
    plain = cli("status", "--json", "-e", "test", cwd=root)
    assert plain.json["workers"][0]["usage"] is None  # not read unless asked


def test_top_of_an_unreachable_container_fails_that_worker(testbed: TestBed,
                                                           cli: CliRunner) -> None:
    testbed.add_service("queue", PROMPT)
    root = testbed.project(["queue", "dead"], overrides={"dead": {"port": 1}})
    result = cli("top", "-e", "test", "--json", cwd=root)
    assert result.exit_code == 1, result
    workers = {w["name"]: w for w in result.json["workers"]}
    assert workers["dead"]["state"] == "unreachable" and workers["dead"]["usage"] is None
    assert workers["queue"]["usage"]["processes"] == 1
