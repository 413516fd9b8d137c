"""The log readers' reconnect loop, with fake connections (the real one: test_logs.py)."""

from __future__ import annotations

import os

from pshctl.logs import LogLines, LogNotice, LogRequest
from pshctl.targets import Target


def texts(events: list) -> list[str]:
    return [line for e in events if isinstance(e, LogLines) for line in e.lines]


# --- the reconnect loop, with fake connections ----------------------------------------------


class FakeTransport:
    def __init__(self) -> None:
        self.active = True
        self.saved_exception = None

    def is_active(self) -> bool:
        return self.active


class FakeChannel:
    """Hands out ``chunks``; then drops the link (no exit status) or stays open until closed.

    A pipe stands for paramiko's wake-up pipe: readable while something is to be seen.
    """

    def __init__(self, chunks: list[bytes], drop: bool) -> None:
        self.chunks = list(chunks)
        self.drop = drop
        self.transport = FakeTransport()
        self.closed = False
        self.eof_received = False
        self._read_end, self._write_end = os.pipe()
        os.write(self._write_end, b"x")

    def fileno(self) -> int:
        return self._read_end

    def shutdown_write(self) -> None:
        pass

    def recv_ready(self) -> bool:
        return bool(self.chunks)

    def recv(self, size: int) -> bytes:
        data = self.chunks.pop(0)
        if not self.chunks:
            if self.drop:
                self.transport.active = False
                self.closed = True
            else:
                os.read(self._read_end, 1)  # nothing more to see until close()
        return data

    def recv_stderr_ready(self) -> bool:
        return False

    def recv_stderr(self, size: int) -> bytes:
        raise AssertionError("nothing on stderr")

    def get_transport(self) -> FakeTransport:
        return self.transport

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.write(self._write_end, b"x")


class FakeSession:
    def __init__(self, channel: FakeChannel, commands: list[str]) -> None:
        self.channel = channel
        self.commands = commands

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def open_exec(self, command: str) -> FakeChannel:
        self.commands.append(command)
        return self.channel

    def run(self, command: str, *, timeout: float | None = None) -> object:
        """The one short command a follow may run first: which log source ``auto`` is."""
        from types import SimpleNamespace

        assert "echo journal" in command, command
        self.commands.append("source?")
        return SimpleNamespace(exit_status=0, stdout="file\n", stderr="")

    def exit_status(self, channel: FakeChannel, deadline: float | None = None) -> int:
        from pshctl.errors import ConnectionFailed

        if not channel.transport.active:
            raise ConnectionFailed("lost the connection")
        return -1


def test_follow_reconnects_with_backoff_and_resumes_after_the_last_line() -> None:
    from pshctl.errors import AuthenticationFailed, ConnectionFailed
    from pshctl.logs import LogStream

    commands: list[str] = []
    plan: list[object] = [
        FakeChannel([b"B 1:1 0 4 1\nab\n", b"cd"], drop=True),  # "cd" unfinished, then dropped
        ConnectionFailed("connection refused by h:22"),
        FakeChannel([b"S 1:1 3\nD 4\ncde\n"], drop=False),
    ]

    def connect(target, options):
        step = plan.pop(0)
        if isinstance(step, Exception):
            raise step
        return FakeSession(step, commands)

    target = Target(name="queue", worker="queue", host="h", log_dir="/log")
    events: list = []
    with LogStream([target], LogRequest(lines=5, follow=True), connect=connect) as stream:
        for event in stream:
            events.append(event)
            if isinstance(event, LogLines) and event.lines == ["cde"]:
                break
    assert texts(events) == ["ab", "cde"]
    kinds = [e.kind for e in events if isinstance(e, LogNotice)]
    assert kinds == ["disconnected", "reconnecting", "reconnected"]
    # Which source `auto` means is asked once; reconnects keep the answer.
    assert commands[0] == "source?" and "source?" not in commands[1:]
    assert commands[1].endswith(" /log/app.log 5 '' ''")
    assert commands[2].endswith(" /log/app.log 5 1:1 3")  # after "ab\n", before "cd"

    refused = [AuthenticationFailed("no key accepted")]
    with LogStream([target], LogRequest(follow=True),
                   connect=lambda t, o: (_ for _ in ()).throw(refused[0])) as stream:
        events = list(stream)
    assert [(e.kind, e.is_failure) for e in events] == [("failed", True)]
    assert stream.failures["queue"].error is refused[0]
