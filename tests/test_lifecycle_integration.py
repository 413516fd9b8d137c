"""status / stop / start / restart / wait against a real sshd and real services, each
test run once on runit and once on systemd user units (the `testbed` parameter)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import CliResult, CliRunner, run_pshctl, wait_until
from tests.testbed import CRASHES, IGNORES_TERM, PROMPT, SUPERVISORS, TestBed

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)]

FAST = ("--grace", "1", "--verify", "1")


def _by_name(document: dict) -> dict[str, dict]:
    return {w["name"]: w for w in document["workers"]}


def test_restart_prompt_worker(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("mail", PROMPT)
    root = testbed.project(["mail"])
    old = testbed.pid("mail")
    # A long grace: a stop that had to wait for SIGKILL would take all of it.
    result = cli("restart", "mail", "-e", "test", "--json", "--grace", "20", "--verify", "1",
                 cwd=root)
    assert result.exit_code == 0, result
    (mail,) = result.json["workers"]
    assert mail.keys() >= {"name", "ok", "stop", "old_pid", "new_pid", "error"}
    assert (mail["ok"], mail["stop"], mail["old_pid"], mail["error"]) == (True, "exited", old,
                                                                            None)
    assert mail["new_pid"] == testbed.pid("mail") != old
    assert mail["stop_s"] < 10  # SIGTERM was enough, no grace spent (slack for a loaded CI)


def test_restart_worker_ignoring_sigterm_is_killed_after_grace(
    testbed: TestBed, cli: CliRunner
) -> None:
    testbed.add_service("stubborn", IGNORES_TERM)
    root = testbed.project(["stubborn"])
    old = testbed.pid("stubborn")
    result = cli("restart", "--worker=stubborn", "-e", "test", "--json", *FAST, cwd=root)
    assert result.exit_code == 0, result
    (w,) = result.json["workers"]
    assert (w["ok"], w["stop"]) == (True, "killed")
    assert w["stop_s"] >= 1
    assert w["new_pid"] == testbed.pid("stubborn") != old


def test_stop_reports_exited_or_killed_then_start(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_services({"quick": PROMPT, "stubborn": IGNORES_TERM})
    root = testbed.project(["quick", "stubborn"])
    result = cli("stop", "quick", "stubborn", "--grace", "1", "-e", "test", "--json", cwd=root)
    assert result.exit_code == 0, result
    workers = _by_name(result.json)
    assert workers["quick"]["stop"] == "exited"
    assert workers["stubborn"]["stop"] == "killed"
    assert testbed.pid("quick") is None and testbed.pid("stubborn") is None

    status = cli("status", "-e", "test", "--json", cwd=root)
    assert [w["state"] for w in status.json["workers"]] == ["down", "down"]

    started = cli("start", "quick", "stubborn", "--verify", "1", "-e", "test", cwd=root)
    assert started.exit_code == 0, started
    assert testbed.pid("quick") and testbed.pid("stubborn")


def test_crash_right_after_start_fails_the_restart(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("flaky", PROMPT)
    root = testbed.project(["flaky"])
    # The new code crashes: swap the run script behind runit's back, then restart.
    run = testbed.run_script("flaky")
    run.write_text(run.read_text().replace(PROMPT, CRASHES))
    result = cli("restart", "flaky", "-e", "test", "--json", "--grace", "1", "--verify", "2",
                 cwd=root)
    assert result.exit_code == 1, result
    (w,) = result.json["workers"]
    assert w["ok"] is False
    assert w["state"] == "crash-looping"
    assert w["error"]


def test_unreachable_worker_among_healthy_ones(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_services({"a": PROMPT, "b": PROMPT})
    root = testbed.project(["a", "dead", "b"], overrides={"dead": {"port": 1}})
    old = {n: testbed.pid(n) for n in "ab"}

    status = cli("status", "-e", "test", cwd=root)
    assert status.exit_code == 1, status
    dead_row = next(line for line in status.stdout.splitlines() if line.startswith("dead"))
    assert "unreachable" in dead_row and "refused" in dead_row

    result = cli("restart", "a", "dead", "b", "-e", "test", "--json", *FAST, cwd=root)
    assert result.exit_code == 1, result
    workers = _by_name(result.json)
    assert workers["a"]["ok"] and workers["b"]["ok"]
    assert workers["dead"]["ok"] is False
    assert "refused" in workers["dead"]["error"]
    assert all(testbed.pid(n) != old[n] for n in "ab")

    alone = cli("restart", "dead", "-e", "test", *FAST, cwd=root)
    assert alone.exit_code == 4, alone
    assert "refused" in alone.stdout


def test_parallel_restart_of_30_workers_with_default_maxstartups(
    testbed: TestBed, cli: CliRunner
) -> None:
    names = [f"w{i:02d}" for i in range(30)]
    testbed.add_services({n: PROMPT for n in names})
    root = testbed.project(names)
    before = testbed.sshd.accepted_logins()
    result = cli("restart", "--all", "-e", "test", "--json", "--grace", "2", "--verify", "0.5",
                 cwd=root)
    assert result.exit_code == 0, result
    assert [w["name"] for w in result.json["workers"] if not w["ok"]] == []
    # Each exits at once on SIGTERM: none may be seen too late and killed.
    assert [w["name"] for w in result.json["workers"] if w["stop"] != "exited"] == []
    assert testbed.sshd.accepted_logins() - before == 30  # exactly one connection each


def test_rolling_restart_stops_at_first_failure(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_services({"a": PROMPT, "bad": PROMPT, "c": PROMPT})
    root = testbed.project(["a", "bad", "c"])
    run = testbed.run_script("bad")
    run.write_text(run.read_text().replace(PROMPT, CRASHES))
    old_c = testbed.pid("c")
    result = cli("restart", "a", "bad", "c", "--rolling", "-e", "test", "--json", *FAST,
                 cwd=root)
    assert result.exit_code == 1, result
    workers = _by_name(result.json)
    assert workers["a"]["ok"] is True
    assert workers["bad"]["ok"] is False
    assert workers["c"]["ok"] is False and "not attempted" in workers["c"]["error"]
    assert testbed.pid("c") == old_c  # untouched

    going = cli("restart", "bad", "c", "--rolling", "--keep-going", "-e", "test", "--json",
                *FAST, cwd=root)
    assert [w["ok"] for w in going.json["workers"]] == [False, True]


def _spawn_restart(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pshctl", "restart", *args],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )


def _wait_for_stopping(testbed: TestBed, names: list[str], timeout: float = 15,
                       *, every: bool = False) -> None:
    """Until the supervisor says some worker (``every``: each one) got TERM: pshctl is
    mid-restart."""
    enough = all if every else any
    wait_until(lambda: enough(testbed.got_term(n) for n in names),
               "pshctl to begin stopping a worker", timeout=timeout)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "sighup"])
def test_interrupt_mid_restart_leaves_every_worker_up(testbed: TestBed, sig: int) -> None:
    """Ctrl-C, and SIGHUP (a closed terminal): finish what is stopped, begin nothing new."""
    names = [f"s{i}" for i in range(4)]
    testbed.add_services({n: IGNORES_TERM for n in names})
    root = testbed.project(names)
    proc = _spawn_restart(root, *names, "-e", "test", "--grace", "2", "--verify", "1",
                          "--max-parallel", "2")
    _wait_for_stopping(testbed, names)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err
    assert all(testbed.pid(n) for n in names), [testbed.status_text(n) for n in names]
    assert "not attempted: interrupted" in out


def test_second_ctrl_c_aborts_and_says_what_is_down(testbed: TestBed) -> None:
    names = ["s0", "s1"]
    testbed.add_services({n: IGNORES_TERM for n in names})
    root = testbed.project(names)
    proc = _spawn_restart(root, *names, "-e", "test", "--grace", "5", "--verify", "1")
    # Both were sent TERM (only then is each "possibly down"; on a loaded machine the
    # second one's stop can begin well after the first one's).
    _wait_for_stopping(testbed, names, every=True)
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr is not None
    seen = []  # progress lines, until pshctl says it took the first interrupt
    while not (seen and seen[-1].startswith("interrupted:")):
        seen.append(proc.stderr.readline())
        assert seen[-1], f"pshctl ended before taking the interrupt: {seen}"
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=30)
    err = "".join(seen) + rest
    assert proc.returncode == 130, (out, err)
    assert "may be down: s0, s1" in err
    command = next(line for line in err.splitlines() if "pshctl start" in line)
    argv = command.split("pshctl start", 1)[1].split()
    # The printed command brings them back.
    back = run_pshctl("start", *argv, "--verify", "0.5", cwd=root)
    assert back.exit_code == 0, back
    assert all(testbed.pid(n) for n in names)


def test_wait_success_and_timeout(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_services({"ready": PROMPT, "halted": PROMPT})
    root = testbed.project(["ready", "halted"])
    testbed.stop_service("halted")
    began = time.monotonic()
    ok = cli("wait", "ready", "-e", "test", "--stable", "1", "--timeout", "10", cwd=root)
    assert ok.exit_code == 0, ok
    late = cli("wait", "ready", "halted", "-e", "test", "--timeout", "1", "--json", cwd=root)
    assert late.exit_code == 5, late
    assert late.json["ok"] is False
    assert _by_name(late.json)["halted"]["state"] == "down"
    assert "timed out" in late.stderr and "halted" in late.stderr
    assert time.monotonic() - began < 10


def test_status_json_fields_and_health_words(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_services({"ok": PROMPT, "loop": CRASHES})
    root = testbed.project(["ok", "loop", "ghost"])  # ghost: no such runit service

    def past_starting() -> CliResult | None:
        result = cli("status", "--json", "-e", "test", cwd=root)
        return result if _by_name(result.json)["ok"]["state"] == "up" else None

    result = wait_until(past_starting, "ok to be past 'starting'")
    workers = _by_name(result.json)
    for w in workers.values():
        assert w.keys() >= {"name", "state", "pid", "uptime_s", "error"}
    assert workers["ok"]["state"] == "up"
    assert isinstance(workers["ok"]["pid"], int) and workers["ok"]["uptime_s"] >= 2
    assert workers["loop"]["state"] in ("crash-looping", "starting")
    assert workers["ghost"]["state"] == "unsupervised" and workers["ghost"]["error"]
    assert workers["ghost"]["pid"] is None
    assert result.exit_code == 1


def test_dry_run_prints_exact_commands_and_touches_nothing(
    testbed: TestBed, cli: CliRunner
) -> None:
    testbed.add_service("mail", PROMPT)
    root = testbed.project(["mail"])
    pid = testbed.pid("mail")
    result = cli("restart", "mail", "--dry-run", "--grace", "7", "-e", "test", cwd=root)
    assert result.exit_code == 0, result
    service = str(testbed.service_root / "mail")
    # Which supervisor runs it is found out at run time: both drivers' commands show.
    assert "@@pshctl-probe" in result.stdout
    for command in (f"sv down {service}", f"sv kill {service}", f"sv up {service}",
                    "systemctl --user stop --no-block -- mail.service",
                    "systemctl --user kill --signal=KILL -- mail.service",
                    "systemctl --user start --no-block -- mail.service"):
        assert command in result.stdout
    assert "if still running after 7s" in result.stdout
    assert testbed.pid("mail") == pid


def test_restart_needs_names_or_all(testbed: TestBed, cli: CliRunner) -> None:
    root = testbed.project(["mail"])
    result = cli("restart", "-e", "test", cwd=root)
    assert result.exit_code == 2
    unknown = cli("restart", "nope", "-e", "test", cwd=root)
    assert unknown.exit_code == 3 and "nope" in unknown.stderr
