"""The one channel pump, on real paramiko channels fed by the test (no server needed)."""

from __future__ import annotations

import os
import threading
import time

import paramiko
import pytest

from pshctl.ssh.pump import BATCH_SIZE, READ_SIZE, each, pump


class Link:
    """The little of a paramiko Transport that a channel asks of it."""

    server_object = None

    def __init__(self) -> None:
        self.active = True
        self.saved_exception: BaseException | None = None

    def is_active(self) -> bool:
        return self.active

    def get_log_channel(self) -> str:
        return "paramiko.transport"

    def _send_user_message(self, message: object) -> None:
        pass


def channel() -> paramiko.Channel:
    chan = paramiko.Channel(0)
    chan._set_transport(Link())  # type: ignore[arg-type]
    return chan


def eof(chan: paramiko.Channel) -> None:
    chan._handle_eof(None)


def exit_status(chan: paramiko.Channel, status: int) -> None:
    chan.exit_status = status
    chan.status_event.set()


class Collect:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.batches = 0
        self.got = threading.Event()

    def __call__(self, batch: list[bytes]) -> None:
        self.chunks.extend(batch)
        self.batches += 1
        self.got.set()

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def test_output_after_the_exit_status_is_not_lost() -> None:
    """sshd may send the exit status before the last data: only EOF ends the output."""
    chan = channel()
    out, err = Collect(), Collect()
    chan._feed(b"first ")
    exit_status(chan, 0)  # the status is in, the output is not over

    def rest() -> None:
        assert out.got.wait(10)  # the pump has taken the first part, status already in
        chan._feed(b"last")
        chan.in_stderr_buffer.feed(b"warning")
        eof(chan)

    feeder = threading.Thread(target=rest)
    feeder.start()
    assert pump(chan, out, err) == "closed"
    feeder.join()
    assert (out.data, err.data) == (b"first last", b"warning")


def test_data_and_eof_that_arrived_before_the_pump_began_are_seen() -> None:
    chan = channel()
    chan._feed(b"early")
    eof(chan)
    out = Collect()
    assert pump(chan, out, Collect()) == "closed"
    assert out.data == b"early"


def test_a_closed_channel_or_a_dead_connection_ends_the_output() -> None:
    closed, out = channel(), Collect()
    closed._feed(b"x")
    with closed.lock:
        closed._set_closed()
    assert pump(closed, out, Collect()) == "closed" and out.data == b"x"

    dropped = channel()
    dropped.get_transport().active = False  # the connection died; channel not closed yet
    assert pump(dropped, Collect(), Collect()) == "closed"

    failing = channel()
    failing.get_transport().saved_exception = EOFError()  # its thread ended on a drop
    assert pump(failing, Collect(), Collect()) == "closed"
    quiet = channel()
    quiet.get_transport().saved_exception = paramiko.ChannelException(1, "refused")
    assert pump(quiet, Collect(), Collect(), deadline=time.monotonic() + 0.05) == "timeout"


def test_stop_deadline_and_silence_end_the_pump_with_their_own_word() -> None:
    stop = threading.Event()
    stop.set()
    assert pump(channel(), Collect(), Collect(), stop=stop) == "stopped"
    assert pump(channel(), Collect(), Collect(), deadline=time.monotonic() + 0.05) == "timeout"
    assert pump(channel(), Collect(), Collect(), silence=0.05, tick=0.01) == "silent"


def test_stop_set_while_waiting_is_seen_within_a_tick() -> None:
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    began = time.monotonic()
    assert pump(channel(), Collect(), Collect(), stop=stop, tick=0.02) == "stopped"
    assert time.monotonic() - began < 5


def test_data_keeps_a_quiet_link_alive() -> None:
    chan = channel()

    def trickle() -> None:
        for _ in range(5):
            time.sleep(0.03)
            chan._feed(b".")
        eof(chan)

    threading.Thread(target=trickle).start()
    out = Collect()
    assert pump(chan, out, Collect(), silence=0.5, tick=0.01) == "closed"
    assert out.data == b"....."


def test_what_has_arrived_goes_on_in_one_read() -> None:
    """Packets that arrived together are taken in one read (paramiko's buffer then moves
    nothing) and handed on as one batch."""
    chan = channel()
    chan.in_buffer._max_size = 10 * BATCH_SIZE  # type: ignore[attr-defined]
    packet = b"x" * 32768
    total = 3 * BATCH_SIZE // len(packet)
    for _ in range(total):
        chan._feed(packet)
    eof(chan)
    out = Collect()
    assert pump(chan, out, Collect()) == "closed"
    assert len(out.data) == total * len(packet) and READ_SIZE > len(out.data)
    assert out.batches == 1  # not one call per packet


def test_watched_descriptors_are_served_until_they_say_stop() -> None:
    read_fd, write_fd = os.pipe()
    chan = channel()
    seen: list[bytes] = []

    def on_input() -> bool:
        data = os.read(read_fd, 100)
        seen.append(data)
        if data == b"bye":
            eof(chan)  # as the remote shell ending
        return bool(data)

    os.write(write_fd, b"hello")
    threading.Timer(0.1, os.write, (write_fd, b"bye")).start()
    try:
        assert pump(chan, Collect(), Collect(), watch={read_fd: on_input}) == "closed"
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert seen == [b"hello", b"bye"]


def test_each_hands_on_chunk_by_chunk() -> None:
    got: list[bytes] = []
    each(got.append)([b"a", b"bc"])
    assert got == [b"a", b"bc"]


@pytest.mark.parametrize("status", [0, 3])
def test_the_status_stays_for_the_caller(status: int) -> None:
    chan = channel()
    chan._feed(b"out")
    eof(chan)
    exit_status(chan, status)
    pump(chan, Collect(), Collect())
    assert chan.recv_exit_status() == status
