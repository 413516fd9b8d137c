"""Start-up: a Tab press and `--help`, against a minimal typer app in the same run.

    .venv/bin/python bench/bench_cli.py [--rounds 30]

Every Tab press starts pshctl anew (the shell runs it with ``_PSHCTL_COMPLETE`` set), so
its cost is the interpreter, the imports and the answer. The baseline is
``bench/minimal_typer.py`` (two commands, typer's defaults) run by the same interpreter,
asked to complete a command name. pshctl is run as users run it, by its console script.
Each request's answer is checked: a fast wrong answer measures nothing.
Goals (issue 15): Tab <= 1.0x the minimal app (stretch: <= 60 ms); --help <= 1.1x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import compile_sources, fmt_ms, load, median, paired, pshctl_argv, time_row

HERE = Path(__file__).resolve().parent
MINIMAL = [sys.executable, str(HERE / "minimal_typer.py")]

APP_YAML = """\
name: shop
type: "python:3.11"
workers:
    queue:
        commands:
            start: python3 queue.py
    mail:
        commands:
            start: python3 mail.py
    reports:
        commands:
            start: python3 reports.py
"""


def request(argv: list[str], var: str, words: str, cwd: Path) -> Callable[[], str]:
    """A completion request as bash's completion function makes it."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, var: "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}

    def run() -> str:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              check=False)
        return proc.stdout

    return run


def checked(fn: Callable[[], str], expected: list[str]) -> Callable[[], str]:
    got = fn().split()
    if got != expected:
        raise SystemExit(f"wrong completion answer: {got} (expected {expected})")
    return fn


def quiet(argv: list[str], cwd: Path, cache: Path | None = None) -> Callable[[], object]:
    """``argv`` run with its output dropped; with ``cache``, in an empty cache directory
    each time (a first ``--help``, before pshctl has kept its screen)."""
    env = None if cache is None else {**os.environ, "XDG_CACHE_HOME": str(cache)}

    def run() -> object:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
        return subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=True)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    compile_sources()
    print(f"{load()}; {args.rounds} paired rounds, medians")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        (root / ".platform.app.yaml").write_text(APP_YAML)
        sides = {
            "minimal": checked(request(MINIMAL, "_MINIMAL_COMPLETE", "minimal he", root),
                               ["hello"]),
            "command": checked(request(pshctl_argv(), "_PSHCTL_COMPLETE", "pshctl wor", root),
                               ["workers"]),
            "worker": checked(request(pshctl_argv(), "_PSHCTL_COMPLETE", "pshctl restart q",
                                      root), ["queue"]),
            "minimal --help": quiet([*MINIMAL, "--help"], root),
            "pshctl --help": quiet(pshctl_argv("--help"), root),
            "pshctl --help, first": quiet(pshctl_argv("--help"), root, root / "cold-cache"),
            "pshctl --version": quiet(pshctl_argv("--version"), root),
            "python -c pass": quiet([sys.executable, "-c", "pass"], root),
        }
        times = {name: median(t) for name, t in paired(args.rounds, sides).items()}
    for name, seconds in times.items():
        print(f"  {name:<20} {seconds * 1000:7.1f} ms")
    minimal = times["minimal"]
    time_row("Tab: a command name (pshctl wor)", times["command"],
             "minimal typer app", minimal, most=1.0, fmt=fmt_ms)
    time_row("Tab: a worker name (pshctl restart q)", times["worker"],
             "minimal typer app", minimal, most=1.0, fmt=fmt_ms)
    stretch = max(times["command"], times["worker"])
    print(f"Tab stretch goal <= 60 ms: {stretch * 1000:.0f} ms "
          f"({'met' if stretch <= 0.060 else 'not met'})")
    time_row("--help", times["pshctl --help"], "minimal typer app", times["minimal --help"],
             most=1.1, fmt=fmt_ms)
    time_row("--help, the first time (typer renders it)", times["pshctl --help, first"],
             "minimal typer app", times["minimal --help"], most=None, fmt=fmt_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
