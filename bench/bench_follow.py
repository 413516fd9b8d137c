"""Following logs: how soon a line is shown, and what following costs the container.

    .venv/bin/python bench/bench_follow.py [--lines 50] [--seconds 12]

1. Latency: a line appended to a worker's log, until it is on the follower's stdout:
   ``pshctl logs -f -n 0 W`` against ``ssh host tail -F -n 0 LOG``, each on its own log,
   lines written to one then the other in turns (so a busy moment hits both), median and
   p90 of ``--lines`` lines each. Goal: median <= 2x tail -F's + 5 ms.
2. Remote CPU: 10 workers each getting 20 lines a second for ``--seconds``, followed by one
   ``pshctl logs -f`` of the 10, against 10 ``ssh host tail -F``; the CPU the container side
   used (sshd's sessions and everything they run, through a cgroup) while the lines flow,
   connections already open. Goal: <= 1.5x.
"""

from __future__ import annotations

import argparse
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from common import (
    CpuMeter,
    Row,
    bed,
    compile_sources,
    fmt_ms,
    load,
    median,
    p90,
    pshctl_argv,
    record,
    time_row,
)

from tests.testbed import PROMPT, TestBed


class Follower:
    """A follow process whose stdout lines are time-stamped as they arrive."""

    def __init__(self, argv: Sequence[str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.lines: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put((time.perf_counter(), line))

    def wait_for(self, token: bytes, timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"line {token!r} never arrived")
            try:
                at, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if token in line:
                return at

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def append(path: Path, text: str) -> float:
    with path.open("a") as log:
        log.write(text + "\n")
        log.flush()
        return time.perf_counter()


def ready(follower: Follower, path: Path) -> None:
    """Until the follower shows lines: connected, and past its start."""
    for attempt in range(200):
        token = f"warm-{attempt}-{random.random()}"
        append(path, token)
        try:
            follower.wait_for(token.encode(), timeout=0.5)
            return
        except SystemExit:
            continue
    raise SystemExit(f"{follower.proc.args} never followed {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="bench-follow-") as tmp, bed(Path(tmp)) as b:
        meter = CpuMeter(b.sshd.pid, "pshctl-bench-follow")
        try:
            names = ["lat-pshctl", "lat-ssh", *[f"f{i}" for i in range(10)]]
            b.add_services({n: PROMPT for n in names})
            root = b.project(names, Path(tmp) / "project")
            print(f"{load()}")
            latency(b, root, args.lines)
            remote_cpu(b, root, meter, args.seconds)
        finally:
            meter.close()
    return 0


def latency(b: TestBed, root: Path, lines: int) -> None:
    ours_log, theirs_log = b.log_file("lat-pshctl"), b.log_file("lat-ssh")
    ours = Follower(pshctl_argv("logs", "-e", "test", "-f", "-n", "0", "lat-pshctl"), cwd=root)
    theirs = Follower(b.ssh_argv("tail", "-F", "-n", "0", str(theirs_log)))
    try:
        ready(ours, ours_log)
        ready(theirs, theirs_log)
        took: dict[str, list[float]] = {"pshctl": [], "ssh": []}
        sides: list[tuple[str, Follower, Path]] = [("pshctl", ours, ours_log),
                                                   ("ssh", theirs, theirs_log)]
        for i in range(lines):
            for name, follower, path in sides if i % 2 == 0 else sides[::-1]:
                token = f"line-{name}-{i}-{random.random()}"
                written = append(path, token)
                took[name].append(follower.wait_for(token.encode()) - written)
                time.sleep(random.uniform(0.02, 0.06))  # lines arrive unevenly
    finally:
        ours.stop()
        theirs.stop()
    for name, values in took.items():
        print(f"  {name:<7} median {median(values) * 1000:6.1f} ms, "
              f"p90 {p90(values) * 1000:6.1f} ms over {len(values)} lines")
    time_row("logs -f: line appended -> stdout (median)", median(took["pshctl"]),
             "ssh tail -F", median(took["ssh"]), most=2.0, extra=0.005, fmt=fmt_ms)
    time_row("logs -f: line appended -> stdout (p90)", p90(took["pshctl"]),
             "ssh tail -F", p90(took["ssh"]), most=None, fmt=fmt_ms)


def remote_cpu(b: TestBed, root: Path, meter: CpuMeter, seconds: float) -> None:
    workers = [f"f{i}" for i in range(10)]
    paths = [b.log_file(w) for w in workers]

    def ours() -> list[Follower]:
        return [Follower(pshctl_argv("logs", "-e", "test", "-f", "-n", "0", *workers),
                         cwd=root)]

    def theirs() -> list[Follower]:
        return [Follower(b.ssh_argv("tail", "-F", "-n", "0", str(p))) for p in paths]

    used = {"pshctl": measure_cpu(ours, paths, meter, seconds),
            "ssh": measure_cpu(theirs, paths, meter, seconds)}
    print(f"  remote CPU over {seconds:g} s at 20 lines/s on each of 10 logs "
          f"({meter.how}): pshctl {used['pshctl']:.2f} s, 10x tail -F {used['ssh']:.2f} s")
    if meter.group is None:
        print("  (no cgroup: these count only exited processes; no row recorded)")
        return
    record(Row(f"remote CPU, 10 followers at 20 lines/s, {seconds:g} s",
               f"{used['pshctl']:.2f} s", f"10x ssh tail -F: {used['ssh']:.2f} s",
               used["pshctl"] / used["ssh"], "<= 1.5x", used["pshctl"] <= 1.5 * used["ssh"]))


def measure_cpu(start: Callable[[], list[Follower]], paths: list[Path], meter: CpuMeter,
                seconds: float) -> float:
    """Container-side CPU while ``paths`` get 20 lines a second each."""
    followers = start()
    try:
        for path in paths:  # every follower connected and following
            follower = followers[0] if len(followers) == 1 else followers[paths.index(path)]
            ready(follower, path)
        before = meter.seconds()
        began = time.monotonic()
        tick = 0
        while time.monotonic() - began < seconds:
            for path in paths:
                append(path, f"{time.time():.6f} INFO job {tick} done queue=default")
            tick += 1
            time.sleep(max(0.0, began + tick / 20 - time.monotonic()))
        return meter.seconds() - before
    finally:
        for follower in followers:
            follower.stop()


if __name__ == "__main__":
    sys.exit(main())
