"""The SSH layer against a real OpenSSH sshd: commands, host keys, auth, timeouts."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pshctl.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ExitCode,
    HostKeyError,
    OperationTimeout,
)
from pshctl.sandbox.servers import generate_key
from pshctl.ssh import SshOptions, connect
from pshctl.ssh.hostkeys import pshctl_known_hosts
from pshctl.targets import Target
from tests.helpers import wait_until
from tests.testbed import TestBed

pytestmark = pytest.mark.integration


@pytest.fixture
def target(testbed: TestBed) -> Target:
    return Target(
        name="app",
        worker=None,
        host=testbed.host,
        port=testbed.port,
        user=testbed.user,
        identity_file=str(testbed.client_key),
        known_hosts=str(testbed.known_hosts),
    )


def test_exit_status_and_output_streams_are_kept_apart(target: Target) -> None:
    with connect(target) as session:
        result = session.run(["sh", "-c", "echo to-out; echo to-err >&2; exit 7"])
    assert (result.exit_status, result.stdout, result.stderr) == (7, "to-out\n", "to-err\n")


def test_arguments_arrive_intact_and_are_never_shell_syntax(target: Target, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    args = ["a b", "it's", 'say "hi"', f"x; touch {marker}", f"$(touch {marker})", "`id`", ""]
    with connect(target) as session:
        result = session.run(["printf", "[%s]\\n", *args])
    assert result.stdout.splitlines() == [f"[{a}]" for a in args]
    assert not marker.exists()


def test_one_connection_serves_several_commands(target: Target, testbed: TestBed) -> None:
    with connect(target) as session:
        for n in range(3):
            assert session.run(["echo", str(n)]).stdout == f"{n}\n"
    assert testbed.sshd.accepted_logins() == 1


def test_unknown_host_is_refused_then_recorded_with_accept_new(target: Target) -> None:
    stranger = replace(target, known_hosts=None)
    with pytest.raises(HostKeyError) as refused:
        connect(stranger)
    assert refused.value.exit_code == ExitCode.CONNECTION
    assert "unknown host key" in refused.value.message
    assert "--accept-new" in (refused.value.hint or "")

    with connect(stranger, SshOptions(accept_new=True)) as session:
        assert session.run(["true"]).exit_status == 0
    recorded = pshctl_known_hosts().read_text()
    assert recorded.startswith(f"[{target.host}]:{target.port} ssh-ed25519 ")
    with connect(stranger) as session:  # strict again: now it is known
        assert session.run(["true"]).exit_status == 0
    assert pshctl_known_hosts().read_text() == recorded


def test_changed_host_key_is_refused_and_never_replaced(
    target: Target, testbed: TestBed, tmp_path: Path
) -> None:
    impostor = generate_key(tmp_path / "other_host_key").with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[{target.host}]:{target.port} {impostor[0]} {impostor[1]}\n")
    before = known.read_text()
    for accept_new in (False, True):
        with pytest.raises(HostKeyError) as refused:
            connect(replace(target, known_hosts=str(known)), SshOptions(accept_new=accept_new))
        assert "HAS CHANGED" in refused.value.message
        assert "man-in-the-middle" in refused.value.message
    assert known.read_text() == before
    assert not pshctl_known_hosts().exists()


def test_hashed_entry_in_user_known_hosts_is_honoured(target: Target, testbed: TestBed) -> None:
    import paramiko

    name = f"[{target.host}]:{target.port}"
    keytype, blob = testbed.sshd.known_hosts_line().split()[1:3]
    user_file = Path.home() / ".ssh" / "known_hosts"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(f"{paramiko.HostKeys.hash_host(name)} {keytype} {blob}\n")
    with connect(replace(target, known_hosts=None)) as session:
        assert session.run(["true"]).exit_status == 0


def test_wrong_key_fails_authentication_with_exit_code_4(target: Target, tmp_path: Path) -> None:
    stranger_key = generate_key(tmp_path / "id_stranger")
    with pytest.raises(AuthenticationFailed) as failed:
        connect(replace(target, identity_file=str(stranger_key)))
    assert failed.value.exit_code == ExitCode.CONNECTION == 4
    assert "authentication failed" in failed.value.message
    assert str(stranger_key) in failed.value.message


def test_refused_port_fails_fast(target: Target) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as failed:
        connect(replace(target, port=port))
    assert "connection refused" in failed.value.message
    assert failed.value.exit_code == 4
    assert time.monotonic() - started < 5


@pytest.fixture
def listener() -> Iterator[tuple[int, list[socket.socket], threading.Event]]:
    """A TCP listener thread; ``close_at_once`` set = hang up on every client at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    close_at_once = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)
            if close_at_once.is_set():
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted, close_at_once
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        for conn in accepted:
            conn.close()


def test_listener_that_never_speaks_times_out_on_the_banner(
    target: Target, listener: tuple[int, list[socket.socket], threading.Event]
) -> None:
    port, accepted, _ = listener
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as failed:
        connect(replace(target, port=port), SshOptions(banner_timeout=1, connect_timeout=1))
    elapsed = time.monotonic() - started
    assert "no SSH banner within 1s" in failed.value.message
    assert len(accepted) == 1  # a silent server is not retried
    assert elapsed < 5


def test_dropped_handshake_is_retried_then_reported(
    target: Target,
    listener: tuple[int, list[socket.socket], threading.Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pshctl.ssh import session

    monkeypatch.setattr(session, "RETRY_BASE_DELAY", 0.01)
    port, accepted, close_at_once = listener
    close_at_once.set()
    with pytest.raises(ConnectionFailed) as failed:
        connect(replace(target, port=port))
    assert "closed the connection before the SSH banner" in failed.value.message
    assert len(accepted) == session.HANDSHAKE_RETRIES + 1


def test_command_timeout(target: Target) -> None:
    with connect(target) as session:
        with pytest.raises(OperationTimeout):
            session.run(["sleep", "30"], timeout=0.5)
        assert session.run(["echo", "still usable"]).stdout == "still usable\n"


def test_dropped_connection_is_an_error_not_a_traceback(
    target: Target, testbed: TestBed, capfd: pytest.CaptureFixture[str]
) -> None:
    with connect(target, SshOptions(keepalive=1)) as session:
        with pytest.raises(ConnectionFailed):  # the command runs: drop it now
            session.stream("echo running; sleep 30", timeout=20, on_stderr=lambda data: None,
                           on_stdout=lambda data: testbed.kill_sessions())
    session.transport.join(10)  # paramiko's thread logs its end after the socket drops
    assert not session.transport.is_alive()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "paramiko" not in err


def test_drop_seen_while_transport_still_looks_active(
    target: Target, testbed: TestBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """paramiko closes a dead transport's channels just before it clears ``active``.

    Hold that window open: the command must still fail as a lost connection, not
    return the "no exit status" value as if the command had been killed.
    """
    import paramiko

    def kill_on_first_output(data: bytes) -> None:  # the command runs: drop it now
        testbed.kill_sessions()

    with connect(target, SshOptions(keepalive=1)) as session:
        monkeypatch.setattr(paramiko.Transport, "is_active", lambda self: True)
        with pytest.raises(ConnectionFailed, match="lost the connection"):
            session.stream("echo running; sleep 30", on_stdout=kill_on_first_output,
                           on_stderr=lambda data: None, timeout=20)


def test_dropped_connection_ends_a_shell_with_an_error(
    target: Target, testbed: TestBed, tmp_path: Path
) -> None:
    """`pshctl ssh` without a command: a drop is a lost connection, not a silent exit."""
    from pshctl.ssh.interactive import run_shell

    read_fd, write_fd = os.pipe()  # a stdin that stays open after one command
    os.write(write_fd, b"echo shell-ready\n")
    out_path = tmp_path / "out"

    def kill_once_the_shell_runs() -> None:
        wait_until(lambda: b"shell-ready" in out_path.read_bytes(), "the shell to answer")
        testbed.kill_sessions()

    with open(out_path, "wb") as out, connect(target) as session:
        killer = threading.Thread(target=kill_once_the_shell_runs)
        killer.start()
        try:
            with pytest.raises(ConnectionFailed, match="lost the connection"):
                run_shell(session, stdin_fd=read_fd, stdout_fd=out.fileno())
        finally:
            killer.join()
            os.close(read_fd)
            os.close(write_fd)


def _encrypted_key(testbed: TestBed, path: Path, passphrase: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    authorized = testbed.root / "authorized_keys"
    authorized.write_text(authorized.read_text() + path.with_suffix(".pub").read_text())
    return path


def test_keyring_passphrase_unlocks_an_encrypted_key(
    target: Target, testbed: TestBed, tmp_path: Path
) -> None:
    from pshctl.ssh import secrets

    secret = "correct horse; battery 'staple'"
    key = _encrypted_key(testbed, tmp_path / "id_locked", secret)
    locked = replace(target, identity_file=str(key))
    with pytest.raises(AuthenticationFailed) as failed:
        connect(locked, SshOptions(interactive=False))
    assert "pshctl auth passphrase set" in (failed.value.hint or "")

    secrets.store(key, secret)
    with connect(locked, SshOptions(interactive=False)) as session:
        assert session.run(["true"]).exit_status == 0

    secrets.store(key, "not it")
    with pytest.raises(AuthenticationFailed) as failed:
        connect(locked, SshOptions(interactive=False))
    assert "does not unlock" in failed.value.message
    for text in (failed.value.message, failed.value.hint or ""):
        assert secret not in text and "not it" not in text


def test_ssh_config_supplies_host_user_port_and_identity(target: Target, testbed: TestBed) -> None:
    _write_ssh_config(
        f"Host bed\n  HostName {testbed.host}\n  Port {testbed.port}\n"
        f"  User {testbed.user}\n  IdentityFile {testbed.client_key}\n  IdentitiesOnly yes\n"
    )
    alias = Target(name="app", worker=None, host="bed", known_hosts=str(testbed.known_hosts))
    with connect(alias) as session:
        assert session.run(["echo", "via config"]).stdout == "via config\n"


def test_proxy_jump_from_ssh_config(target: Target, testbed: TestBed) -> None:
    _write_ssh_config(
        f"Host jump\n  HostName {testbed.host}\n  Port {testbed.port}\n  User {testbed.user}\n"
        f"  IdentityFile {testbed.client_key}\n"
        f"Host inner\n  HostName {testbed.host}\n  ProxyJump jump\n"
    )
    inner = replace(target, host="inner")
    with connect(inner) as session:
        assert session.run(["echo", "jumped"]).stdout == "jumped\n"
    assert testbed.sshd.accepted_logins() == 2  # the jump host, then the target


def test_ssh_agent_key_is_used(
    target: Target, testbed: TestBed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        wait_until(sock.exists, "ssh-agent's socket")
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(
            ["ssh-add", "-q", str(testbed.client_key)], env=env, check=True, capture_output=True
        )
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        with connect(replace(target, identity_file=None)) as session:
            assert session.run(["true"]).exit_status == 0
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def _write_ssh_config(text: str) -> None:
    config = Path.home() / ".ssh" / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
