"""Notice a silently stalled link: keepalive requests that must be answered.

paramiko's own keepalive sends ``keepalive@lag.net`` without asking for a reply, so a
link that drops every packet (no RST: a firewall, a suspended VM, a stopped sshd
process) goes unnoticed until the kernel gives up on TCP, which takes many minutes.
Like OpenSSH's ``ServerAliveInterval``/``ServerAliveCountMax``, pshctl instead sends a
``keepalive@openssh.com`` global request *with* want-reply every ``interval`` seconds;
any answer (sshd answers it with a failure, which is fine) proves the server alive.
When a request has gone unanswered for ``interval * count`` seconds, the connection
is declared dead and closed, and whatever waits on it fails as a lost connection.

The bound: a link that goes silent is closed at most ``interval * (count + 1)``
seconds later (one interval until the next request, then ``count`` intervals of waiting
for its answer), plus one second of this module's tick. Defaults: 15 s x 3, so within
61 s.

One monitor thread serves every connection of the process; each request is made by a
short-lived thread, since paramiko's request with want-reply blocks until answered.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pshctl.ssh.trail import log

if TYPE_CHECKING:
    import paramiko

REQUEST = "keepalive@openssh.com"  # what OpenSSH's client sends; servers answer it
TICK = 1.0  # how often the monitor looks at the connections it watches

_lock = threading.Lock()
_watched: list[_Watch] = []
_monitor: threading.Thread | None = None


@dataclass
class _Watch:
    transport: weakref.ReferenceType[paramiko.Transport]
    where: str
    interval: float
    count: int
    sent_at: float | None = None  # when the request now waiting for its answer went out
    next_at: float = field(default_factory=time.monotonic)
    dead: str | None = None  # why the connection was declared dead

    @property
    def limit(self) -> float:
        return self.interval * self.count


def watch(transport: paramiko.Transport, where: str, interval: float, count: int) -> None:
    """Check ``transport`` with keepalive requests until it closes (interval > 0)."""
    global _monitor
    if interval <= 0:
        return
    item = _Watch(weakref.ref(transport), where, float(interval), max(int(count), 1))
    item.next_at = time.monotonic() + item.interval
    with _lock:
        _watched.append(item)
        if _monitor is None or not _monitor.is_alive():
            _monitor = threading.Thread(target=_run, name="pshctl-keepalive", daemon=True)
            _monitor.start()


def dead_reason(transport: paramiko.Transport) -> str | None:
    """Why keepalives closed this connection, or None when they did not."""
    reason = getattr(transport, "_pshctl_dead", None)
    return reason if isinstance(reason, str) else None


def _run() -> None:
    global _monitor
    while True:
        time.sleep(TICK)
        with _lock:
            for item in list(_watched):
                if not _check(item, time.monotonic()):
                    _watched.remove(item)
            if not _watched:
                _monitor = None
                return


def _check(item: _Watch, now: float) -> bool:
    """Send, wait or give up; False once the connection is gone (stop watching it)."""
    transport = item.transport()
    if transport is None or not transport.is_active():
        return False
    if item.sent_at is not None:
        if now - item.sent_at < item.limit:
            return True
        _declare_dead(transport, item)
        return False
    if now >= item.next_at:
        item.sent_at = now
        threading.Thread(target=_ask, args=(item,), name="pshctl-keepalive-ask",
                         daemon=True).start()
    return True


def _ask(item: _Watch) -> None:
    """One request; its answer (success or failure alike) resets the wait."""
    transport = item.transport()
    if transport is None:
        return
    try:
        transport.global_request(REQUEST, wait=True)  # returns on an answer or a close
    except Exception:  # noqa: BLE001 - a failing send counts as no answer; the monitor decides
        return
    if transport.is_active():
        with _lock:
            item.sent_at = None
            item.next_at = time.monotonic() + item.interval


def _declare_dead(transport: paramiko.Transport, item: _Watch) -> None:
    reason = (f"no answer to a keepalive request in {item.limit:g}s "
              f"(ssh.keepalive {item.interval:g}s x ssh.keepalive_count {item.count})")
    item.dead = reason
    transport._pshctl_dead = reason  # type: ignore[attr-defined]
    log.warning("%s: %s; closing the connection", item.where, reason)
    # Closing from here wakes every reader and writer of the stalled connection.
    threading.Thread(target=transport.close, name="pshctl-keepalive-close", daemon=True).start()
