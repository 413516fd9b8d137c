"""Every benchmark in bench/, then issue 15's table of ratios (`make bench`).

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...]

Each script measures pshctl and its baseline in the same run and prints its own lines;
the rows they record (bench/common.py) are gathered here into one table, with the
machine and its load before and after, and written to bench/results/latest.md too.
A busy machine makes every figure noisy: compare ratios, and re-run when `uptime` is low.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROWS_ENV, load, read_rows, table

HERE = Path(__file__).resolve().parent

# In the order of the table; each with the arguments of a quick run.
SCRIPTS = [
    ("bench_restart.py", []),
    ("bench_fanout.py", ["--rounds", "3"]),
    ("bench_follow.py", ["--lines", "30", "--seconds", "6"]),
    ("bench_logs.py", ["--mb", "50", "--runs", "3"]),
    ("bench_ssh.py", ["--rounds", "10"]),
    ("bench_cli.py", ["--rounds", "15"]),
    ("bench_appdef.py", []),
]


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({model}), "
            f"Python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller logs")
    parser.add_argument("--only", nargs="*", default=[], help="scripts to run (e.g. cli ssh)")
    args = parser.parse_args()
    failed = []
    began = time.time()
    before = load()
    with tempfile.TemporaryDirectory(prefix="pshctl-bench-rows-") as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        env = {**os.environ, ROWS_ENV: str(rows_file)}
        for script, quick in SCRIPTS:
            if args.only and not any(name in script for name in args.only):
                continue
            print(f"\n=== {script} ===", flush=True)
            argv = [sys.executable, str(HERE / script), *(quick if args.quick else [])]
            if subprocess.run(argv, env=env, check=False).returncode:
                failed.append(script)
        rows = read_rows(rows_file)
    report = "\n".join([
        f"machine: {machine()}",
        f"load before: {before}; after: {load()}; took {time.time() - began:.0f} s",
        "",
        table(rows),
    ])
    print("\n=== issue 15: pshctl against its baselines, same runs ===\n" + report)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(report + "\n")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
