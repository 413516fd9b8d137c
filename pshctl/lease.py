"""A lease on a worker's service, held on the container itself for one SSH session.

Two operators restarting the same worker at once used to collide: run 2's SIGKILL hit
the fresh process of run 1, and run 1 then called its worker crash-looping. So stop,
start and restart first take a lease on the service: a small remote shell opens a lock
file in a private directory under the container's ``$TMPDIR`` (``/tmp``, writable on
every Platform.sh / Upsun container), takes an ``flock`` on it, writes who holds it and
since when into it, and then waits on its stdin (``exec cat``, which keeps the lock's
descriptor). It runs on a channel of the connection the action already uses, so:

* no extra SSH connection, one extra channel and one answer line;
* the lease ends with the channel: released at once when pshctl closes it, and when the
  connection drops or pshctl is killed, sshd hangs up and the lock is gone with ``cat``;
* a second run sees the holder's line and either waits (``--wait-lock SECONDS``, one
  ``flock -w 1`` at a time so that it sees a hang-up) or refuses at once with
  :class:`LeaseBusy` (exit 6) naming who holds it and since when.

A container without ``flock`` (or another tool the script needs) gets no lease: the
action goes on, and says so. What the
holder's line says comes from the container: callers show it escaped, as all remote text.
"""

from __future__ import annotations

import getpass
import hashlib
import math
import os
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pshctl.errors import ExitCode, OperationFailed, PshctlError

if TYPE_CHECKING:
    import paramiko

ANSWER_SLACK = 30.0  # seconds beyond the wait for the remote shell's answer
MAX_HOLDER = 300  # bytes of the holder's line shown
COMMAND_NOT_FOUND = 127
RELEASE_WAIT = 5.0  # seconds a release waits for the remote holder to have ended

# Arguments: FILE-NAME WAIT-SECONDS WHO NOW. Answers one line per second while waiting
# (``W HOLDER``), then ``L held``, ``L busy HOLDER``, ``L none TOOL`` (a tool it needs is
# missing: no lease) or ``L error WHY``. When the lease is free, the one program it runs
# is ``flock`` (then ``exec cat``): the lease costs a channel and little else.
LEASE_SCRIPT = r"""
for c in flock cat; do
  command -v "$c" >/dev/null 2>&1 || { echo "L none $c"; exit 0; }
done
umask 077
d="${TMPDIR:-/tmp}/pshctl-leases-${USER:-$(id -u)}"
[ -d "$d" ] || mkdir -m 700 "$d" 2>/dev/null
if [ -L "$d" ] || [ ! -d "$d" ] || [ ! -O "$d" ]; then
  echo "L error $d is not a directory of this user"; exit 1
fi
f="$d/$1" since=$4
exec 9>>"$f" || { echo "L error cannot open $f"; exit 1; }
if ! flock -n 9; then
  n=0
  while :; do
    holder=$(head -c 300 -- "$f" 2>/dev/null | tr -d '\n')
    if [ "$n" -ge "$2" ]; then printf 'L busy %s\n' "$holder"; exit 0; fi
    printf 'W %s\n' "$holder" || exit 0
    if flock -w 1 9; then break; fi
    n=$((n + 1))
  done
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null) || since=$4
fi
printf '%s since %s\n' "$3" "$since" > "$f"
echo 'L held'
exec cat >/dev/null
"""


class LeaseBusy(PshctlError):
    """Another run holds the worker's lease (and ``--wait-lock`` ran out, or was 0)."""

    exit_code = ExitCode.LOCKED

    def __init__(self, holder: str, waited: float) -> None:
        self.holder = holder
        waited_text = f" (waited {waited:.0f}s)" if waited else ""
        super().__init__(
            f"another pshctl run holds this worker: {holder or 'unknown'}{waited_text}",
            hint="wait for it with --wait-lock SECONDS, or retry when it is done")


class Lease:
    """A held lease; :meth:`release` (or the end of the connection) gives it back."""

    def __init__(self, channel: paramiko.Channel | None, *, missing: str = "") -> None:
        self._channel = channel
        self.missing = missing  # the tool the container lacks, when no lease was taken

    @property
    def held(self) -> bool:
        """False on a container without ``flock`` (or ``id``, ...): the action runs
        without a lease."""
        return self._channel is not None

    def release(self) -> None:
        """End the remote holder and wait (briefly) until it has ended: the lock is free
        when this returns, and no process of pshctl's is left on the container."""
        channel, self._channel = self._channel, None
        if channel is None:
            return
        try:
            channel.shutdown_write()  # EOF: `cat` ends, and the lock with it
            channel.status_event.wait(RELEASE_WAIT)
        except (OSError, EOFError):  # the connection is gone: so is the holder
            pass
        finally:
            channel.close()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_id() -> str:
    """Who this run is, as the holder's line says it: ``user@host pid N``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def lock_name(service: str, scope: str = "") -> str:
    """The lock file's name for a service (a runit name, a service directory, a unit).

    ``scope`` tells apart containers that share one ``/tmp`` (the sandbox's, where every
    container's unit is ``app.service``): the worker, its instance and the SSH port. On
    the platform each container has a ``/tmp`` of its own.
    """
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", service)[-40:].lstrip(".-") or "service"
    digest = hashlib.sha256(f"{scope}\0{service}".encode()).hexdigest()[:12]
    return f"{readable}-{digest}.lock"


def lease_argv(service: str, wait: float, scope: str = "") -> tuple[str, ...]:
    """The remote command that takes the lease (shown by ``--dry-run`` too)."""
    seconds = str(max(0, math.ceil(wait)))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return ("sh", "-c", LEASE_SCRIPT, "sh", lock_name(service, scope), seconds, holder_id(),
            now)


@dataclass
class _Answer:
    """The remote shell's lines, as they come."""

    on_wait: Callable[[str], None] | None
    stop: threading.Event
    interrupted: Callable[[], bool]
    final: str | None = None
    _buf: bytes = b""

    def feed(self, chunks: list[bytes]) -> None:
        self._buf += b"".join(chunks)
        while b"\n" in self._buf and self.final is None:
            raw, self._buf = self._buf.split(b"\n", 1)
            line = raw[: MAX_HOLDER + 16].decode("utf-8", "replace")
            if line.startswith("L "):
                self.final = line[2:]
                self.stop.set()
            elif line.startswith("W") and self.on_wait is not None:
                self.on_wait(line[2:])
            if self.interrupted():
                self.stop.set()
        if len(self._buf) > 4 * MAX_HOLDER:  # not our shell talking: keep nothing of it
            self._buf = b""


def acquire(
    session: Any,
    service: str,
    *,
    scope: str = "",
    wait: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
    interrupted: Callable[[], bool] = lambda: False,
) -> Lease:
    """Take the lease on ``service`` over ``session`` (a :class:`pshctl.ssh.Session`).

    ``on_wait(holder)`` is called about once a second while another run holds it;
    :class:`LeaseBusy` after ``wait`` seconds. ``interrupted()`` is looked at on each of
    those lines: when it is true, nothing is taken and :class:`LeaseInterrupted` raised.
    """
    from pshctl.ssh.pump import pump

    channel = session.open_exec(shlex.join(lease_argv(service, wait, scope)))
    answer = _Answer(on_wait, threading.Event(), interrupted)
    errors: list[bytes] = []
    began = time.monotonic()
    try:
        pump(channel, answer.feed, errors.extend, stop=answer.stop,
             deadline=began + wait + ANSWER_SLACK)
    except BaseException:
        channel.close()
        raise
    final = answer.final or ""
    if final == "held":
        return Lease(channel)
    try:
        if answer.final is None and interrupted():
            raise LeaseInterrupted("interrupted while waiting for the worker's lease")
        if answer.final is None and _status(session, channel) == COMMAND_NOT_FOUND:
            final = "none sh"  # not even `sh` on the remote PATH: the action will say more
    finally:
        channel.close()
    if final.startswith("none"):
        return Lease(None, missing=final[5:].strip() or "flock")
    if final.startswith("busy"):
        raise LeaseBusy(final[5:].strip(), time.monotonic() - began)
    said = final.removeprefix("error ") or b"".join(errors).decode("utf-8", "replace").strip()
    raise OperationFailed(f"cannot take the worker's lease: {said[:MAX_HOLDER] or 'no answer'}")


def _status(session: Any, channel: paramiko.Channel) -> int | None:
    try:
        return int(session.exit_status(channel, time.monotonic() + 5))
    except PshctlError:
        return None


class LeaseInterrupted(PshctlError):
    exit_code = ExitCode.INTERRUPTED
