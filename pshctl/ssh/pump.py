"""The one loop that moves what a channel receives: for run, stream, logs and the shell.

A command's output is over when the server says so, with EOF or by closing the channel
(or when the connection is gone), never when its exit status arrives: sshd may send the
exit status before the last of the output, and a pump that stopped there lost the end
of a command's output about once in 5,000 runs under load.

The pump never blocks in a read: it waits in ``select`` on the channel's wake-up pipe
(and on any other descriptors it is given, such as a terminal), so data, EOF, a closed
channel and a stop request are all seen at once, and a deadline or a silence within a
tick.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import paramiko

# channel.recv size: more than a channel's window, so that one read takes all that has
# arrived. paramiko's buffer hands over all it holds without moving anything; a smaller
# read moved what was left each time (a third of `logs -n all`'s CPU with 64 KiB reads).
READ_SIZE = 1 << 22
BATCH_SIZE = 1024 * 1024  # what has already arrived is handed on in batches up to this
TICK = 0.25  # longest wait between looks at the stop flag, the deadline, the silence

# A sink gets the chunks that arrived together, in order (fewer, larger batches let the
# log decoder copy the bytes once).
Sink = Callable[[list[bytes]], None]
# Called when its descriptor is readable; False stops watching it.
Watcher = Callable[[], bool]
Ending = Literal["closed", "stopped", "timeout", "silent"]


def pump(
    channel: paramiko.Channel,
    on_stdout: Sink,
    on_stderr: Sink,
    *,
    stop: threading.Event | None = None,
    deadline: float | None = None,
    silence: float | None = None,
    watch: Mapping[int, Watcher] | None = None,
    tick: float = TICK,
) -> Ending:
    """Move stdout and stderr to their sinks until the channel's output has ended.

    Returns ``closed`` once EOF (or a close, or a lost connection) has been seen and every
    byte before it was handed on; ``stopped`` when ``stop`` is set; ``timeout`` at
    ``deadline`` (a ``time.monotonic()`` value); ``silent`` when nothing at all arrived
    for ``silence`` seconds. The channel is left open: its exit status may still come.
    """
    # paramiko's wake-up pipe exists only once fileno() is called; what arrives before
    # that is seen by the first look below, what arrives after it wakes select().
    channel.fileno()
    watched = dict(watch or {})
    heard = time.monotonic()
    while True:
        if drain(channel, on_stdout, on_stderr):
            heard = time.monotonic()
        if ended(channel):
            return "closed"
        if stop is not None and stop.is_set():
            return "stopped"
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return "timeout"
        if silence is not None and now - heard > silence:
            return "silent"
        wait = tick if deadline is None else max(0.0, min(tick, deadline - now))
        ready, _, _ = select.select([channel.fileno(), *watched], [], [], wait)
        for fd in ready:
            if fd in watched and not watched[fd]():
                del watched[fd]


def drain(channel: paramiko.Channel, on_stdout: Sink, on_stderr: Sink) -> bool:
    """Hand on what has arrived on both streams, a batch each; True if anything had."""
    moved = False
    for ready, recv, sink in ((channel.recv_ready, channel.recv, on_stdout),
                              (channel.recv_stderr_ready, channel.recv_stderr, on_stderr)):
        batch: list[bytes] = []
        size = 0
        while size < BATCH_SIZE and ready():
            data = recv(READ_SIZE)
            if not data:
                break
            batch.append(data)
            size += len(data)
        if batch:
            sink(batch)
            moved = True
    return moved


def ended(channel: paramiko.Channel) -> bool:
    """No more output will come, and none is left unread."""
    if channel.recv_ready() or channel.recv_stderr_ready():
        return False
    return bool(channel.eof_received or channel.closed) or connection_lost(channel)


def connection_lost(channel: paramiko.Channel) -> bool:
    """The channel's connection is gone (whether or not paramiko has said so yet)."""
    import paramiko

    transport = channel.get_transport()
    if transport is None or not transport.is_active():
        return True
    # paramiko closes a dead transport's channels a moment before it clears `active`,
    # so also ask for the reason its thread stopped.
    ended_by = transport.saved_exception  # set as its thread ends
    return ended_by is not None and not isinstance(ended_by, paramiko.ChannelException)


def each(sink: Callable[[bytes], None]) -> Sink:
    """A batch sink that hands on one chunk at a time."""

    def hand_on(chunks: list[bytes]) -> None:
        for chunk in chunks:
            sink(chunk)

    return hand_on
