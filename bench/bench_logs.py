"""How fast `pshctl logs` streams, against OpenSSH in the same run.

    .venv/bin/python bench/bench_logs.py [--mb 200] [--runs 3]

1. One worker, a MB-sized log, whole: `pshctl logs w -n ALL > /dev/null` against
   `ssh host cat log > /dev/null` (both end to end, start-up included). Goal (issue 15):
   >= 0.9x the throughput of `ssh cat`.
2. The same log through the follow protocol (in-process LogStream, until the backlog is in).
3. Four workers at once, MB/4 each, every line prefixed: against four OpenSSH `cat`s in
   parallel, and against the one-worker pshctl time for the same number of bytes.

Prints ratios (throughput of pshctl / throughput of the reference); not a pass/fail test.
Runs in turns, medians (``--runs``); the remote shell does not read ~/.bashrc.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import compile_sources, load, median, paired, pshctl_argv, rate_row, start_bed

from tests.testbed import TestBed

ALL_LINES = "all"


def make_log(path: Path, size: int, tag: str) -> int:
    """A log of about ``size`` bytes of varied ~100-byte lines; returns its exact size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = "".join(
        f"2024-05-01T12:00:{i % 60:02d}Z {tag} INFO job {i} done in {i * 7 % 1000} ms "
        f"queue=default attempt=1 payload={'x' * (i % 40)}\n"
        for i in range(20000)
    ).encode()
    with path.open("wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    return path.stat().st_size


def best_pair(
    runs: int, ours: Callable[[], None], theirs: Callable[[], None]
) -> tuple[float, float]:
    """Median times of both, run in turns so that a busy moment hits both alike."""
    times = paired(runs, {"ours": ours, "theirs": theirs}, warmup=0)
    return median(times["ours"]), median(times["theirs"])


def run_quiet(argv: list[str], cwd: Path | None = None) -> None:
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, check=True)


def run_parallel(argvs: list[list[str]]) -> None:
    procs = [subprocess.Popen(a, stdout=subprocess.DEVNULL) for a in argvs]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"failed: {p.args}")


def pshctl(*args: str) -> list[str]:
    return pshctl_argv("logs", "-e", "test", "-n", ALL_LINES, *args)


def follow_backlog(bed: TestBed, root: Path, worker: str, size: int) -> None:
    """Stream a whole log through the follow protocol, in-process, then stop."""
    from pshctl.context import Selection, resolve_context
    from pshctl.logs import LogLines, LogRequest, LogStream
    from pshctl.targets import resolve_targets

    context = resolve_context(Selection(environment="test"), cwd=root)
    targets = resolve_targets(context, [worker])
    got = 0
    request = LogRequest(lines=None, follow=True)
    with LogStream(targets, request) as stream:
        for event in stream:
            if isinstance(event, LogLines):
                got += len(event.data) + 1
                if got >= size:
                    break


def merged(root: Path, workers: list[str], prefixed: bool) -> None:
    """Four workers' logs through one LogStream into /dev/null, with or without prefixes."""
    from pshctl.cli.output import Lines
    from pshctl.context import Selection, resolve_context
    from pshctl.logs import LogLines, LogRequest, LogStream
    from pshctl.targets import resolve_targets

    context = resolve_context(Selection(environment="test"), cwd=root)
    targets = resolve_targets(context, workers)
    printer = Lines(workers)
    with open("/dev/null", "w") as sink, LogStream(targets, LogRequest(lines=None)) as stream:
        saved, sys.stdout = sys.stdout, sink
        try:
            for event in stream:
                if not isinstance(event, LogLines):
                    continue
                if prefixed:
                    printer.write(event.worker, event.data, event.received)
                else:
                    sink.buffer.write(event.data + b"\n")
        finally:
            sys.stdout = saved


def report(label: str, ours: float, theirs: float, size: int) -> None:
    mb = size / 1e6
    print(f"{label:<46} pshctl {ours:5.2f}s ({mb / ours:4.0f} MB/s)  "
          f"reference {theirs:5.2f}s ({mb / theirs:4.0f} MB/s)  ratio {theirs / ours:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="log size in MB (default 200)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measure; medians")
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        bed = start_bed(Path(tmp) / "bed")
        try:
            bench(bed, args.mb * 1_000_000, args.runs)
        finally:
            bed.stop()


def bench(bed: TestBed, size: int, runs: int) -> None:
    names = ["big", "w1", "w2", "w3", "w4", "empty"]
    root = bed.project(names)
    size = make_log(bed.log_file("big"), size, "big")
    quarter = [make_log(bed.log_file(n), size // 4, n) for n in names[1:5]]
    make_log(bed.log_file("empty"), 0, "empty")
    print(f"{load()}; log: {size / 1e6:.0f} MB; 4 x {quarter[0] / 1e6:.0f} MB; "
          f"medians of {runs} runs in turns")

    def ssh_cat(name: str) -> list[str]:
        return bed.ssh_argv("cat", str(bed.log_file(name)))

    # Start-up, connection and exit with nothing to stream: subtracted for "streaming".
    ours_fixed, ssh_fixed = best_pair(runs, lambda: run_quiet(pshctl("empty"), cwd=root),
                                      lambda: run_quiet(ssh_cat("empty")))
    print(f"{'fixed cost (empty log)':<46} pshctl {ours_fixed:5.2f}s"
          f"{'':13}  reference {ssh_fixed:5.2f}s")

    ours_one, ssh_one = best_pair(runs, lambda: run_quiet(pshctl("big"), cwd=root),
                                  lambda: run_quiet(ssh_cat("big")))
    report("1 worker, logs -n all, end to end", ours_one, ssh_one, size)
    rate_row(f"logs -n all of a {size / 1e6:.0f} MB log", size / 1e6 / ours_one, "ssh cat",
             size / 1e6 / ssh_one, least=0.9)
    report("1 worker, logs -n all, streaming (- fixed)", ours_one - ours_fixed,
           ssh_one - ssh_fixed, size)

    ours_follow, ssh_again = best_pair(runs, lambda: follow_backlog(bed, root, "big", size),
                                       lambda: run_quiet(ssh_cat("big")))
    report("1 worker, follow protocol (in-process)", ours_follow, ssh_again, size)

    four = names[1:5]
    ours_four, ssh_four = best_pair(runs, lambda: run_quiet(pshctl(*four), cwd=root),
                                    lambda: run_parallel([ssh_cat(n) for n in four]))
    total = sum(quarter)
    report("4 workers prefixed vs 4 parallel ssh cat", ours_four, ssh_four, total)
    with_prefix, without = best_pair(runs, lambda: merged(root, four, True),
                                     lambda: merged(root, four, False))
    report("4 workers in-process: prefixed vs not", with_prefix, without, total)
    print(f"{'prefixing overhead, 4 workers':<46} {with_prefix / without - 1:+.0%} time")


if __name__ == "__main__":
    main()
