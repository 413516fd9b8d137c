"""What a worker's processes use: CPU %, memory (RSS) and uptime of its process tree.

Read from ``/proc`` in one remote command per container (:data:`PROC_SCRIPT`): every
process's ``stat`` line, twice, ``sample`` seconds apart, with the clock tick and page
size. The work is done on this side, by pure functions: the tree is the worker's main
process (the pid its supervisor reports) and its descendants, found through each
process's parent pid.

CPU % is what ``top`` shows: 100 is one core busy for the whole sample. It counts the
tree's own CPU time plus the time of children it already reaped (``cutime``/``cstime``),
so short-lived children that came and went between the two looks are not lost.
Memory is the sum of the processes' RSS: pages shared between them count once per
process, as ``ps`` would add them up.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pshctl.defaults import DEFAULT_USAGE_SAMPLE
from pshctl.errors import OperationFailed

# Argument: the seconds between the two looks. `cat` of a process that exits meanwhile
# fails for that one file only (its message is dropped). A `sleep` that takes no
# fractions (very old busybox) sleeps a whole second, and the uptimes say how long.
PROC_SCRIPT = r"""
tck=$(getconf CLK_TCK 2>/dev/null) || tck=100
page=$(getconf PAGESIZE 2>/dev/null) || page=4096
[ -r /proc/uptime ] || { echo 'no /proc/uptime' >&2; exit 69; }
printf 'T %s %s\n' "${tck:-100}" "${page:-4096}"
look() {
  printf 'U '; cat /proc/uptime; cat /proc/[0-9]*/stat 2>/dev/null
  printf 'V '; cat /proc/uptime; printf '=\n'
}
look
sleep "$1" 2>/dev/null || sleep 1
look
"""


def proc_command(sample: float = DEFAULT_USAGE_SAMPLE) -> str:
    return shlex.join(["sh", "-c", PROC_SCRIPT, "sh", f"{max(0.0, sample):g}"])


@dataclass(frozen=True)
class ProcStat:
    """The fields of one ``/proc/PID/stat`` line that pshctl uses (times in clock ticks)."""

    pid: int
    ppid: int
    ticks: int  # utime + stime + cutime + cstime
    start: int  # starttime: ticks after boot
    rss_pages: int


@dataclass(frozen=True)
class Snapshot:
    """Every process at one moment, and the machine's uptime then (seconds)."""

    uptime: float
    processes: Mapping[int, ProcStat]


@dataclass(frozen=True)
class ProcSample:
    """What :data:`PROC_SCRIPT` printed: two snapshots and the units to read them."""

    clock_tick: int
    page_size: int
    before: Snapshot
    after: Snapshot


@dataclass(frozen=True)
class TreeUsage:
    """One worker's process tree: its main ``pid``, how many processes, and their use.

    ``cpu_percent`` is None when the main process started during the sample (nothing to
    compare with). Field names are the JSON names.
    """

    pid: int
    processes: int
    cpu_percent: float | None
    rss_bytes: int
    uptime_s: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.cpu_percent is not None:
            data["cpu_percent"] = round(self.cpu_percent, 1)
        data["uptime_s"] = round(self.uptime_s, 1)
        return data


def parse_stat(line: str) -> ProcStat | None:
    """One ``stat`` line; None for one that is not (e.g. cut by a process that exited).

    The command name sits in parentheses and may itself hold spaces and parentheses:
    the fields start after the last ``)``.
    """
    head, paren, rest = line.rpartition(")")
    if not paren or " (" not in head:
        return None
    fields = rest.split()
    try:
        pid = int(head.split(" (", 1)[0])
        # Field n of proc(5) is fields[n - 3]: state is field 3, ppid 4, utime 14, ...
        ppid = int(fields[1])
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        start, rss = int(fields[19]), int(fields[21])
    except (ValueError, IndexError):
        return None
    return ProcStat(pid, ppid, ticks, start, max(0, rss))


def parse_sample(text: str) -> ProcSample:
    """The output of :data:`PROC_SCRIPT`; OperationFailed when it is not that."""
    units: tuple[int, int] | None = None
    snapshots: list[Snapshot] = []
    uptime: float | None = None
    processes: dict[int, ProcStat] = {}
    for line in text.splitlines():
        if line.startswith("T ") and units is None:
            words = line.split()
            units = (_positive(words, 1), _positive(words, 2))
        elif line.startswith("U "):
            uptime, processes = _uptime(line), {}
        elif line.startswith("V ") and uptime is not None:
            # The clock read again once every stat line is read: a look's time is the
            # middle of the two, so the time spent reading /proc is not counted on one
            # side only (a busy process then showed above 100 %).
            after = _uptime(line)
            if after is not None:
                uptime = (uptime + after) / 2
        elif line == "=" and uptime is not None:
            snapshots.append(Snapshot(uptime, processes))
            uptime = None
        elif uptime is not None:
            stat = parse_stat(line)
            if stat is not None:
                processes[stat.pid] = stat
    if units is None or not all(units):
        raise OperationFailed(f"unexpected answer from the /proc reader: {text[:80]!r}")
    if len(snapshots) != 2:
        raise OperationFailed(f"the /proc reader's answer is cut short ({len(snapshots)} of "
                              f"2 looks, {len(text)} bytes)")
    return ProcSample(units[0], units[1], snapshots[0], snapshots[1])


def _positive(words: list[str], index: int) -> int:
    try:
        value = int(words[index])
    except (IndexError, ValueError):
        return 0
    return max(0, value)


def _uptime(line: str) -> float | None:
    try:
        return float(line.split()[1])
    except (IndexError, ValueError):
        return None


def tree(root: int, processes: Mapping[int, ProcStat]) -> list[ProcStat]:
    """``root`` and all its descendants, root first; empty when ``root`` is gone."""
    if root not in processes:
        return []
    children: dict[int, list[int]] = {}
    for stat in processes.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found, todo = [], [root]
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:  # a pid reused during the read could make a loop
            continue
        seen.add(pid)
        found.append(processes[pid])
        todo.extend(sorted(children.get(pid, ()), reverse=True))
    return found


def _ticks(stats: Iterable[ProcStat]) -> int:
    return sum(s.ticks for s in stats)


def tree_usage(root: int, sample: ProcSample) -> TreeUsage | None:
    """The tree of ``root`` as the second snapshot shows it; None when ``root`` is gone."""
    now = tree(root, sample.after.processes)
    if not now:
        return None
    main = now[0]
    tick = sample.clock_tick
    uptime = max(0.0, sample.after.uptime - main.start / tick)
    cpu: float | None = None
    first = sample.before.processes.get(root)
    elapsed = sample.after.uptime - sample.before.uptime
    if first is not None and first.start == main.start and elapsed > 0:
        then = tree(root, sample.before.processes)
        # A process that left the tree (reparented after its parent died) takes its
        # time along; that must not read as negative use.
        used = max(0, _ticks(now) - _ticks(then))
        cpu = used / tick / elapsed * 100
    rss = sum(s.rss_pages for s in now) * sample.page_size
    return TreeUsage(root, len(now), cpu, rss, uptime)
