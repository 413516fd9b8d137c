"""Connections: open, verify, authenticate, run commands; one transport per Session."""

from __future__ import annotations

import contextlib
import random
import shlex
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConnectionFailed, Interrupted, OperationTimeout
from pshctl.ssh import keepalive, names, trail
from pshctl.ssh.auth import authenticate
from pshctl.ssh.config import Endpoint, resolve
from pshctl.ssh.hostkeys import KnownHosts, known_hosts_files, pshctl_known_hosts
from pshctl.ssh.options import CommandResult, SshOptions
from pshctl.ssh.pump import TICK, connection_lost, each, pump
from pshctl.ssh.trail import log
from pshctl.ssh.wire import WireSocket
from pshctl.targets import Target

if TYPE_CHECKING:
    import paramiko

# sshd's MaxStartups counts connections that have not authenticated yet (a stock sshd
# starts dropping them at 10): this process has at most MAX_HANDSHAKES of them open at
# once, whatever the number of workers handled in parallel, so a wide fan-out loses none.
# A connection dropped anyway (another client's at the same time) is retried after a
# short, jittered pause.
MAX_HANDSHAKES = 8
_handshakes = threading.BoundedSemaphore(MAX_HANDSHAKES)
HANDSHAKE_RETRIES = 3
RETRY_BASE_DELAY = 0.5
MAX_JUMPS = 5

Sink = Callable[[bytes], None]
Source = Callable[[], bytes]  # the next chunk of input; b"" at its end


class _Dropped(Exception):
    """The server closed the connection before it sent its banner."""


def command_line(command: Sequence[str] | str) -> str:
    """The remote command line: argv lists are quoted, strings are taken as written."""
    if isinstance(command, str):
        return command
    return shlex.join(command)


class Session:
    """One authenticated SSH connection to one target; reuse it for every command."""

    def __init__(
        self,
        target: Target,
        endpoint: Endpoint,
        transport: paramiko.Transport,
        parent: Session | None = None,
        slot: _Slot | None = None,
    ) -> None:
        self.target = target
        self.endpoint = endpoint
        self.transport = transport
        self._parent = parent  # the jump host's session, closed with this one
        self._slot = slot  # held until sshd surely counts this connection as authenticated

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Session({self.endpoint.user}@{self.endpoint.hostname}:{self.endpoint.port})"

    @property
    def where(self) -> str:
        return f"{self.endpoint.user}@{self.endpoint.hostname}:{self.endpoint.port}"

    def close(self) -> None:
        self.transport.close()
        self.authenticated()
        if self._parent is not None:
            self._parent.close()

    def _channel(self) -> paramiko.Channel:
        import paramiko

        if not self.transport.is_active():
            raise ConnectionFailed(f"the connection to {self.where} is closed")
        try:
            return self.transport.open_session(timeout=30)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectionFailed(f"cannot open a channel on {self.where}: {exc}") from None
        finally:
            self.authenticated()

    def authenticated(self) -> None:
        """Give back the handshake slot: sshd has stopped counting this connection.

        sshd's listener stops counting a connection against MaxStartups only once the
        server side has finished authentication, a moment after this side learns of it;
        a channel opened (or the connection closed) proves it has. Called by the first
        channel, by :meth:`close`, and by a jump host's forwarded channel.
        """
        if self._slot is not None:
            self._slot.release()

    def open_exec(self, command: str) -> paramiko.Channel:
        """Start a command and hand back its raw channel (for streaming readers)."""
        channel = self._channel()
        log.debug("exec on %s: %s", self.where, command)
        channel.exec_command(command)
        return channel

    def open_shell(self, term: str | None, width: int, height: int) -> paramiko.Channel:
        """A login shell; with a PTY of the given size when ``term`` is set."""
        channel = self._channel()
        if term is not None:
            channel.get_pty(term=term, width=width, height=height)
        channel.invoke_shell()
        return channel

    def stream(
        self,
        command: Sequence[str] | str,
        *,
        on_stdout: Sink,
        on_stderr: Sink,
        timeout: float | None = None,
        stdin: Source | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Run a command, passing output chunks on as they come; return its exit status.

        The remote stdin is closed at once, or fed from ``stdin`` until it returns b"".
        ``-1`` means the server sent no exit status (e.g. the command was killed by a
        signal). Setting ``stop`` asks the remote command to end (SIGTERM) and hangs up
        its channel: :class:`~pshctl.errors.Interrupted` is raised.
        """
        line = command_line(command)
        channel = self.open_exec(line)
        if stdin is None:
            channel.shutdown_write()
        else:
            _feed(channel, stdin)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            ending = pump(channel, each(on_stdout), each(on_stderr), stop=stop,
                          deadline=deadline)
            if ending == "stopped":
                _signal(channel, "TERM")
                raise Interrupted(f"interrupted: {line}")
            if ending == "timeout":
                raise OperationTimeout(
                    f"command on {self.where} still running after {timeout:g}s: {line}")
            return self.exit_status(channel, deadline)
        finally:
            channel.close()

    def exit_status(self, channel: paramiko.Channel, deadline: float | None = None) -> int:
        """A command's exit status once its output has ended; -1 when it sent none (it
        died by a signal). A dropped connection raises ConnectionFailed; ``deadline``
        (a ``time.monotonic()`` value) an OperationTimeout.
        """
        # After EOF, the status follows at once (unless the connection dies meanwhile).
        while not channel.status_event.wait(_wait(deadline)):
            if deadline is not None and time.monotonic() >= deadline:
                raise OperationTimeout(f"no exit status from {self.where} in time")
            if connection_lost(channel):
                break
        status = channel.recv_exit_status() if channel.status_event.is_set() else -1
        if status == -1 and connection_lost(channel):
            raise ConnectionFailed(f"lost the connection to {self.where}")
        return status

    def run(self, argv: Sequence[str] | str, *, timeout: float | None = None) -> CommandResult:
        """Run a command to completion; stdout and stderr are kept apart."""
        out: list[bytes] = []
        err: list[bytes] = []
        status = self.stream(argv, on_stdout=out.append, on_stderr=err.append,
                             timeout=timeout)
        return CommandResult(
            status,
            b"".join(out).decode("utf-8", "replace"),
            b"".join(err).decode("utf-8", "replace"),
        )


def _wait(deadline: float | None) -> float:
    return TICK if deadline is None else max(0.01, min(TICK, deadline - time.monotonic()))


def _signal(channel: paramiko.Channel, name: str) -> None:
    """Ask sshd to send a signal to the remote command (RFC 4254, 6.9).

    paramiko has no call for this request. OpenSSH honours it only with privilege
    separation; hanging up afterwards ends a command that still writes (SIGPIPE).
    """
    from paramiko.common import cMSG_CHANNEL_REQUEST
    from paramiko.message import Message

    message = Message()
    message.add_byte(cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string("signal")
    message.add_boolean(False)
    message.add_string(name)
    with contextlib.suppress(Exception):  # best effort: the channel may be gone already
        channel.get_transport()._send_user_message(message)  # type: ignore[attr-defined]


def _feed(channel: paramiko.Channel, read: Source) -> None:
    """Copy input to the remote stdin in a thread, then send EOF.

    A thread, not the output loop: a remote command that stops reading until its output
    is read would otherwise block ``sendall`` and, with it, the reading of that output.
    Daemon, because a read from a terminal cannot be interrupted when the command ends.
    """

    def copy() -> None:
        try:
            while data := read():
                channel.sendall(data)
        except (OSError, EOFError):  # the channel closed (command done) or stdin failed
            return
        with contextlib.suppress(OSError, EOFError):
            channel.shutdown_write()

    threading.Thread(target=copy, name="pshctl-stdin", daemon=True).start()


def connect(target: Target, options: SshOptions | None = None) -> Session:
    """Open an authenticated connection to ``target`` or raise a ConnectionFailed."""
    options = options or SshOptions()
    trail.configure(options.verbose)
    return _connect(target, resolve(target), options, depth=0)


def _connect(target: Target, endpoint: Endpoint, options: SshOptions, depth: int) -> Session:
    parent = _jump(endpoint, options, depth) if endpoint.proxy_jump else None
    try:
        for attempt in range(HANDSHAKE_RETRIES + 1):
            try:
                return _open(target, endpoint, options, parent)
            except _Dropped:
                if attempt == HANDSHAKE_RETRIES:
                    break
                delay = RETRY_BASE_DELAY * 2**attempt + random.uniform(0, 0.25)
                log.debug(
                    "%s dropped the connection before its banner; retrying in %.1fs",
                    endpoint.key_name,
                    delay,
                )
                time.sleep(delay)
    except BaseException:
        if parent is not None:
            parent.close()
        raise
    if parent is not None:
        parent.close()
    raise ConnectionFailed(
        f"{endpoint.hostname}:{endpoint.port} closed the connection before the SSH banner "
        f"({HANDSHAKE_RETRIES + 1} attempts)",
        hint="the server may be refusing connections (sshd MaxStartups) or not be an SSH server",
    )


class _Slot:
    """One of the MAX_HANDSHAKES, taken before the TCP connection is opened."""

    def __init__(self) -> None:
        _handshakes.acquire()
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                _handshakes.release()


def _jump(endpoint: Endpoint, options: SshOptions, depth: int) -> Session:
    """Connect through ``ProxyJump`` hops (``[user@]host[:port]``, comma-separated)."""
    if depth >= MAX_JUMPS:
        raise ConnectionFailed(f"too many ProxyJump hops to reach {endpoint.alias}")
    assert endpoint.proxy_jump is not None
    via: Session | None = None
    for hop in endpoint.proxy_jump.split(","):
        # The environment's extra known_hosts file vouches for its jump hosts too.
        hop_target = replace(_hop_target(hop.strip()), known_hosts=endpoint.extra_known_hosts)
        hop_endpoint = resolve(hop_target)
        if via is not None:  # later hops are reached through the previous one
            hop_endpoint = replace(hop_endpoint, proxy_jump=None, proxy_command=None)
            via = _open_retrying(hop_target, hop_endpoint, options, via)
        else:
            via = _connect(hop_target, hop_endpoint, options, depth + 1)
    assert via is not None
    return via


def _open_retrying(
    target: Target, endpoint: Endpoint, options: SshOptions, parent: Session
) -> Session:
    for attempt in range(HANDSHAKE_RETRIES + 1):
        try:
            return _open(target, endpoint, options, parent)
        except _Dropped:
            if attempt == HANDSHAKE_RETRIES:
                raise ConnectionFailed(
                    f"{endpoint.key_name} closed the connection before the SSH banner"
                ) from None
            time.sleep(RETRY_BASE_DELAY * 2**attempt)
    raise AssertionError("unreachable")


def _hop_target(spec: str) -> Target:
    user, host, port = names.parse_ssh_url(spec)  # a bad ProxyJump is an error, not a crash
    return Target(name=host, worker=None, host=host, user=user, port=port)


def _socket(endpoint: Endpoint, options: SshOptions, parent: Session | None) -> Any:
    """A connected socket-like object: direct, through a jump host, or a ProxyCommand.

    A direct connection is opened before paramiko is imported (:func:`_open`): sshd
    forks, starts its child and sends its banner while this side imports.
    """
    where = f"{endpoint.hostname}:{endpoint.port}"
    if parent is not None or endpoint.proxy_command:
        import paramiko
    if parent is not None:
        try:
            return parent.transport.open_channel(
                "direct-tcpip",
                (endpoint.hostname, endpoint.port),
                ("127.0.0.1", 0),
                timeout=options.connect_timeout,
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectionFailed(
                f"jump host {parent.where} cannot reach {where}: {exc}"
            ) from None
        finally:
            parent.authenticated()
    if endpoint.proxy_command:
        log.debug("connecting to %s through ProxyCommand %s", where, endpoint.proxy_command)
        try:
            return paramiko.ProxyCommand(endpoint.proxy_command)
        except paramiko.SSHException as exc:
            raise ConnectionFailed(f"ProxyCommand for {where} failed: {exc}") from None
    log.debug("connecting to %s (timeout %gs)", where, options.connect_timeout)
    try:
        return WireSocket.wrap(socket.create_connection(
            (endpoint.hostname, endpoint.port), timeout=options.connect_timeout
        ))
    except socket.gaierror as exc:
        raise ConnectionFailed(f"cannot resolve host {endpoint.hostname}: {exc.strerror}") from None
    except ConnectionRefusedError:
        raise ConnectionFailed(
            f"connection refused by {where}", hint="is sshd running and listening on that port?"
        ) from None
    except TimeoutError:
        raise ConnectionFailed(
            f"timed out connecting to {where} after {options.connect_timeout:g}s"
        ) from None
    except OSError as exc:
        raise ConnectionFailed(f"cannot connect to {where}: {exc.strerror or exc}") from None


def _open(
    target: Target, endpoint: Endpoint, options: SshOptions, parent: Session | None
) -> Session:
    # A slot from the TCP connection until sshd counts it as authenticated. Through a jump
    # host, only once the forwarded channel is open, which gives the jump host's slot
    # back: a thread never holds two, so threads never wait on each other's.
    if parent is not None:
        sock = _socket(endpoint, options, parent)
        slot = _Slot()
    else:
        slot = _Slot()
        try:
            sock = _socket(endpoint, options, parent)
        except BaseException:
            slot.release()
            raise
    try:
        import paramiko  # while sshd gets to its banner

        known = _known_hosts(known_hosts_files(endpoint.extra_known_hosts))
        transport = paramiko.Transport(sock)
    except BaseException:
        slot.release()
        with contextlib.suppress(OSError):
            sock.close()
        raise
    _prefer_gcm(transport)
    try:
        transport.banner_timeout = options.banner_timeout
        transport.auth_timeout = options.auth_timeout
        known.prefer_known_types(transport, endpoint.key_name)
        _handshake(transport, endpoint, options)
        server_key = transport.get_remote_server_key()
        known.verify(endpoint.key_name, server_key, accept_new=options.accept_new)
        authenticate(transport, endpoint, options.interactive)
        keepalive.watch(transport, endpoint.key_name, options.keepalive, options.keepalive_count)
    except BaseException:
        transport.close()
        slot.release()
        raise
    log.debug("connected to %s", endpoint.key_name)
    return Session(target, endpoint, transport, parent, slot)


_known_lock = threading.Lock()
_known_cache: dict[tuple[object, ...], KnownHosts] = {}


def _known_hosts(files: list[Path]) -> KnownHosts:
    """The known-hosts files, read once per process while they stay as they are.

    A fan-out to N workers would otherwise read and match every line N times (hashed
    lines cost an HMAC each). Any change to a file (a key recorded with --accept-new, an
    edit, a chmod) changes its stat signature and the files are read again.
    """
    key = tuple(_signature(path) for path in [pshctl_known_hosts(), *files])
    with _known_lock:
        known = _known_cache.get(key)
    if known is None:
        known = KnownHosts(files)
        with _known_lock:
            _known_cache.clear()
            _known_cache[key] = known
    return known


def _signature(path: Path) -> tuple[object, ...]:
    try:
        info = path.stat()
    except OSError as exc:
        return (str(path), exc.errno)
    return (str(path), info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode,
            info.st_ino)


def _prefer_gcm(transport: paramiko.Transport) -> None:
    """Offer AES-GCM first: one pass in OpenSSL, where paramiko's AES-CTR + HMAC takes two.

    Measured streaming 200 MB on loopback (bench/bench_logs.py): about 40% less CPU.
    """
    options = transport.get_security_options()
    gcm = tuple(c for c in options.ciphers if c.endswith("-gcm@openssh.com"))
    options.ciphers = gcm + tuple(c for c in options.ciphers if c not in gcm)


def _handshake(transport: paramiko.Transport, endpoint: Endpoint, options: SshOptions) -> None:
    import paramiko

    where = f"{endpoint.hostname}:{endpoint.port}"
    try:
        transport.start_client(timeout=options.banner_timeout + options.connect_timeout)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        cause = exc.__context__ or exc
        if isinstance(exc, EOFError) or isinstance(cause, (EOFError, ConnectionResetError)):
            raise _Dropped() from None
        if isinstance(cause, (socket.timeout, TimeoutError)):
            raise ConnectionFailed(
                f"{where} sent no SSH banner within {options.banner_timeout:g}s",
                hint="is an SSH server listening on that port? (banner_timeout in the ssh: "
                "section of the config file sets the wait)",
            ) from None
        raise ConnectionFailed(f"SSH handshake with {where} failed: {exc}") from None
