"""The runbook API against a real sshd and real services (no mocks), on runit and on
systemd user units (the `testbed` parameter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pshctl.api import (
    AuthenticationFailed,
    CommandFailed,
    ConfigError,
    ConnectionFailed,
    Environment,
    HostKeyError,
    NameNotFound,
    OperationFailed,
    OperationTimeout,
    Outcome,
    Results,
    UsageError,
    open_environment,
)
from pshctl.errors import ExitCode
from pshctl.lifecycle import NotAttempted
from pshctl.sandbox.servers import generate_key
from tests.testbed import CRASHES, PROMPT, SUPERVISORS, TestBed

pytestmark = pytest.mark.integration


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the test bed runs on runit and on systemd."""
    if "testbed" in metafunc.fixturenames:
        metafunc.parametrize("testbed", SUPERVISORS, indirect=True)

CHATTY = "echo \"started $$\"\necho 'second line'\nexec sleep 100000\n"


def env_for(testbed: TestBed, workers: list[str], **project: object) -> Environment:
    root = testbed.project(workers, **project)  # type: ignore[arg-type]
    return open_environment("test", cwd=root)


def test_environment_describes_the_app(testbed: TestBed) -> None:
    env = env_for(testbed, ["queue", "mail"])
    assert (env.name, env.app.name) == ("test", "app")
    assert env.workers == ["queue", "mail"]
    assert env.worker("mail").start_command == "run-mail"
    with pytest.raises(NameNotFound, match="did you mean 'mail'"):
        env.worker("mial")
    assert [t.name for t in env.targets(all_workers=True)] == ["queue", "mail"]


def test_status_of_every_worker(testbed: TestBed) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    env = env_for(testbed, ["queue", "mail"])
    results = env.status()
    assert isinstance(results, Results) and results.ok
    assert [r.name for r in results] == ["queue", "mail"]
    assert results["mail"].unwrap().pid == testbed.pid("mail")
    assert results["queue"].unwrap().health in ("starting", "up")  # "up" once it ran a while
    assert results.exit_code == ExitCode.OK


def test_restart_gives_each_worker_a_new_process(testbed: TestBed) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    env = env_for(testbed, ["queue", "mail"])
    old = {name: testbed.pid(name) for name in ("queue", "mail")}
    events: list[str] = []
    results = env.restart(["queue", "mail"], grace=1, verify=0.5, rolling=True,
                          on_event=lambda e: events.append(f"{e.worker}:{e.phase}"))
    assert results.ok, results.failed
    for name in ("queue", "mail"):
        done = results[name].unwrap()
        assert done.old_pid == old[name]
        assert done.new_pid == testbed.pid(name) != old[name]
    # rolling, one at a time: queue is done before mail begins
    assert events.index("queue:done") < min(i for i, e in enumerate(events)
                                            if e.startswith("mail:"))


def test_one_unreachable_worker_does_not_hide_the_others(testbed: TestBed) -> None:
    testbed.add_service("queue", PROMPT)
    env = env_for(testbed, ["queue", "dead"], overrides={"dead": {"port": 1}})
    results = env.restart(all_workers=True, grace=1, verify=0.5)
    assert results["queue"].ok
    failed = results["dead"]
    assert isinstance(failed, Outcome) and isinstance(failed.error, ConnectionFailed)
    with pytest.raises(ConnectionFailed):
        failed.unwrap()
    assert [r.name for r in results.failed] == ["dead"]
    assert results.exit_code == ExitCode.FAILED
    with pytest.raises(Exception, match="failed on 1 of 2 worker"):
        results.raise_on_failure()
    status = env.status()
    assert status["queue"].ok and isinstance(status["dead"].error, ConnectionFailed)
    assert status["dead"].value is not None and status["dead"].value.health == "unreachable"


def test_failures_keep_the_exception_that_was_raised(testbed: TestBed) -> None:
    testbed.add_service("queue", PROMPT)
    empty = testbed.root / "empty_known_hosts"
    empty.touch()
    stranger_key = generate_key(testbed.root / "stranger" / "id_ed25519")
    env = env_for(testbed, ["queue", "stranger", "locked", "dead"], overrides={
        "stranger": {"known_hosts": str(empty)},  # this host's key is not known here
        "locked": {"identity_file": str(stranger_key)},  # a key sshd does not accept
        "dead": {"port": 1},
    })
    for results in (env.status(), env.restart(all_workers=True, grace=1, verify=0.5)):
        assert results["queue"].ok
        error = results["stranger"].error
        assert isinstance(error, HostKeyError) and "--accept-new" in (error.hint or "")
        assert isinstance(results["locked"].error, AuthenticationFailed)
        assert type(results["dead"].error) is ConnectionFailed
        with pytest.raises(HostKeyError):
            results["stranger"].unwrap()
        # The text shown for the worker (and its JSON) still ends with the hint.
        assert "--accept-new" in (results["stranger"].message or "")
        assert results["stranger"].to_dict()["error"] == results["stranger"].message
        assert results.exit_code == ExitCode.FAILED
    assert env.status(["stranger", "dead"]).exit_code == ExitCode.CONNECTION


def test_failures_with_nothing_raised_get_an_error_built_for_them(testbed: TestBed) -> None:
    testbed.add_services({"bad": CRASHES, "good": PROMPT})
    env = env_for(testbed, ["bad", "good"])
    results = env.restart(["bad", "good"], grace=1, verify=2, rolling=True)
    assert isinstance(results["bad"].error, OperationFailed)
    skipped = results["good"]
    assert isinstance(skipped.error, NotAttempted) and "not attempted" in str(skipped.error)
    assert skipped.value is not None and not skipped.value.attempted


def test_wait_timeout_names_the_failed_read_as_its_cause(testbed: TestBed) -> None:
    env = env_for(testbed, ["dead"], overrides={"dead": {"port": 1}})
    results = env.wait(timeout=0.5, stable=1)
    error = results["dead"].error
    assert isinstance(error, OperationTimeout)
    assert type(error.__cause__) is ConnectionFailed
    assert results.exit_code == ExitCode.TIMEOUT


def test_status_reader_keeps_its_connections_between_reads(testbed: TestBed) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    env = env_for(testbed, ["queue", "mail"])
    before = testbed.sshd.accepted_logins()
    with env.status_reader() as read:
        first, second = read(), read()
    assert first.ok and second.ok and [r.name for r in second] == ["queue", "mail"]
    assert testbed.sshd.accepted_logins() - before == 1  # one destination, one login


def test_plan_runs_nothing_and_needs_names(testbed: TestBed) -> None:
    testbed.add_service("queue", PROMPT)
    env = env_for(testbed, ["queue"])
    pid = testbed.pid("queue")
    ((target, steps),) = env.plan("restart", ["queue"], grace=7)
    assert target.name == "queue"
    commands = [s.command for s in steps]
    assert f"sv down {testbed.service_root / 'queue'}" in commands
    assert any(c.startswith("systemctl --user stop --no-block -- queue.service 2>&1 && ")
               for c in commands)
    assert any("after 7s" in (s.when or "") for s in steps)
    assert testbed.pid("queue") == pid
    with pytest.raises(UsageError):
        env.plan("restart")
    with pytest.raises(UsageError):
        env.plan("reboot", all_workers=True)


def test_every_worker_unreachable_is_exit_code_4(testbed: TestBed) -> None:
    env = env_for(testbed, ["dead"], overrides={"dead": {"port": 1}})
    assert env.status().exit_code == ExitCode.CONNECTION


def test_actions_need_names_or_all_workers(testbed: TestBed) -> None:
    env = env_for(testbed, ["queue"])
    with pytest.raises(UsageError):
        env.restart()
    with pytest.raises(UsageError):
        env.run(["true"])
    with pytest.raises(NameNotFound):
        env.stop(["nope"])


def test_stop_then_start(testbed: TestBed) -> None:
    testbed.add_service("queue", PROMPT)
    env = env_for(testbed, ["queue"])
    assert env.stop(["queue"], grace=1).ok
    assert testbed.pid("queue") is None
    started = env.start(["queue"], verify=0.5)
    assert started.ok and started["queue"].unwrap().new_pid == testbed.pid("queue")


def test_run_a_command_on_every_worker(testbed: TestBed) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    env = env_for(testbed, ["queue", "mail"])
    results = env.run(["printf", "%s|", "two words", "$HOME"], all_workers=True)
    assert results.ok
    assert {r.name: r.unwrap().stdout for r in results} == {
        "queue": "two words|$HOME|", "mail": "two words|$HOME|"}
    failing = env.run(["sh", "-c", "echo oops >&2; exit 3"], ["queue"])
    assert failing.ok and failing["queue"].unwrap().exit_status == 3
    assert failing["queue"].unwrap().stderr == "oops\n"
    checked = env.run(["false"], ["queue"], check=True)
    assert isinstance(checked["queue"].error, CommandFailed)


def test_logs_of_workers(testbed: TestBed) -> None:
    testbed.add_services({"queue": CHATTY, "mail": PROMPT})
    env = env_for(testbed, ["queue", "mail"])
    results = env.logs(["queue"], lines=1)
    assert results.ok
    assert results["queue"].unwrap() == ["second line"]
    assert "started" in env.logs(["queue"], lines=5)["queue"].unwrap()[0]
    missing = env.logs(["mail"], log_type="deploy")
    assert not missing.ok and missing["mail"].error is not None


def test_follow_logs_streams_new_lines(testbed: TestBed) -> None:
    from pshctl.logs import LogLines

    testbed.add_service("queue", CHATTY)
    env = env_for(testbed, ["queue"])
    first = None
    with env.follow_logs(["queue"], lines=1) as stream:
        for event in stream:
            if isinstance(event, LogLines):
                first = event
                break
    assert first is not None, "the stream ended without a line"
    assert first.worker == "queue" and first.lines == ["second line"]


def test_wait_until_stable_or_time_out(testbed: TestBed) -> None:
    testbed.add_services({"steady": PROMPT, "crashy": CRASHES})
    env = env_for(testbed, ["steady", "crashy"])
    assert env.wait(["steady"], timeout=10, stable=0.5).ok
    # sv reports uptime in whole seconds and crashy lives ~1.3s per cycle: ask for 2s.
    results = env.wait(timeout=4, stable=2)
    assert results["steady"].ok
    assert isinstance(results["crashy"].error, OperationTimeout)
    assert results.exit_code == ExitCode.TIMEOUT
    assert results.elapsed_s is not None and results.elapsed_s >= 4


def test_importing_the_api_is_cheap(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, pshctl.api; "
         "print(sorted(m for m in ('paramiko', 'fabric', 'keyring', 'yaml') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
    )
    assert proc.stdout.strip() == "[]"


def test_a_host_key_problem_is_reported_as_one_with_exit_4(testbed: TestBed, cli) -> None:
    """Never a worker state `unsupervised`, never a raw exception: a host-key error."""
    impostor = generate_key(testbed.root / "impostor").with_suffix(".pub").read_text().split()
    changed = testbed.root / "changed_known_hosts"
    changed.write_bytes(b"\xff\xfe not a line\n"  # skipped with a warning, as OpenSSH does
                        + f"[{testbed.host}]:{testbed.port} {impostor[0]} {impostor[1]}\n"
                        .encode())
    root = testbed.project(["queue"], overrides={"queue": {"known_hosts": str(changed)}})
    result = cli("status", "-e", "test", "--json", cwd=root)
    assert result.exit_code == ExitCode.CONNECTION, result
    (queue,) = result.json["workers"]
    assert queue["state"] == "unreachable"
    assert "HAS CHANGED" in queue["error"] and "Error:" not in queue["error"]
    assert "Traceback" not in result.stderr


def test_an_impossible_timeout_is_a_configuration_error(testbed: TestBed, cli) -> None:
    import math

    from pshctl.ssh import SshOptions

    root = testbed.project(["queue"])
    for bad in (math.inf, math.nan, 1e300, 0.0):
        with pytest.raises(ConfigError, match="connect_timeout"):
            open_environment("test", cwd=root, ssh_options=SshOptions(connect_timeout=bad))
    config = root / ".pshctl.yaml"
    text = config.read_text().replace("{\n", '{\n  "ssh": {"connect_timeout": 1e400},\n', 1)
    config.write_text(text)
    result = cli("status", "-e", "test", cwd=root)
    assert result.exit_code == ExitCode.CONFIG, result
    assert "connect_timeout" in result.stderr and "unsupervised" not in result.stdout
