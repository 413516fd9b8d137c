"""Restarts seen across samples of one service's state, and the health they mean.

One look at a supervisor cannot tell a worker that has just been started from one that
exits every second and is started again: both run a process younger than
:data:`~pshctl.supervisor.STARTING_SECONDS`. Looking again on the same connection can:
a new pid, or a service that was down while its supervisor wanted it up and then runs
again, is a restart by the supervisor. Where the supervisor counts restarts itself
(systemd's ``NRestarts``) its count goes up too.

A worker seen to restart that has not since stayed up is ``crash-looping``; one whose
process then lives past the starting time is ``up`` again (its restarts still count).
:class:`RestartWatch` keeps what was seen per worker for as long as the reader lives:
one ``status`` (which samples until every worker is settled, for a few seconds at
most), or a whole ``status --watch`` and ``wait``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pshctl.supervisor import CRASH_LOOPING, STARTING, STARTING_SECONDS, ServiceState

# How long one `status` keeps looking at workers that are not settled yet: long enough
# for a fresh process to pass the starting time, or for a crashing one to be restarted
# (runit waits a second before restarting a process that ran less than one).
SETTLE_WINDOW = STARTING_SECONDS + 1.5
SAMPLE_INTERVAL = 0.15  # a crashing process may run for a few tenths of a second only


@dataclass
class Seen:
    """What pshctl saw of one service so far."""

    pid: int | None = None  # the last running pid
    restarts: int = 0  # new processes that appeared after the first look
    waiting: bool = False  # down, and its supervisor wants it up: the next pid is a restart
    down_for: float | None = None  # while waiting: how long it had been down at the last look
    first_count: int | None = None  # the supervisor's own count at the first look
    count: int | None = None  # ... and at the last
    looks: int = 0

    @property
    def observed(self) -> int:
        """Restarts seen: new pids, or the supervisor's count going up, whichever is more."""
        counted = 0 if self.count is None or self.first_count is None else \
            max(0, self.count - self.first_count)
        return max(self.restarts, counted)


class RestartWatch:
    """Restarts per worker (by name) across the samples it is shown."""

    def __init__(self) -> None:
        self._seen: dict[str, Seen] = {}
        self._lock = threading.Lock()  # groups of workers are read in parallel threads

    def seen(self, name: str) -> Seen:
        with self._lock:
            return self._seen.setdefault(name, Seen())

    def observe(self, name: str, state: ServiceState) -> Seen:
        seen = self.seen(name)
        seen.looks += 1
        if state.restarts is not None:
            if seen.first_count is None:
                seen.first_count = state.restarts
            seen.count = state.restarts
        if state.problem is not None:
            return seen
        if state.running and state.pid is not None:
            if (seen.pid is not None and state.pid != seen.pid) or seen.waiting:
                seen.restarts += 1
            seen.pid, seen.waiting, seen.down_for = state.pid, False, None
        elif state.health == CRASH_LOOPING:  # exited; its supervisor is about to restart it
            # Down for less time than at the last look: it ran (and died) in between,
            # too briefly for a look to catch it running.
            if seen.waiting and state.uptime_s is not None and seen.down_for is not None \
                    and state.uptime_s < seen.down_for:
                seen.restarts += 1
            seen.waiting, seen.down_for = True, state.uptime_s
        else:  # stopped for good (or by someone): a later start is not a crash
            seen.pid, seen.waiting, seen.down_for = None, False, None
        return seen

    def health(self, name: str, state: ServiceState) -> str:
        """The state's own health word, or ``crash-looping`` for a process that keeps
        being replaced before it has proven it stays up."""
        word = state.health
        if word == STARTING and self.seen(name).observed > 0:
            return CRASH_LOOPING
        return word

    def settled(self, name: str, state: ServiceState) -> bool:
        """Nothing more to learn by looking again soon."""
        word = self.health(name, state)
        if word == CRASH_LOOPING:
            return self.seen(name).observed > 0
        return word != STARTING
