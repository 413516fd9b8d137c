"""An interactive shell over a Session: raw local terminal, PTY, resizes, exit status.

With stdin on a terminal the remote side gets a PTY of the terminal's size, the local
terminal goes to raw mode (so Ctrl-C, Ctrl-Z and arrows reach the remote shell) and is
restored however the session ends; SIGWINCH is forwarded as a window-change request.
Without a terminal, stdin is piped to a shell without PTY, as ``ssh host < file`` does.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import paramiko

    from pshctl.ssh.session import Session

_READ_SIZE = 32768
_TICK = 0.5


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _terminal_size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 80, 24
    return size.columns, size.lines


@contextlib.contextmanager
def _raw_mode(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSADRAIN)  # not TCSAFLUSH: keep what was typed ahead
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _resize_pipe() -> Iterator[int | None]:
    """A pipe that becomes readable when the window size changes (main thread only)."""
    if not hasattr(signal, "SIGWINCH") or not _in_main_thread():
        yield None
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def on_winch(_signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(write_fd, b"w")

    previous = signal.signal(signal.SIGWINCH, on_winch)
    try:
        yield read_fd
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(read_fd)
        os.close(write_fd)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run_shell(
    session: Session, *, stdin_fd: int | None = None, stdout_fd: int | None = None
) -> int:
    """Run a login shell until it exits; return its exit status (-1: none was sent).

    A dropped connection raises ConnectionFailed.
    """
    stdin_fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    stdout_fd = sys.stdout.fileno() if stdout_fd is None else stdout_fd
    if not os.isatty(stdin_fd):
        channel = session.open_shell(None, 0, 0)
        _pump(channel, stdin_fd, stdout_fd, None)
        return session.exit_status(channel)
    columns, lines = _terminal_size(stdout_fd if os.isatty(stdout_fd) else stdin_fd)
    channel = session.open_shell(os.environ.get("TERM") or "xterm", columns, lines)
    with _resize_pipe() as resize_fd, _raw_mode(stdin_fd):
        _pump(channel, stdin_fd, stdout_fd, resize_fd)
    return session.exit_status(channel)


def _pump(channel: paramiko.Channel, stdin_fd: int, stdout_fd: int,
          resize_fd: int | None) -> None:
    """Copy between the terminal and the channel until the shell ends; close the channel."""
    stderr_fd = sys.stderr.fileno()
    watched: list[Any] = [channel, stdin_fd] + ([resize_fd] if resize_fd is not None else [])
    try:
        while True:
            ready, _, _ = select.select(watched, [], [], _TICK)
            if resize_fd is not None and resize_fd in ready:
                os.read(resize_fd, 64)
                columns, lines = _terminal_size(stdout_fd)
                channel.resize_pty(width=columns, height=lines)
            if stdin_fd in ready:
                data = os.read(stdin_fd, _READ_SIZE)
                if data:
                    channel.sendall(data)
                else:  # local EOF: tell the remote side, stop reading
                    channel.shutdown_write()
                    watched.remove(stdin_fd)
            while channel.recv_stderr_ready():
                _write_all(stderr_fd, channel.recv_stderr(_READ_SIZE))
            if channel.recv_ready():
                data = channel.recv(_READ_SIZE)
                if data:
                    _write_all(stdout_fd, data)
                elif channel.exit_status_ready() or channel.closed:
                    break
            elif channel.exit_status_ready() and not channel.recv_stderr_ready():
                break
            elif not session_alive(channel):
                break
    finally:
        channel.close()


def session_alive(channel: paramiko.Channel) -> bool:
    transport = channel.get_transport()
    return transport is not None and transport.is_active() and not channel.closed
