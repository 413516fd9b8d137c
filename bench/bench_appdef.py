"""How fast a large app definition loads: libyaml's parser against the pure-Python one.

    .venv/bin/python bench/bench_appdef.py [--workers 200] [--runs 7]

A generated project with one app and N workers (each with commands, variables, mounts and
relationships, as real workers have), in both formats (`.upsun/config.yaml` and
`.platform.app.yaml`), read by `pshctl.appdef.load_apps` end to end: with libyaml
(`CSafeLoader`, what pshctl uses when PyYAML has it) and with the pure-Python `SafeLoader`,
in turns in the same run. Also checks that both give the same workers and line numbers.

Prints times and the ratio (libyaml / pure); not a pass/fail test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pshctl import appdef, yamlutil  # noqa: E402 - after the path set-up above


def worker(i: int, indent: str) -> str:
    lines = [
        f"worker{i}:",
        "  commands:",
        f"    start: python worker.py --queue q{i} --concurrency {i % 8 + 1}",
        "  variables:",
        "    env:",
        f"      QUEUE: q{i}",
        f"      WORKER_ID: '{i}'",
        "  mounts:",
        f"    'var/w{i}':",
        "      source: tmp",
        f"      source_path: w{i}",
        "  relationships:",
        "    database: 'db:postgresql'",
        "    cache: 'redis:redis'",
    ]
    return "".join(f"{indent}{line}\n" for line in lines)


def write_projects(top: Path, workers: int) -> dict[str, Path]:
    common = ("type: 'python:3.12'\n"
              "relationships:\n  database: 'db:postgresql'\n"
              "mounts:\n  'var/cache': {source: tmp, source_path: cache}\n")
    upsun = top / "upsun"
    (upsun / ".upsun").mkdir(parents=True)
    body = "".join(f"    {line}\n" for line in common.splitlines())
    (upsun / ".upsun" / "config.yaml").write_text(
        "applications:\n  app:\n" + body + "    workers:\n"
        + "".join(worker(i, "      ") for i in range(workers)))
    platformsh = top / "platformsh"
    platformsh.mkdir()
    (platformsh / ".platform.app.yaml").write_text(
        "name: app\n" + common + "workers:\n" + "".join(worker(i, "  ") for i in range(workers)))
    return {"upsun": upsun, "platformsh": platformsh}


def load(root: Path, fast: bool) -> dict[str, appdef.AppDefinition]:
    yamlutil.PREFER_LIBYAML = fast
    return appdef.load_apps(root, product=None)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not yamlutil.libyaml_available():
        print("PyYAML has no libyaml here: pshctl uses the pure-Python parser; nothing to compare")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for product, root in write_projects(Path(tmp), args.workers).items():
            fast_apps, pure_apps = load(root, True), load(root, False)
            assert fast_apps == pure_apps, "libyaml and the pure parser disagree"
            times = [(timed(partial(load, root, True)), timed(partial(load, root, False)))
                     for _ in range(args.runs)]
            fast, pure = min(t[0] for t in times), min(t[1] for t in times)
            print(f"{product:10} {args.workers} workers: libyaml {fast * 1000:6.1f} ms, "
                  f"pure {pure * 1000:6.1f} ms, ratio {fast / pure:.2f}")
            from common import fmt_ms, time_row

            time_row(f"load a {args.workers}-worker app ({product})", fast,
                     "pure-Python YAML", pure, most=None, fmt=fmt_ms)
    yamlutil.PREFER_LIBYAML = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
