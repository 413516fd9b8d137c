"""A worker scaled to three instances, on real processes: each instance a service of the
test bed (``queue-0``, ``queue-1``, ``queue-2``, declared as ``instances: 3`` with
``service_name: queue-{instance}``), run once on runit and once on systemd."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pshctl.api import open_environment
from tests.helpers import CliRunner
from tests.testbed import CRASHES, PROMPT, SUPERVISORS, TestBed, slow_stop

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)]

INSTANCES = [f"queue-{n}" for n in range(3)]
FAST = ("--grace", "5", "--verify", "1")


def scaled(bed: TestBed, script: str = PROMPT, *, mail: bool = True) -> Path:
    """The three instances (and a worker `mail` of one) running; the project's root."""
    bed.add_services({**dict.fromkeys(INSTANCES, script), **({"mail": PROMPT} if mail else {})})
    queue = {"instances": 3, "service_name": "queue-{instance}",
             "log_dir": str(bed.root / "log" / "queue-{instance}")}
    return bed.project(["queue", "mail"] if mail else ["queue"], overrides={"queue": queue})


def pids(bed: TestBed) -> list[int | None]:
    return [bed.pid(name) for name in INSTANCES]


def test_status_lists_one_row_per_instance_under_its_worker(testbed: TestBed,
                                                            cli: CliRunner) -> None:
    root = scaled(testbed)
    result = cli("status", "-e", "test", "--json", cwd=root)
    assert result.exit_code == 0, result
    rows = result.json["workers"]
    assert [(r["name"], r["worker"], r["instance"]) for r in rows] == [
        ("queue.0", "queue", 0), ("queue.1", "queue", 1), ("queue.2", "queue", 2),
        ("mail", "mail", 0)]
    assert [r["pid"] for r in rows[:3]] == pids(testbed)
    assert len(set(pids(testbed))) == 3

    # A worker up for less than the verify time shows as starting: wait until all are up.
    assert cli("wait", "--all", "-e", "test", cwd=root).exit_code == 0
    table = cli("status", "-e", "test", cwd=root)
    lines = table.stdout.splitlines()
    assert lines[1].split()[:3] == ["queue", "3/3", "up"]
    assert [line.split()[0] for line in lines[2:5]] == ["queue.0", "queue.1", "queue.2"]
    assert lines[5].split()[:2] == ["mail", "up"]  # one instance: a row as before, no .0


def test_restart_verifies_a_new_pid_on_every_instance(testbed: TestBed,
                                                      cli: CliRunner) -> None:
    root = scaled(testbed)
    before = pids(testbed)
    result = cli("restart", "queue", "-e", "test", "--json", *FAST, cwd=root)
    assert result.exit_code == 0, result
    rows = result.json["workers"]
    assert [r["name"] for r in rows] == ["queue.0", "queue.1", "queue.2"]
    assert [r["old_pid"] for r in rows] == before
    assert [r["new_pid"] for r in rows] == pids(testbed)
    assert all(new != old for new, old in zip(pids(testbed), before, strict=True))


@contextmanager
def watching(bed: TestBed) -> Iterator[list[int]]:
    """Sample, until the block ends, how many instances are not up, as the supervisor
    itself says (``sv status`` / ``systemctl --user show``, run here, not through pshctl)."""
    seen: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen.append(sum(not bed.is_up(name) for name in INSTANCES))
            time.sleep(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join(timeout=30)


def test_rolling_batch_1_never_has_two_instances_down(testbed: TestBed,
                                                      cli: CliRunner) -> None:
    # Each instance takes a while to drain after SIGTERM: down long enough to be seen.
    root = scaled(testbed, slow_stop(0.5), mail=False)
    before = pids(testbed)
    with watching(testbed) as seen:
        result = cli("restart", "queue", "--rolling", "--batch", "1", "-e", "test", "--json",
                     *FAST, cwd=root)
    assert result.exit_code == 0, result
    assert max(seen) == 1, seen  # one down at a time: the check saw each go down
    assert all(new != old for new, old in zip(pids(testbed), before, strict=True))


def test_rolling_batches_larger_than_a_worker_still_keep_one_up(testbed: TestBed,
                                                                cli: CliRunner) -> None:
    root = scaled(testbed, slow_stop(0.5), mail=False)
    with watching(testbed) as seen:
        result = cli("restart", "queue", "--rolling", "--batch", "3", "-e", "test", "--json",
                     *FAST, cwd=root)
    assert result.exit_code == 0, result
    assert max(seen) == 2, seen  # two at once, never the third


def test_one_crash_looping_instance_fails_only_that_instance(testbed: TestBed,
                                                             cli: CliRunner) -> None:
    root = scaled(testbed)
    testbed.run_script("queue-1").write_text(
        testbed.run_script("queue-1").read_text().replace(PROMPT, CRASHES))
    result = cli("restart", "queue", "mail", "-e", "test", "--json", *FAST, cwd=root)
    assert result.exit_code == 1, result
    rows = {r["name"]: r for r in result.json["workers"]}
    assert [name for name, r in rows.items() if not r["ok"]] == ["queue.1"]
    assert rows["queue.1"]["state"] == "crash-looping"
    assert rows["queue.0"]["ok"] and rows["queue.2"]["ok"] and rows["mail"]["ok"]

    env = open_environment("test", cwd=root)
    results = env.restart(["queue", "mail"], grace=5, verify=1)
    assert [(g.worker, g.ok) for g in results.by_worker()] == [("queue", False), ("mail", True)]
    assert "failed on 1 of 2 worker(s) (1 of 4 instances)" in result.stderr


def test_logs_follow_merges_three_instances_without_loss(testbed: TestBed) -> None:
    from pshctl.logs import LogLines

    count = 300
    writer = ("i=0\n"
              f"while [ $i -lt {count} ]; do echo \"$(basename \"$PWD\") $i\"; i=$((i+1));"
              " [ $((i % 25)) -eq 0 ] && sleep 0.05; done\n"
              "exec sleep 100000\n")
    root = scaled(testbed, writer, mail=False)
    env = open_environment("test", cwd=root)
    got: dict[str, list[str]] = {}
    deadline = time.monotonic() + 60
    with env.follow_logs(["queue"], lines=10 * count) as stream:
        for event in stream.events(idle=0.2):
            if isinstance(event, LogLines):
                got.setdefault(event.worker, []).extend(event.lines)
            if sum(map(len, got.values())) >= 3 * count or time.monotonic() > deadline:
                break
    assert sorted(got) == ["queue.0", "queue.1", "queue.2"]
    for n in range(3):
        assert got[f"queue.{n}"] == [f"queue-{n} {i}" for i in range(count)]


def test_instance_option_reaches_that_instance_and_refuses_one_not_there(
        testbed: TestBed, cli: CliRunner) -> None:
    root = scaled(testbed)
    before = pids(testbed)
    result = cli("restart", "queue", "-I", "2", "-e", "test", "--json", *FAST, cwd=root)
    assert result.exit_code == 0, result
    assert [r["name"] for r in result.json["workers"]] == ["queue.2"]
    after = pids(testbed)
    assert after[:2] == before[:2] and after[2] != before[2]

    same = cli("status", "queue.2", "-e", "test", "--json", cwd=root)
    assert [r["pid"] for r in same.json["workers"]] == [after[2]]

    missing = cli("status", "queue", "-I", "5", "-e", "test", cwd=root)
    assert missing.exit_code == 3, missing
    assert ("instance 5 of queue does not exist; available instances: 0, 1, 2"
            in missing.stderr)
    assert pids(testbed) == after  # nothing was touched
