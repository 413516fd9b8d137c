"""Test helpers: run pshctl in-process or as a subprocess and look at what it did."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout: float = 20.0,
               every: float = 0.05) -> T:
    """Poll ``check`` until it returns something true, and return that; fail the test
    after ``timeout`` seconds, saying ``what`` it waited for (and what it saw last).

    The one way tests wait for a condition: never a fixed sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        seen = check()
        if seen:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} "
                                 f"(last seen: {seen!r})")
        time.sleep(every)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"CliResult(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


@contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class CliRunner:
    """In-process runs through the real entry point; exceptions that are bugs propagate."""

    def __call__(
        self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> CliResult:
        from pshctl.cli import run

        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            with _cwd(cwd), redirect_stdout(out), redirect_stderr(err):
                code = run(list(args))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return CliResult(code, out.getvalue(), err.getvalue())


def run_pshctl(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> CliResult:
    """End-to-end: the installed entry point as a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "pshctl", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
