"""A silently stalled link is found by keepalives on a real sshd (no RST, nothing closes)."""

from __future__ import annotations

import os
import signal

import pytest

from pshctl.errors import ConnectionFailed, OperationTimeout
from pshctl.sandbox.servers import children_of
from pshctl.ssh import SshOptions, connect, keepalive
from pshctl.ssh.session import Session
from pshctl.targets import Target
from tests.testbed import TestBed

pytestmark = pytest.mark.integration


@pytest.fixture
def target(testbed: TestBed) -> Target:
    return Target(name="app", worker=None, host=testbed.host, port=testbed.port,
                  user=testbed.user, identity_file=str(testbed.client_key),
                  known_hosts=str(testbed.known_hosts))


def _descendants(pid: int) -> list[int]:
    found = []
    for child in children_of(pid):
        found += [child, *_descendants(child)]
    return found


def _run_then_stall(session: Session, testbed: TestBed, *, timeout: float) -> None:
    """A long command that is running when the server stops answering."""

    def stall_on_first_output(data: bytes) -> None:
        if not frozen:
            for pid in _descendants(testbed.sshd.pid):
                os.kill(pid, signal.SIGSTOP)
                frozen.append(pid)

    frozen: list[int] = []
    try:
        session.stream("echo running; sleep 600", on_stdout=stall_on_first_output,
                       on_stderr=lambda data: None, timeout=timeout)
    finally:
        assert frozen, "the command never ran"
        for pid in frozen:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def test_stalled_link_is_declared_dead_by_unanswered_keepalives(
    target: Target, testbed: TestBed, capfd: pytest.CaptureFixture[str]
) -> None:
    options = SshOptions(keepalive=1, keepalive_count=2)
    with connect(target, options) as session:
        # Far beyond the keepalive bound (1 s x (2 + 1) + 1 s): a ConnectionFailed, not
        # an OperationTimeout, shows the keepalives found the stall.
        with pytest.raises(ConnectionFailed, match="lost the connection"):
            _run_then_stall(session, testbed, timeout=240)
        reason = keepalive.dead_reason(session.transport)
    assert reason is not None and "keepalive_count 2" in reason
    err = capfd.readouterr().err
    assert "no answer to a keepalive request in 2s" in err and "Traceback" not in err


def test_without_keepalives_only_the_command_timeout_ends_the_wait(
    target: Target, testbed: TestBed
) -> None:
    """The control: the same stall with keepalives off is not noticed as a dead link."""
    with connect(target, SshOptions(keepalive=0)) as session:
        with pytest.raises(OperationTimeout):
            _run_then_stall(session, testbed, timeout=4)
        assert keepalive.dead_reason(session.transport) is None


def test_an_answering_server_is_never_declared_dead(target: Target, testbed: TestBed) -> None:
    """Keepalives every second for several seconds of silence on a live link."""
    with connect(target, SshOptions(keepalive=1, keepalive_count=1)) as session:
        result = session.run(["sleep", "4"], timeout=120)
        assert result.exit_status == 0
        assert session.run(["echo", "alive"]).stdout == "alive\n"
        assert keepalive.dead_reason(session.transport) is None
