"""An interactive shell over a Session: raw local terminal, PTY, resizes, exit status.

With stdin on a terminal the remote side gets a PTY of the terminal's size, the local
terminal goes to raw mode (so Ctrl-C, Ctrl-Z and arrows reach the remote shell) and is
restored however the session ends; SIGWINCH is forwarded as a window-change request.
Without a terminal, stdin is piped to a shell without PTY, as ``ssh host < file`` does.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pshctl.ssh.pump import Sink, Watcher, pump

if TYPE_CHECKING:
    import paramiko

    from pshctl.ssh.session import Session

INPUT_SIZE = 65536  # what one read of the local terminal or stdin takes at most

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
        return _bridge(session, session.open_shell(None, 0, 0), stdin_fd, stdout_fd, None)
    columns, lines = _terminal_size(stdout_fd if os.isatty(stdout_fd) else stdin_fd)
    channel = session.open_shell(os.environ.get("TERM") or "xterm", columns, lines)
    with _resize_pipe() as resize_fd, _raw_mode(stdin_fd):
        return _bridge(session, channel, stdin_fd, stdout_fd, resize_fd)


def _bridge(session: Session, channel: paramiko.Channel, stdin_fd: int, stdout_fd: int,
            resize_fd: int | None) -> int:
    """Copy between the terminal and the channel until the shell ends; its exit status."""

    def forward_input() -> bool:
        data = os.read(stdin_fd, INPUT_SIZE)
        if data:
            channel.sendall(data)
            return True
        channel.shutdown_write()  # local EOF: tell the remote side, stop reading
        return False

    watch: dict[int, Watcher] = {}
    if resize_fd is not None:  # first: a resize goes out before what is typed after it
        watch[resize_fd] = functools.partial(_resize, channel, resize_fd, stdout_fd)
    watch[stdin_fd] = forward_input
    try:
        pump(channel, _writer(stdout_fd), _writer(sys.stderr.fileno()), watch=watch)
        return session.exit_status(channel)
    finally:
        channel.close()


def _resize(channel: paramiko.Channel, resize_fd: int, stdout_fd: int) -> bool:
    """The window size changed: tell the remote PTY."""
    os.read(resize_fd, 64)
    columns, lines = _terminal_size(stdout_fd)
    channel.resize_pty(width=columns, height=lines)
    return True


def _writer(fd: int) -> Sink:
    def write(chunks: list[bytes]) -> None:
        for chunk in chunks:
            _write_all(fd, chunk)

    return write
