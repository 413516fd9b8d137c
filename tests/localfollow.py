"""The follow script run as a local process: the logs protocol tested without SSH.

:class:`LocalFollow` starts ``FOLLOW_SCRIPT`` (or the sh fallback) with ``sh -c`` as the
remote shell would, and decodes its output with a :class:`FollowDecoder`;
:func:`followers` makes the fixtures that start them and stop every one afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pshctl.logs import FOLLOW_SCRIPT, FollowDecoder, LogLines
from tests.helpers import wait_until


def texts(events: list[Any]) -> list[str]:
    """The log lines among decoded events, in order."""
    return [line for e in events if isinstance(e, LogLines) for line in e.lines]


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


class LocalFollow:
    """FOLLOW_SCRIPT as a local process, its output decoded by a FollowDecoder."""

    def __init__(self, path: Path, lines: int | None, resume: tuple[str, int] | None = None,
                 decoder: FollowDecoder | None = None, script: str = FOLLOW_SCRIPT,
                 env: dict[str, str] | None = None, pattern: str | None = None) -> None:
        rid, roff = (resume[0], str(resume[1])) if resume else ("", "")
        self.decoder = decoder or FollowDecoder("w", str(path), lines)
        self.events: list[Any] = []
        self.proc = subprocess.Popen(
            ["sh", "-c", script, "sh", str(path), "all" if lines is None else str(lines),
             rid, roff, *([] if pattern is None else [pattern])],
            stdout=subprocess.PIPE, env=env, start_new_session=True,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while data := os.read(self.proc.stdout.fileno(), 65536):
            self.events += self.decoder.feed(data)

    @property
    def lines(self) -> list[str]:
        return texts(self.events)

    def wait(self, check: Callable[[], bool], timeout: float = 10) -> None:
        wait_until(check, f"the follower; events: {self.events}", timeout=timeout, every=0.02)

    def wait_lines(self, *expected: str) -> None:
        self.wait(lambda: self.lines[-len(expected) :] == list(expected), timeout=15)

    def stop(self) -> None:
        """Kill the script and what it started, then close its output once the reader is
        done with it: a descriptor closed under a reading thread is soon another test's
        pipe, whose output the thread would steal."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.thread.join(timeout=10)
        assert self.proc.stdout is not None and not self.thread.is_alive()
        self.proc.stdout.close()


def followers(**defaults: Any) -> Iterator[Callable[..., LocalFollow]]:
    """A fixture's body: a function that starts followers (``defaults`` for each), every
    one of them stopped when the test ends."""
    started: list[LocalFollow] = []

    def start(*args: Any, **kwargs: Any) -> LocalFollow:
        started.append(LocalFollow(*args, **{**defaults, **kwargs}))
        return started[-1]

    yield start
    for follower in started:
        follower.stop()
