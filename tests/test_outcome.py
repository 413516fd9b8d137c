"""The one outcome type, the one exit-code function, and the parallel runner."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from pshctl.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    ExitCode,
    HostKeyError,
    NameNotFound,
    OperationFailed,
    OperationTimeout,
    UsageError,
)
from pshctl.outcome import Outcome, Results, describe, exit_code, labelled
from pshctl.parallel import run_parallel


@dataclass(frozen=True)
class Target:
    """What outcomes are labelled from: a container's name, its worker, its instance."""

    name: str
    container: str
    instance: int | str


def ok(name: str = "a") -> Outcome[int]:
    return Outcome(name, 1)


def failed(error: BaseException, name: str = "b") -> Outcome[int]:
    return Outcome(name, None, error)


# --- exit_code ------------------------------------------------------------------------


def test_no_failure_is_0_and_an_interrupt_is_130_whatever_happened() -> None:
    assert exit_code([]) == ExitCode.OK
    assert exit_code([ok(), ok("b")]) == ExitCode.OK
    assert exit_code([ok()], interrupted=True) == ExitCode.INTERRUPTED
    assert exit_code([failed(ConnectionFailed("x"))], interrupted=True) == 130


@pytest.mark.parametrize("error", [ConnectionFailed("refused"), HostKeyError("changed"),
                                   AuthenticationFailed("no key")])
def test_4_only_when_every_worker_failed_to_connect(error: ConnectionFailed) -> None:
    assert exit_code([failed(error)]) == ExitCode.CONNECTION
    assert exit_code([failed(error), failed(ConnectionFailed("y"), "c")]) == 4
    assert exit_code([ok(), failed(error)]) == ExitCode.FAILED  # part of the work was done
    assert exit_code([failed(error), failed(OperationFailed("z"), "c")]) == ExitCode.FAILED


def test_3_and_5_when_every_failure_is_of_that_kind() -> None:
    assert exit_code([ok(), failed(OperationTimeout("late"))]) == ExitCode.TIMEOUT
    assert exit_code([failed(OperationTimeout("late")), failed(OperationTimeout("l"), "c")]) == 5
    assert exit_code([failed(ConfigError("bad"))]) == ExitCode.CONFIG
    assert exit_code([ok(), failed(NameNotFound("worker", "x", ["a"]))]) == ExitCode.CONFIG
    assert exit_code([failed(OperationTimeout("late")), failed(ConfigError("b"), "c")]) == 1
    assert exit_code([failed(OperationTimeout("late")), failed(ConnectionFailed("c"), "c")]) == 1


def test_anything_else_is_1() -> None:
    assert exit_code([failed(OperationFailed("did not stay up"))]) == ExitCode.FAILED
    assert exit_code([failed(UsageError("odd"))]) == ExitCode.FAILED
    assert exit_code([failed(RuntimeError("a bug"))]) == ExitCode.FAILED
    assert exit_code([failed(KeyboardInterrupt())]) == ExitCode.FAILED


# --- Outcome ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    pid: int

    def to_dict(self) -> dict[str, int]:
        return {"pid": self.pid}


def test_an_outcome_is_ok_without_an_error_and_unwraps_to_its_value() -> None:
    good = Outcome("queue", Value(7))
    assert good.ok and good.message is None and good.unwrap() == Value(7)
    assert good.to_dict() == {"name": "queue", "worker": "queue", "instance": 0, "ok": True,
                              "pid": 7, "error": None}


def test_a_failed_outcome_raises_its_own_exception_and_keeps_its_value() -> None:
    error = HostKeyError("unknown host key for h", hint="pshctl --accept-new")
    bad = Outcome("queue", Value(3), error)
    assert not bad.ok
    with pytest.raises(HostKeyError) as raised:
        bad.unwrap()
    assert raised.value is error
    assert bad.message == "unknown host key for h (pshctl --accept-new)"
    assert bad.to_dict() == {"name": "queue", "worker": "queue", "instance": 0, "ok": False,
                             "pid": 3,
                             "error": "unknown host key for h (pshctl --accept-new)"}
    assert Outcome("x", None, error).to_dict() == {"name": "x", "worker": "x", "instance": 0,
                                                   "ok": False, "error": bad.message}


def test_describe_names_the_type_of_errors_that_are_not_ours() -> None:
    assert describe(OperationFailed("did not stay up")) == "did not stay up"
    assert describe(ValueError("bad", 3)) == "ValueError: ('bad', 3)"
    assert describe(TimeoutError()) == "TimeoutError"


# --- Results ----------------------------------------------------------------------------


def test_results_index_by_position_and_name_and_sort_successes_from_failures() -> None:
    results = Results((ok("a"), failed(OperationTimeout("late"), "b"), ok("c")))
    assert len(results) == 3 and [o.name for o in results] == ["a", "b", "c"]
    assert results[1] is results["b"] and results[-1].name == "c"
    with pytest.raises(KeyError) as missing:
        results["nope"]
    assert missing.value.args == ("nope",)
    assert not results.ok
    assert [o.name for o in results.succeeded] == ["a", "c"]
    assert [o.name for o in results.failed] == ["b"]
    assert results.values() == {"a": 1, "b": None, "c": 1}
    assert results.exit_code == ExitCode.TIMEOUT
    assert Results((ok(),), interrupted=True).exit_code == ExitCode.INTERRUPTED
    assert not Results().ok  # nothing done is not a success


def test_raise_on_failure_names_every_failed_worker() -> None:
    fine = Results((ok("a"),))
    assert fine.raise_on_failure() is fine
    results = Results((ok("a"), failed(OperationFailed("one"), "b"),
                       failed(ConnectionFailed("two", hint="h"), "c")))
    with pytest.raises(OperationFailed, match=r"failed on 2 of 3 worker\(s\): b: one; "
                                              r"c: two \(h\)$"):
        results.raise_on_failure()


def test_a_scaled_worker_by_its_own_name_says_which_instances_to_ask_for() -> None:
    results = Results(labelled([ok("queue.0"), ok("queue.1"), ok("mail")],
                               [Target("queue.0", "queue", 0), Target("queue.1", "queue", 1)]))
    with pytest.raises(KeyError) as scaled:
        results["queue"]
    assert scaled.value.args == ("queue has 2 instances (queue.0, queue.1): use .of('queue')",)


def test_labelled_leaves_an_outcome_without_a_target_as_it_was() -> None:
    (queue, mail) = labelled([ok("queue.1"), ok("mail")], [Target("queue.1", "queue", 1)])
    assert (queue.worker, queue.instance) == ("queue", 1)
    assert mail == ok("mail") and mail.container == "mail"


# --- run_parallel -------------------------------------------------------------------------


def test_run_parallel_keeps_order_and_each_items_exception() -> None:
    def square(n: int) -> int:
        if n == 3:
            raise OperationFailed("three")
        return n * n

    outcomes = run_parallel([(str(n), n) for n in range(6)], square, max_parallel=4)
    assert [o.name for o in outcomes] == ["0", "1", "2", "3", "4", "5"]
    assert [o.value for o in outcomes] == [0, 1, 4, None, 16, 25]
    assert isinstance(outcomes[3].error, OperationFailed)
    assert run_parallel([], square) == []


@pytest.mark.parametrize(("limit", "items", "expected"),
                         [(3, 9, 3), (2, 4, 2), (10, 4, 4), (10, 2, 2), (1, 5, 1)])
def test_run_parallel_runs_at_most_max_parallel_at_once(limit: int, items: int,
                                                        expected: int) -> None:
    lock = threading.Lock()
    running, peak = 0, 0
    everyone_in = threading.Barrier(expected, timeout=10)

    def work(_: int) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        everyone_in.wait()  # `expected` at a time get through together ...
        with lock:
            running -= 1

    outcomes = run_parallel([(str(i), i) for i in range(items)], work, max_parallel=limit)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert peak == expected  # ... and never more than that


@pytest.mark.parametrize(("items", "limit"), [(1, 10), (3, 1)])
def test_run_parallel_one_at_a_time_runs_in_the_calling_thread(items: int, limit: int) -> None:
    seen: list[tuple[threading.Thread, int]] = []

    def work(item: int) -> int:
        seen.append((threading.current_thread(), item))
        return item * 10

    outcomes = run_parallel([(f"w{i}", i) for i in range(items)], work, max_parallel=limit)
    assert seen == [(threading.current_thread(), i) for i in range(items)]
    assert [(o.name, o.value) for o in outcomes] == [(f"w{i}", i * 10) for i in range(items)]


def test_run_parallel_starts_no_more_threads_than_the_limit() -> None:
    threads: set[threading.Thread] = set()
    lock = threading.Lock()

    def work(_: int) -> None:
        with lock:
            threads.add(threading.current_thread())

    run_parallel([(str(i), i) for i in range(40)], work, max_parallel=2)
    assert len(threads) <= 2
