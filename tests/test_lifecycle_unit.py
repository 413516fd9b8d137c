"""pshctl.lifecycle against a simulated runit (no SSH): orchestration, results, exit codes.

The simulation answers the runit driver's commands (`sv down|up|kill|status`); the
real supervisors are in test_lifecycle_integration.py."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pshctl import lifecycle
from pshctl.errors import ConnectionFailed, ExitCode, HostKeyError, OperationTimeout
from pshctl.lifecycle import Control, Event, Settings
from pshctl.supervisor import ServiceProblem
from pshctl.targets import Target

FAST = Settings(grace=1, verify=0.05, start_wait=1)
_pids = itertools.count(100)


@dataclass
class Service:
    kind: str = "prompt"  # prompt | stubborn | crash
    pid: int | None = field(default_factory=lambda: next(_pids))
    uptime: int = 60
    wanted_down: bool = False
    got_term: bool = False

    def line(self, path: str) -> str:
        if self.pid is None:
            want = ", want up" if self.kind == "crash" and not self.wanted_down else ""
            return f"down: {path}: 0s, normally up{want}"
        flags = ", want down, got TERM" if self.got_term else ""
        return f"run: {path}: (pid {self.pid}) {self.uptime}s{flags}"


@dataclass
class Result:
    exit_status: int
    stdout: str
    stderr: str = ""


class World:
    """Services under /s, reached over fake sessions; counts connections."""

    def __init__(self, **kinds: str) -> None:
        self.services = {name: Service(kind) for name, kind in kinds.items()}
        self.connections = 0
        self.dead: set[str] = set()

    def connect(self, target: Target) -> Session:
        if target.name in self.dead:
            raise ConnectionFailed(f"connection refused by {target.host}:{target.port}")
        self.connections += 1
        return Session(self)

    def target(self, name: str) -> Target:
        port = 1 if name in self.dead else 22
        return Target(name=name, worker=name, host="h", port=port, service_dir="/s",
                      service_name=name, supervisor="runit")

    def targets(self, *names: str) -> list[Target]:
        return [self.target(n) for n in names]


@dataclass
class Session:
    world: World

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> Result:
        sv, verb, *paths = list(argv)
        assert sv == "sv", argv
        lines = [self._do(verb, p) for p in paths]
        return Result(0, "".join(line + "\n" for line in lines if line))

    def _do(self, verb: str, path: str) -> str:
        svc = self.world.services[path.rsplit("/", 1)[1]]
        if verb == "down":
            svc.wanted_down = True
            if svc.pid is not None and svc.kind == "stubborn":
                svc.got_term = True  # ignores it
            else:
                svc.pid = None
            return ""
        if verb == "kill":
            svc.pid, svc.got_term = None, False
            return ""
        if verb == "up":
            svc.pid, svc.uptime, svc.wanted_down = next(_pids), 0, False
            if svc.kind == "crash":
                svc.pid = None  # dies right after starting
            return ""
        assert verb == "status", verb
        return svc.line(path)


def test_restart_prompt_and_stubborn_one_connection_each() -> None:
    world = World(a="prompt", b="stubborn")
    old = {n: s.pid for n, s in world.services.items()}
    results = lifecycle.act("restart", world.targets("a", "b"), FAST, connector=world.connect)
    assert [(o.name, o.ok, o.unwrap().stop, o.unwrap().health) for o in results] == [
        ("a", True, "exited", "up"), ("b", True, "killed", "up")
    ]
    assert [o.unwrap().old_pid for o in results] == [old["a"], old["b"]]
    assert all(o.unwrap().new_pid not in (None, o.unwrap().old_pid) for o in results)
    assert world.connections == 2
    assert results.exit_code == ExitCode.OK


def test_crash_after_start_is_a_failed_restart() -> None:
    world = World(c="crash")
    results = lifecycle.act("restart", world.targets("c"), FAST, connector=world.connect)
    (result,) = results
    assert not result.ok and isinstance(result.error, lifecycle.CrashLooping)
    assert result.value is not None and result.value.health == "crash-looping"
    assert "did not stay up" in (result.message or "")
    assert results.exit_code == ExitCode.FAILED


def test_unreachable_worker_never_hides_the_others() -> None:
    world = World(a="prompt", b="prompt")
    world.dead.add("x")
    world.services["x"] = Service()
    results = lifecycle.act("restart", world.targets("a", "x", "b"), FAST,
                            connector=world.connect)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].value is not None and results[1].value.health == "unreachable"
    assert "refused" in (results[1].message or "")
    assert results.exit_code == ExitCode.FAILED
    only_dead = lifecycle.act("restart", world.targets("x"), FAST, connector=world.connect)
    assert only_dead.exit_code == ExitCode.CONNECTION


@pytest.mark.parametrize("keep_going", [False, True])
def test_rolling_stops_at_first_failure_unless_keep_going(keep_going: bool) -> None:
    world = World(a="prompt", c="crash", b="prompt")
    settings = Settings(grace=1, verify=0.05, start_wait=1, rolling=True,
                        keep_going=keep_going)
    results = lifecycle.act("restart", world.targets("a", "c", "b"), settings,
                            connector=world.connect)
    assert [r.ok for r in results][:2] == [True, False]
    assert results[2].ok is keep_going
    assert results[2].unwrap().attempted if keep_going else not results[2].value.attempted
    if not keep_going:
        assert isinstance(results[2].error, lifecycle.NotAttempted)
        assert results[2].message == "not attempted: c failed"


def test_batches_of_two() -> None:
    world = World(a="prompt", b="prompt", c="prompt")
    seen: list[Event] = []
    settings = Settings(grace=1, verify=0.0, start_wait=1, rolling=True, batch=2)
    results = lifecycle.act("restart", world.targets("a", "b", "c"), settings,
                                connector=world.connect, on_event=seen.append)
    assert results.ok
    # Progress repeats "stopping" while a stop waits: the first one of each counts.
    order = list(dict.fromkeys(e.worker for e in seen if e.phase == "stopping"))
    assert set(order[:2]) == {"a", "b"} and order[2] == "c"


def test_first_interrupt_finishes_started_workers_and_starts_no_new_one() -> None:
    world = World(a="prompt", b="prompt", c="prompt")
    control = Control()

    def on_event(event: Event) -> None:
        if event.worker == "a" and event.phase == "stopped":
            control.interrupt()  # as the CLI's SIGINT handler would

    settings = Settings(grace=1, verify=30, start_wait=1, max_parallel=1)
    results = lifecycle.act("restart", world.targets("a", "b", "c"), settings,
                                connector=world.connect, control=control, on_event=on_event)
    assert results[0].ok and results[0].unwrap().new_pid  # started again, verify skipped
    assert [r.value.attempted for r in results if r.value] == [True, False, False]
    assert all(world.services[n].pid for n in "abc")  # nothing left down
    assert control.possibly_down() == []
    assert results.interrupted and results.exit_code == ExitCode.INTERRUPTED


def test_possibly_down_names_workers_stopped_and_not_started() -> None:
    world = World(a="prompt")
    control = Control()
    seen: list[list[str]] = []

    def on_event(event: Event) -> None:
        if event.phase == "stopped":
            seen.append(control.possibly_down())

    lifecycle.act("restart", world.targets("a"), FAST, connector=world.connect, control=control,
                      on_event=on_event)
    assert seen == [["a"]]
    assert control.possibly_down() == []


def test_stop_and_start() -> None:
    world = World(a="prompt")
    def one(action: str) -> lifecycle.ActionResult:
        (outcome,) = lifecycle.act(action, world.targets("a"), FAST, connector=world.connect)
        return outcome.unwrap()

    stopped = one("stop")
    assert stopped.stop == "exited" and stopped.health == "down"
    again = one("stop")
    assert again.stop is None  # was not running
    started = one("start")
    assert started.new_pid and started.health == "up"
    noop = one("start")
    assert noop.new_pid == started.new_pid


def test_status_one_connection_per_destination() -> None:
    world = World(a="prompt", b="crash", c="prompt")
    world.services["b"].pid = None
    world.dead.add("x")
    statuses = lifecycle.status(world.targets("a", "b", "c", "x"), connector=world.connect)
    assert [(s.name, s.value.health) for s in statuses if s.value] == [
        ("a", "up"), ("b", "crash-looping"), ("c", "up"), ("x", "unreachable")
    ]
    assert world.connections == 1
    assert statuses[0].to_dict().keys() >= {"name", "state", "pid", "uptime_s", "error"}
    assert statuses.exit_code == ExitCode.FAILED  # x could not be read
    assert lifecycle.status(world.targets("a", "c"),
                            connector=world.connect).exit_code == ExitCode.OK
    # A crash-looping worker is unhealthy: its status read fails (docs/exit-codes.md).
    looping = lifecycle.status(world.targets("a", "b"), connector=world.connect)
    assert looping.exit_code == ExitCode.FAILED
    assert "crash-looping" in (looping["b"].message or "")


def test_wait_success_and_timeout() -> None:
    world = World(a="prompt")
    ok = lifecycle.wait(world.targets("a"), timeout=1, stable=3, connector=world.connect)
    assert ok.ok and ok.exit_code == ExitCode.OK
    world.services["a"].pid = None
    late = lifecycle.wait(world.targets("a"), timeout=0.2, stable=3, connector=world.connect,
                          poll=0.05)
    assert not late.ok and late.exit_code == ExitCode.TIMEOUT
    assert isinstance(late["a"].error, OperationTimeout) and late.elapsed_s is not None
    assert world.connections == 2  # one per wait, kept across polls


def test_plan_restart_is_status_stop_start_verify() -> None:
    target = World(a="prompt").target("a")
    steps = lifecycle.plan("restart", target, Settings(grace=7))
    lease, *steps = steps
    assert lease.argv[:2] == ("sh", "-c") and "flock" in lease.argv[2]
    assert "refuse (exit 6)" in (lease.when or "")
    verbs = [s.argv[-2] for s in steps]
    assert verbs == ["status", "down", "status", "kill", "status", "up", "status", "status"]
    assert steps[1].argv == ("sv", "down", "/s/a")
    assert "after 7s" in (steps[3].when or "") and "verify" in (steps[-1].when or "")


class HostKeyWorld(World):
    """A world whose dead workers refuse with a host-key error (a ConnectionFailed)."""

    def connect(self, target: Target) -> Session:
        if target.name in self.dead:
            raise HostKeyError(f"unknown host key for {target.host}", hint="check it")
        return super().connect(target)


def test_outcomes_keep_the_exception_raised_and_serialise_its_text() -> None:
    world = HostKeyWorld(a="prompt", c="crash")
    world.dead.add("x")
    world.services["x"] = Service()
    a, x, c = lifecycle.act("restart", world.targets("a", "x", "c"), FAST,
                            connector=world.connect)
    assert a.error is None
    assert isinstance(x.error, HostKeyError) and x.value and x.value.health == "unreachable"
    assert x.message == "unknown host key for h (check it)"  # the text keeps the hint
    assert isinstance(c.error, lifecycle.CrashLooping)
    assert x.to_dict()["error"] == x.message and not x.to_dict()["ok"]
    assert "exception" not in str(x.to_dict())
    (status,) = lifecycle.status(world.targets("x"), connector=world.connect)
    assert isinstance(status.error, HostKeyError) and status.to_dict()["error"] == x.message


def test_skipped_workers_are_not_attempted_unsupervised_ones_a_service_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(bad="crash", b="prompt", ghost="prompt")
    rolling = Settings(grace=1, verify=0.05, start_wait=1, rolling=True)
    bad, b = lifecycle.act("restart", world.targets("bad", "b"), rolling,
                           connector=world.connect)
    assert isinstance(bad.error, lifecycle.CrashLooping)
    assert b.value is not None and not b.value.attempted
    assert isinstance(b.error, lifecycle.NotAttempted)

    original = Session._do

    def no_ghost(self: Session, verb: str, path: str) -> str:
        if path.endswith("/ghost"):
            return f"fail: {path}: unable to change to service directory: file does not exist"
        return original(self, verb, path)

    monkeypatch.setattr(Session, "_do", no_ghost)
    (status,) = lifecycle.status(world.targets("ghost"), connector=world.connect)
    assert status.value is not None and status.value.health == "unsupervised"
    assert isinstance(status.error, ServiceProblem)
    assert status.message == str(status.error)


def test_a_status_read_that_fails_otherwise_is_unknown_not_unsupervised() -> None:
    from pshctl.errors import OperationTimeout

    class Slow(World):
        def connect(self, target: Target) -> Session:
            raise OperationTimeout("command on h still running after 30s: sv status /s/a")

    world = Slow(a="prompt")
    (status,) = results = lifecycle.status(world.targets("a"), connector=world.connect)
    assert status.value is not None and status.value.health == "unknown"
    assert isinstance(status.error, OperationTimeout) and "still running" in (status.message or "")
    assert results.exit_code == ExitCode.TIMEOUT
