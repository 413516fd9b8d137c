"""Errors with a next step: each problem once on stderr with its hint, never cut in a table."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from pshctl.cli import problems
from pshctl.errors import ConnectionFailed, HostKeyError, OperationFailed
from pshctl.lifecycle import NotAttempted
from pshctl.outcome import Outcome
from tests.helpers import REPO, CliRunner
from tests.terminal import Terminal
from tests.testbed import CRASHES, PROMPT, TestBed

PSHCTL = REPO / ".venv" / "bin" / "pshctl"


def test_one_problem_of_many_workers_is_said_once_with_its_hint() -> None:
    changed = HostKeyError("host key of ssh.eu-3.platform.sh changed", hint="check it")
    outcomes = [Outcome("queue", None, changed), Outcome("mail", None, changed),
                Outcome("ok", None, None), Outcome("later", None, NotAttempted("skipped"))]
    assert problems.summary(outcomes) == [
        ("queue, mail: host key of ssh.eu-3.platform.sh changed", "check it")]


def test_a_failure_without_a_hint_gets_the_command_that_shows_why() -> None:
    reached = Outcome("queue", None, OperationFailed("did not stay up"))
    unreached = Outcome("mail", None, ConnectionFailed("timed out connecting"))
    app = Outcome("shop", None, OperationFailed("still the old process"))
    assert problems.summary([reached, unreached, app], app="shop") == [
        ("queue: did not stay up", "see why in its log: pshctl logs queue -n 50"),
        ("mail: timed out connecting",
         "see the SSH conversation: pshctl -v ssh --worker mail -- true"),
        ("shop: still the old process", "see why in its log: pshctl logs -n 50"),
    ]
    assert problems.short(unreached) == "timed out connecting"


def _impostor_known_hosts(testbed: TestBed, path: Path) -> Path:
    """A known_hosts file that lists another server's key for the bed's address: what a
    man in the middle would look like."""
    other = testbed.root / "other_key"
    if not other.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                       check=True)
    name = testbed.known_hosts.read_text().split()[0]
    path.write_text(f"{name} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    return path


@pytest.mark.integration
def test_a_host_key_problem_is_one_error_for_every_worker(testbed: TestBed,
                                                         cli: CliRunner) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    root = testbed.project(["queue", "mail"])
    _impostor_known_hosts(testbed, testbed.known_hosts)
    result = cli("status", "-e", "test", cwd=root)
    assert result.exit_code == 4, result
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: queue, mail: ")
    assert result.stderr.count("hint: ") == 1


@pytest.mark.integration
def test_a_failed_restart_names_the_log_command(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("flaky", PROMPT)
    root = testbed.project(["flaky"])
    run = testbed.service_root / "flaky" / "run"
    run.write_text(run.read_text().replace(PROMPT, CRASHES))
    result = cli("restart", "flaky", "-e", "test", "--grace", "1", "--verify", "2", cwd=root)
    assert result.exit_code == 1, result
    assert "hint: see why in its log: pshctl logs flaky -n 50" in result.stderr


@pytest.mark.integration
def test_a_long_error_does_not_wrap_the_table_at_80_columns(testbed: TestBed,
                                                            terminal: Terminal) -> None:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    impostor = _impostor_known_hosts(testbed, testbed.root / "impostor_known_hosts")
    root = testbed.project(["queue", "mail"], overrides={"mail": {"known_hosts": str(impostor)}})
    terminal.start_shell(str(root), PSHCTL.parent, width=80)
    terminal.type(f"{shlex.join([str(PSHCTL), 'status', '-e', 'test'])}; echo rc=$?")
    screen = terminal.wait_for(lambda s: re.search(r"^rc=\d+", s, re.MULTILINE))
    lines = screen.splitlines()
    header = next(i for i, x in enumerate(lines) if x.lstrip().startswith("worker"))
    assert lines[header + 1].startswith("queue") and lines[header + 2].startswith("mail")
    assert lines[header + 3].startswith("error: mail: "), screen  # nothing folded between
    assert lines[header + 2].rstrip().endswith("…"), screen
    said = " ".join(lines[header + 3:])
    assert "hint: " in said and re.search(r"^rc=1$", screen, re.MULTILINE), screen
