"""What every bench script shares: paired timing, the test bed as benches want it, rows.

A bench measures pshctl and its baseline *in the same run*, in turns (ABAB..., the order
swapped every round), and keeps medians: on a machine that other work keeps busy, a busy
moment then hits both sides alike. Each script prints its own lines and records one
:class:`Row` per measure of issue 15's table; ``bench/run_all.py`` (``make bench``)
collects the rows of every script into one table of ratios.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.testbed import TestBed  # noqa: E402 - after the path set-up above

# Where run_all.py wants the rows (one JSON object a line); unset when a script runs alone.
ROWS_ENV = "PSHCTL_BENCH_ROWS"

# The bed's remote shell must not read the machine's ~/.bashrc: bash reads it for a
# command from sshd only at shell level 1 (pyenv's init there cost ~100 ms per command).
NO_BASHRC = "SetEnv SHLVL=1\n"


def compile_sources() -> None:
    """Byte-compile pshctl as an install does: with PYTHONDONTWRITEBYTECODE set (as some
    shells here have it), every run would otherwise compile pshctl's sources anew while
    the baselines' libraries come compiled, and start-up figures would mean nothing."""
    import compileall

    compileall.compile_dir(str(REPO / "pshctl"), quiet=1)


def pshctl_argv(*args: str) -> list[str]:
    """pshctl as a user runs it: the console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "pshctl"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "pshctl", *args]


def start_bed(root: Path, sshd_config: str = "") -> TestBed:
    """A test bed whose remote shell does not read ~/.bashrc."""
    return TestBed.start(root, sshd_config=NO_BASHRC + sshd_config)


@contextlib.contextmanager
def bed(root: Path, sshd_config: str = "") -> Iterator[TestBed]:
    started = start_bed(root, sshd_config)
    try:
        yield started
    finally:
        started.stop()


# --- timing ------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def paired(rounds: int, sides: Mapping[str, Callable[[], object]],
           warmup: int = 1) -> dict[str, list[float]]:
    """Wall times of every side, ``rounds`` each, in turns; the order rotates each round."""
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            sides[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(sides[name]))
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def run_ok(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
           stdout: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[bytes]:
    """Run and insist on exit 0 (a bench of a failing command measures nothing)."""
    proc = subprocess.run(list(argv), cwd=cwd, env=None if env is None else dict(env),
                          stdout=stdout, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return proc


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cores"


# --- rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: pshctl's figure, the baseline's, their ratio, the goal.

    ``ratio`` is pshctl / baseline for times and CPU, pshctl / baseline for throughput
    too (then higher is better: ``goal`` says which way, e.g. "<= 1.0x" or ">= 0.9x").
    """

    measure: str
    ours: str
    baseline: str
    ratio: float
    goal: str
    met: bool | None  # None: no goal, shown for information

    def line(self) -> str:
        verdict = {True: "met", False: "NOT MET", None: ""}[self.met]
        return (f"{self.measure:<44} {self.ours:>16}  {self.baseline:<38} "
                f"{self.ratio:6.2f}x  {self.goal:<18} {verdict}")


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def record(row: Row) -> Row:
    """Print the row, and hand it to run_all.py when it runs this script."""
    print("ROW " + row.line(), flush=True)
    target = os.environ.get(ROWS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(row)) + "\n")
    return row


def time_row(measure: str, ours: float, baseline_label: str, theirs: float, *,
             most: float | None, extra: float = 0.0, fmt: Callable[[float], str] = fmt_s,
             goal: str | None = None) -> Row:
    """A row for a time (lower is better): met when ours <= most * theirs + extra."""
    met = None if most is None else ours <= most * theirs + extra
    if goal is None:
        goal = "" if most is None else f"<= {most:g}x" + (f" + {extra * 1000:g} ms" if extra
                                                           else "")
    return record(Row(measure, fmt(ours), f"{baseline_label}: {fmt(theirs)}", ours / theirs,
                      goal, met))


def rate_row(measure: str, ours: float, baseline_label: str, theirs: float, *,
             least: float | None, unit: str = "MB/s") -> Row:
    """A row for a throughput (higher is better): met when ours >= least * theirs."""
    met = None if least is None else ours >= least * theirs
    goal = "" if least is None else f">= {least:g}x"
    return record(Row(measure, f"{ours:.0f} {unit}", f"{baseline_label}: {theirs:.0f} {unit}",
                      ours / theirs, goal, met))


def read_rows(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def table(rows: Sequence[Row]) -> str:
    head = (f"{'measure':<44} {'pshctl':>16}  {'baseline':<38} {'ratio':>7}  "
            f"{'goal':<18} verdict")
    return "\n".join([head, "-" * len(head), *(row.line() for row in rows)])


# --- remote CPU --------------------------------------------------------------------------


class CpuMeter:
    """CPU time used by a process and everything it starts, through a cgroup-v1 cpuacct
    group (children stay in their parent's group, exited or not); falls back to the
    process's own and reaped children's times when no such group can be made."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, pid: int, name: str) -> None:
        self.pid = pid
        self.group: Path | None = None
        if self.ROOT.is_dir() and os.geteuid() == 0:
            group = self.ROOT / f"{name}-{os.getpid()}"
            try:
                group.mkdir(exist_ok=True)
                (group / "cgroup.procs").write_text(f"{pid}\n")
                self.group = group
            except OSError:
                self.group = None

    @property
    def how(self) -> str:
        return "cgroup cpuacct" if self.group is not None else "/proc times (reaped only)"

    def seconds(self) -> float:
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        """Move what is left back to the root group and remove ours."""
        if self.group is None:
            return
        with contextlib.suppress(OSError):
            for pid in (self.group / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (self.ROOT / "cgroup.procs").write_text(pid + "\n")
            self.group.rmdir()
        self.group = None


def have(program: str) -> bool:
    return shutil.which(program) is not None
