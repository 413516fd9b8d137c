"""Restarts seen across samples: a worker that keeps being restarted is crash-looping."""

from __future__ import annotations

from pshctl.restarts import RestartWatch
from pshctl.supervisor import CRASH_LOOPING, DOWN, STARTING, UP, ServiceState


def run(pid: int, uptime: float, restarts: int | None = None) -> ServiceState:
    return ServiceState("app", state="run", pid=pid, uptime_s=uptime, restarts=restarts)


WAITING = ServiceState("app", state="down", uptime_s=0, want="up")  # exited, restarting
STOPPED = ServiceState("app", state="down", uptime_s=5)


def looks(*states: ServiceState) -> tuple[RestartWatch, ServiceState]:
    watch = RestartWatch()
    for state in states:
        watch.observe("queue", state)
    return watch, states[-1]


def test_a_fresh_process_that_lives_on_is_up_and_settled() -> None:
    watch, last = looks(run(10, 0), run(10, 1), run(10, 2))
    assert (watch.health("queue", last), watch.seen("queue").observed) == (UP, 0)
    assert watch.settled("queue", last)


def test_a_fresh_process_is_not_settled_until_it_has_lived() -> None:
    watch, last = looks(run(10, 0))
    assert watch.health("queue", last) == STARTING and not watch.settled("queue", last)


def test_a_new_pid_under_a_short_uptime_is_a_crash_loop() -> None:
    # runit restarts at once a process that ran more than a second: always "starting".
    watch, last = looks(run(10, 1), run(11, 0), run(12, 1))
    assert watch.health("queue", last) == CRASH_LOOPING
    assert watch.seen("queue").observed == 2 and watch.settled("queue", last)


def test_down_while_the_supervisor_wants_it_up_then_running_again_counts() -> None:
    watch, last = looks(WAITING, run(20, 0))
    assert watch.health("queue", last) == CRASH_LOOPING
    assert watch.seen("queue").observed == 1
    only_down = RestartWatch()
    only_down.observe("queue", WAITING)
    assert only_down.health("queue", WAITING) == CRASH_LOOPING
    assert not only_down.settled("queue", WAITING)  # look again: how often does it restart?


def test_a_restart_then_a_long_life_is_up_with_its_restart_counted() -> None:
    watch, last = looks(run(10, 0), run(11, 0), run(11, 3))
    assert watch.health("queue", last) == UP and watch.seen("queue").observed == 1


def test_a_stop_and_a_start_by_someone_is_no_crash() -> None:
    watch, last = looks(run(10, 50), STOPPED, run(11, 0))
    assert watch.health("queue", last) == STARTING and watch.seen("queue").observed == 0
    assert watch.health("queue", STOPPED) == DOWN


def test_the_supervisors_own_count_going_up_is_a_restart() -> None:
    watch, last = looks(run(10, 0.5, restarts=7), run(10, 1.5, restarts=8))
    assert watch.seen("queue").observed == 1
    assert watch.health("queue", last) == CRASH_LOOPING
    steady = RestartWatch()
    steady.observe("queue", run(10, 0.5, restarts=7))  # restarted before pshctl looked
    assert steady.health("queue", run(10, 0.5, restarts=7)) == STARTING


def test_workers_are_watched_apart() -> None:
    watch = RestartWatch()
    watch.observe("queue", run(10, 0))
    watch.observe("mail", run(11, 0))
    watch.observe("queue", run(10, 1))
    assert watch.seen("queue").observed == 0 and watch.seen("mail").observed == 0


def test_a_run_too_short_to_be_seen_still_counts_by_the_down_time_starting_over() -> None:
    down = [ServiceState("app", state="down", uptime_s=t, want="up") for t in (0, 1, 0)]
    watch, last = looks(*down)
    assert watch.seen("queue").observed == 1 and watch.settled("queue", last)
