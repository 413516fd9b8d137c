"""The TCP socket under an SSH transport, tuned for what SSH does with it.

Two things cost time with a plain socket, measured on loopback against OpenSSH's sshd:

- **Delayed ACKs.** sshd sends its small post-authentication messages (host keys, the
  channel confirmation) with Nagle's algorithm on, so each one waits until the previous
  one is acknowledged; Linux delays the acknowledgement of data it has nothing to answer
  with by up to 40 ms. The first command of every connection waited ~40 ms for that.
  ``TCP_QUICKACK`` makes this side acknowledge at once, but the kernel drops back to
  delayed mode on its own, so it is set again after every read, as OpenSSH's client gets
  the same effect from answering at once.
- **Small reads.** paramiko reads each packet in two or more exact-size ``recv`` calls
  (the first block, then the rest). Reading whatever has arrived, up to
  :data:`READ_AHEAD`, and handing paramiko its slices cuts the system calls of a bulk
  transfer by a factor of the packets per read.

:class:`WireSocket` keeps the socket API paramiko uses (``recv``, ``send``,
``settimeout``, ``close``, ``_closed``); only ``recv`` differs: it may return bytes that
were read ahead, and raises ``socket.timeout`` only when nothing at all is buffered.
"""

from __future__ import annotations

import socket

READ_AHEAD = 256 * 1024
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class WireSocket(socket.socket):
    """A connected TCP socket with Nagle off, quick ACKs and read-ahead."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._ahead = memoryview(b"")
        self._scratch = bytearray(READ_AHEAD)
        self._quickack = _QUICKACK is not None

    @classmethod
    def wrap(cls, sock: socket.socket) -> socket.socket:
        """Take over ``sock``'s descriptor; a non-TCP socket is returned as it is."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        timeout = sock.gettimeout()
        wire = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        wire.settimeout(timeout)
        try:
            wire.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        wire._ack_now()
        return wire

    def _ack_now(self) -> None:
        if self._quickack:
            try:
                self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)  # type: ignore[arg-type]
            except OSError:
                self._quickack = False

    def recv(self, size: int, flags: int = 0) -> bytes:
        if flags:
            return super().recv(size, flags)
        if not self._ahead:
            got = self.recv_into(self._scratch)
            self._ack_now()
            if got == 0:
                return b""
            read = memoryview(self._scratch)[:got]
            if got <= size:
                return read.tobytes()
            # A copy: the scratch buffer is reused by the next read.
            self._ahead = memoryview(read.tobytes())
        data = self._ahead[:size]
        self._ahead = self._ahead[size:]
        return data.tobytes()
