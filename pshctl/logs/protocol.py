"""The follow protocol and the pure handling of log bytes: no SSH, no threads.

Tailing runs ``tail -n N`` remotely. Following runs a small remote follower (``FOLLOW_SCRIPT``:
Python 3 woken by inotify where the container has python3, else a POSIX sh loop that polls)
that keeps the log open on a descriptor, as ``tail -F`` does, and frames what it sends, so
that this side always knows the file's identity (device:inode) and the byte offset of each
line. That is what makes a follow survive a dropped connection: it reconnects with backoff
and asks for the same file from the offset after the last whole line it got, so no line is
repeated or lost unless the file itself was replaced or truncated meanwhile.

With a pattern (``--grep``) every command filters on the remote side, with ``grep -E``, so
that only matching lines cross the network; a follow then sends whole lines only, and
frames what matched with the file offset it covers (G), so a reconnect still resumes
exactly. ``--since`` reads windows from the end of the log (``WINDOW_SCRIPT``), larger
and larger, until a line older than the time asked appears.

Frames of the follow protocol (a header line, then for B, D and G exactly LEN bytes)::

    B ID OFF LEN EXACT   backlog: the last N lines (EXACT=1), or a window to trim to them
    S ID OFF             resumed: same file, reading goes on at OFF
    D LEN                data that follows what was sent before
    G ID END LEN         matching whole lines of the file up to offset END (with a pattern)
    R ID                 the name now points at another file (rotated); read from 0
    T                    the file shrank (truncated); read from 0
    M                    the log does not exist (yet); waiting for it
    H                    heartbeat while idle (a silent connection is a dead one)
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Union

from pshctl.defaults import DEFAULT_LOG_LINES, DEFAULT_LOG_TYPE
from pshctl.errors import PshctlError, UsageError

if TYPE_CHECKING:
    from pshctl.targets import Target

DEFAULT_TYPE = DEFAULT_LOG_TYPE
DEFAULT_LINES = DEFAULT_LOG_LINES
MISSING_STATUS = 66  # the tail script's exit status when the log file does not exist
BAD_PATTERN_STATUS = 65  # ... when grep refuses the pattern (its message on stderr)
MAX_LINE = 8 * 1024 * 1024  # a "line" longer than this is passed on in pieces
MAX_HEADER = 256  # bytes of a follow frame's header line, newline not counted

_TYPE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_FILE_ID = re.compile(r"[0-9]{1,20}:[0-9]{1,20}")  # stat's %d:%i
_NUMBER = re.compile(r"[0-9]{1,19}")  # an offset or a length: within a signed 64-bit file


class FollowProtocolError(PshctlError, ValueError):
    """The remote follow loop sent something that is not a frame (a remote that is not
    what pshctl started, or a corrupted stream): that worker's follow ends with this."""

# `tail -n` (or `cat` for all lines) for a plain read; the exit status tells a missing
# file from other failures. With a pattern ($3), the last N lines that match.
TAIL_SCRIPT = r"""f=$1
[ -e "$f" ] || exit 66
if [ -n "${3-}" ]; then
  grep -E -e "$3" /dev/null; [ $? -le 1 ] || exit 65
  if [ "$2" = all ]; then grep -a -E -e "$3" -- "$f"; [ $? -le 1 ]; exit $?; fi
  grep -a -E -e "$3" -- "$f" | tail -n "$2"; exit 0
fi
if [ "$2" = all ]; then exec cat -- "$f"; else exec tail -n "$2" -- "$f"; fi
"""

# The last BYTES of the log (of its matching lines with a pattern), whole lines up to
# END, after a first line `ID END`: the file's identity and the offset a follow may
# resume from (an unfinished last line is left to it). Arguments: PATH BYTES [PATTERN].
WINDOW_SCRIPT = r"""f=$1 want=$2 pat=${3-}
[ -e "$f" ] || exit 66
if [ -n "$pat" ]; then grep -E -e "$pat" /dev/null; [ $? -le 1 ] || exit 65; fi
exec 3<"$f" || exit 1
set -- $(stat -L -c '%s %d:%i' /dev/fd/3)
size=$1 id=$2 end=$1
if [ "$size" -gt 0 ] && [ "$(tail -c "+$size" /dev/fd/3 | head -c 1 | wc -l)" -eq 0 ]; then
  s=$(( size > 1048576 ? size - 1048576 : 0 ))
  end=$(( size - $(tail -c "+$((s + 1))" /dev/fd/3 | head -c "$((size - s))" | tail -n 1 | wc -c) ))
fi
printf '%s %s\n' "$id" "$end"
if [ -n "$pat" ]; then
  head -c "$end" /dev/fd/3 | grep -a -E -e "$pat" | tail -c "$want"
else
  s=$(( end > want ? end - want : 0 ))
  tail -c "+$((s + 1))" /dev/fd/3 | head -c "$((end - s))"
fi
"""

# The follow loop where the container has Python 3: the same frames as FOLLOW_SH, but it
# sleeps in poll() on inotify (the file's own changes and new names in its directory)
# instead of polling, and reads with pread() instead of starting tail/head per frame: what
# one pread returns is the frame, one write (one SSH packet), no stat per line. A line
# appended reaches the channel at once, and an idle follower costs nothing but its
# heartbeat. Without inotify it polls every 0.2 s, still without a process per look. The
# source sits in single quotes in FOLLOW_SCRIPT: it holds none.
FOLLOW_PY = r"""
import os, select, sys, time
BEAT, CHUNK = 2.0, 1 << 20
def main(f, n, rid, roff):
    fstat, pread, write, clock = os.fstat, os.pread, os.write, time.monotonic
    last = clock()
    def put(data):
        nonlocal last
        view = memoryview(data)
        try:
            while view:
                view = view[write(1, view):]
        except OSError:
            os._exit(0)
        last = clock()
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        ino = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    except Exception:
        ino = -1
    def watch(path, mask):
        return libc.inotify_add_watch(ino, os.fsencode(path), mask) if ino >= 0 else -1
    if ino >= 0 and watch(os.path.dirname(f) or ".", 0x100 | 0x80 | 0x40 | 0x200) < 0:
        os.close(ino)
        ino = -1
    if ino >= 0:
        poller = select.poll()
        poller.register(ino, select.POLLIN)
    def idle():
        wait = last + BEAT - clock()
        if wait <= 0:
            put(b"H\n")
        elif ino >= 0:
            if poller.poll(min(wait, 1.0) * 1000):
                try:
                    os.read(ino, 65536)  # the events say nothing that a look does not
                except OSError:
                    pass
        else:
            time.sleep(min(wait, 0.2))
    fd, fwd = -1, -1
    def open_log():
        nonlocal fd, fwd
        try:
            new = os.open(f, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        if fd >= 0:
            os.close(fd)
        fd = new
        if ino >= 0:
            if fwd >= 0:
                libc.inotify_rm_watch(ino, fwd)
            fwd = watch(f, 0x2 | 0x4 | 0x400 | 0x800)
        return True
    def look():
        st = fstat(fd)
        try:
            named = os.stat(f)
            nid = "%d:%d" % (named.st_dev, named.st_ino)
        except OSError:
            nid = ""
        return st.st_size, "%d:%d" % (st.st_dev, st.st_ino), nid
    def send(head, off, length):
        while True:
            data = pread(fd, min(length, CHUNK), off) if length else b""
            if length and not data:
                data = bytes(min(length, CHUNK))
            put(head + data)
            head = b""
            off += len(data)
            length -= len(data)
            if length <= 0:
                return
    def window(end, count):
        if count <= 0 or end <= 0:
            return 0
        pos = end - 1 if pread(fd, 1, end - 1) == b"\n" else end
        found = 0
        while pos > 0:
            low = max(0, pos - 65536)
            chunk = pread(fd, pos - low, low)
            cut = len(chunk)
            while True:
                cut = chunk.rfind(b"\n", 0, cut)
                if cut < 0:
                    break
                found += 1
                if found == count:
                    return end - (low + cut + 1)
            pos = low
        return end
    said = False
    while not open_log():
        if not said:
            said = True
            put(b"M\n")
        idle()
    size, fid, nid = look()
    if rid and fid == rid and size >= int(roff):
        off = int(roff)
        put(("S %s %d\n" % (fid, off)).encode())
    elif rid:
        off = 0
        put(("R %s\n" % fid).encode())
    else:
        off = size
        k = size if n == "all" else window(size, int(n))
        send(("B %s %d %d 1\n" % (fid, off - k, k)).encode(), off - k, k)
    while True:
        data = pread(fd, 65536, off)  # what was appended; its size makes the frame
        if data:
            put(b"D %d\n" % len(data) + data)
            off += len(data)
            if len(data) < 65536 and ino >= 0:
                idle()  # what is written from now on is queued as an event
            continue
        size = fstat(fd).st_size
        if size < off:
            off = 0
            put(b"T\n")
            continue
        size, fid, nid = look()
        if nid and nid != fid and open_log():
            size, fid, nid = look()
            off = 0
            put(("R %s\n" % fid).encode())
        elif size <= off:
            idle()
main(*sys.argv[1:5])
"""

# The follow loop in POSIX sh, where there is no Python 3: it polls (stat every 0.2 s,
# tail/head per frame). Arguments: PATH LINES|all RESUME_ID RESUME_OFFSET (the last two empty
# on a fresh start). The file is held open on fd 3; /dev/fd/3 reopens that same file, so
# stat/tail see it even after it was renamed or deleted. A short read (the file shrank
# while being sent) is padded with NULs to keep the framing; the next look sees the
# truncation and the reader drops the padding.
FOLLOW_SH = r"""
f=$1 n=$2 rid=$3 roff=$4 pat=${5-} beat=0
open_log() { command exec 3<"$f"; } 2>/dev/null
look() {
  set -- $(stat -L -c '%s %d:%i' /dev/fd/3 "$f" 2>/dev/null)
  size=$1 id=$2 nid=${4:-}
}
idle() {
  sleep 0.2 2>/dev/null || sleep 1
  beat=$((beat + 1))
  if [ "$beat" -ge 10 ]; then beat=0; printf 'H\n' || exit 0; fi
}
send() {
  { tail -c "+$(($1 + 1))" /dev/fd/3; cat /dev/zero; } 2>/dev/null | head -c "$2"
}
whole() {
  if [ "$2" -eq 0 ] || [ "$(tail -c "+$2" /dev/fd/3 2>/dev/null | head -c 1 | wc -l)" -eq 1 ]
  then echo "$2"; return; fi
  c=$(send "$1" "$(($2 - $1))" | tr -dc '\n' | wc -c)
  if [ "$c" -eq 0 ]; then echo "$1"; return; fi
  echo $(( $1 + $(send "$1" "$(($2 - $1))" | head -n "$c" | wc -c) ))
}
matches() {
  if [ "$3" = all ]; then send "$1" "$(($2 - $1))" | grep -a -E -e "$pat"
  else send "$1" "$(($2 - $1))" | grep -a -E -e "$pat" | tail -n "$3"; fi
}
found() {
  m=$(matches "$1" "$2" "$3" | wc -c)
  printf 'G %s %s %s\n' "$id" "$2" "$m" || exit 0
  { matches "$1" "$2" "$3"; cat /dev/zero; } 2>/dev/null | head -c "$m"
}
if [ -n "$pat" ]; then grep -E -e "$pat" /dev/null; [ $? -le 1 ] || exit 65; fi
said=
while ! open_log; do
  if [ -z "$said" ]; then said=1; printf 'M\n' || exit 0; fi
  idle
done
look
if [ -n "$rid" ] && [ "$id" = "$rid" ] && [ "$size" -ge "$roff" ]; then
  off=$roff
  printf 'S %s %s\n' "$id" "$off" || exit 0
elif [ -n "$rid" ]; then
  off=0
  printf 'R %s\n' "$id" || exit 0
elif [ -n "$pat" ]; then
  off=$(whole 0 "$size")
  found 0 "$off" "$n"
else
  tries=0
  while :; do
    start=$size k=0
    if [ "$n" = all ]; then k=$size
    elif [ "$n" -gt 0 ]; then k=$(tail -n "$n" /dev/fd/3 | wc -c); fi
    look
    tries=$((tries + 1))
    if [ "$size" -eq "$start" ]; then exact=1; break; fi
    if [ "$size" -gt "$start" ] && [ "$tries" -ge 3 ]; then exact=0; break; fi
  done
  w=$((start - k))
  [ "$w" -ge 0 ] || w=0
  if [ "$exact" = 1 ]; then off=$start; else off=$size; fi
  printf 'B %s %s %s %s\n' "$id" "$w" "$((off - w))" "$exact" || exit 0
  send "$w" "$((off - w))"
fi
while :; do
  look
  if [ "$size" -gt "$off" ] && [ -n "$pat" ]; then
    e=$(whole "$off" "$size")
    if [ "$e" -gt "$off" ]; then found "$off" "$e" all; off=$e beat=0; else idle; fi
  elif [ "$size" -gt "$off" ]; then
    printf 'D %s\n' "$((size - off))" || exit 0
    send "$off" "$((size - off))"
    off=$size beat=0
  elif [ "$size" -lt "$off" ]; then
    off=0
    printf 'T\n' || exit 0
  elif [ -n "$nid" ] && [ "$nid" != "$id" ] && open_log; then
    look
    off=0
    printf 'R %s\n' "$id" || exit 0
  else
    idle
  fi
done
"""

assert "'" not in FOLLOW_PY
# What runs remotely: the Python follower when the container has python3 (-I -S: no user
# site, no site-packages, a quick start), else the sh loop. Same arguments, same frames.
# With a --grep pattern ($5) the sh loop runs: only it filters, in G frames.
FOLLOW_SCRIPT = (
    'if [ -z "${5-}" ] && command -v python3 >/dev/null 2>&1; then\n'
    f"  exec python3 -I -S -c '{FOLLOW_PY}' \"$@\"\nfi\n"
    + FOLLOW_SH
)


# --- events -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogLines:
    """One or more whole lines from one worker, in order, as the bytes the log holds.

    ``data`` is the lines joined by newlines, without a final one; kept as bytes so that
    plain output passes them on without decoding and encoding again. ``received`` is when
    pshctl read them (``time.time()``): the log files carry no time stamps of their own.
    """

    worker: str
    data: bytes
    received: float = field(default_factory=time.time, compare=False)

    @property
    def text(self) -> str:
        return decode(self.data)

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


NoticeKind = Literal[
    "missing", "failed", "disconnected", "reconnecting", "reconnected", "rotated", "truncated",
    "untimed",
]


@dataclass(frozen=True)
class LogNotice:
    """Something to tell the user about one worker's log (not a log line)."""

    worker: str
    kind: NoticeKind
    message: str
    error: BaseException | None = None

    @property
    def is_failure(self) -> bool:
        """This worker's log is over: it is missing (plain read) or cannot be read."""
        return self.kind == "failed" or (self.kind == "missing" and self.error is not None)


LogEvent = Union[LogLines, LogNotice]


# --- requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogRequest:
    """What to read: ``<log_dir>/<log_type>.log``, its last ``lines`` lines (None: all of
    it), then with ``follow`` what is written next.

    ``grep``: only lines matching this extended regular expression (``grep -E``),
    filtered on the remote side. ``since``: only lines written at or after this time
    (seconds since the epoch), judged by the time each line starts with
    (:mod:`pshctl.logs.times`); ``lines`` then limits what is left (None: all of it).
    """

    log_type: str = DEFAULT_TYPE
    lines: int | None = DEFAULT_LINES
    follow: bool = False
    grep: str | None = None
    since: float | None = None

    def __post_init__(self) -> None:
        if not _TYPE_RE.fullmatch(self.log_type):
            raise UsageError(
                f"invalid log type {self.log_type!r}",
                hint="a log type is a file name without '.log', such as app, deploy or cron",
            )
        if self.lines is not None and self.lines < 0:
            raise UsageError("--lines must be 0 or more")
        if self.grep is not None and (not self.grep or "\n" in self.grep or "\0" in self.grep):
            raise UsageError("--grep takes one pattern on one line",
                             hint="an extended regular expression, as grep -E takes")


def log_path(target: Target, log_type: str = DEFAULT_TYPE) -> str:
    """Where a container keeps the log of that type."""
    return f"{target.log_dir.rstrip('/') or ''}/{log_type}.log"


def _count(lines: int | None) -> str:
    return "all" if lines is None else str(lines)


def tail_command(path: str, lines: int | None, grep: str | None = None) -> str:
    pattern = [grep] if grep else []
    return shlex.join(["sh", "-c", TAIL_SCRIPT, "sh", path, _count(lines), *pattern])


def window_command(path: str, size: int, grep: str | None = None) -> str:
    pattern = [grep] if grep else []
    return shlex.join(["sh", "-c", WINDOW_SCRIPT, "sh", path, str(size), *pattern])


def follow_command(path: str, lines: int | None, resume: tuple[str, int] | None = None,
                   grep: str | None = None) -> str:
    rid, roff = (resume[0], str(resume[1])) if resume else ("", "")
    pattern = [grep] if grep else []
    return shlex.join(["sh", "-c", FOLLOW_SCRIPT, "sh", path, _count(lines), rid, roff,
                       *pattern])


@dataclass(frozen=True)
class Window:
    """What ``WINDOW_SCRIPT`` sent: the file, where its whole lines end, the bytes."""

    file_id: str
    end: int
    data: bytes
    complete: bool  # the window holds everything there is (no line cut at its start)

    @property
    def lines(self) -> list[bytes]:
        """Its whole lines: a first line the window cut through is left out."""
        data = self.data
        if not self.complete:
            cut = data.find(b"\n")
            data = data[cut + 1 :] if cut >= 0 else b""
        return data.split(b"\n")[:-1] if data.endswith(b"\n") else \
            (data.split(b"\n") if data else [])


def parse_window(output: bytes, asked: int) -> Window | None:
    """The answer to :func:`window_command`; None when it is not one."""
    head, newline, data = output.partition(b"\n")
    words = head.decode("ascii", "replace").split()
    if not newline or len(words) != 2 or not words[1].isdigit():
        return None
    return Window(words[0], int(words[1]), data, complete=len(data) < asked)


# --- pure stream handling -------------------------------------------------------------


class LineAssembler:
    """Cuts a byte stream into whole lines, keeping an unfinished last line for later."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._parts: list[bytes] = []
        self._held = 0
        self._max_line = max_line

    @property
    def held(self) -> int:
        """Bytes of the unfinished line, not handed out yet."""
        return self._held

    def feed(self, data: bytes) -> bytes | None:
        """The whole lines completed by ``data``, joined by newlines; None when none."""
        return self.feed_all([data])

    def feed_all(self, chunks: Sequence[bytes]) -> bytes | None:
        """As :meth:`feed` for consecutive chunks, copying the bytes once."""
        for last in range(len(chunks) - 1, -1, -1):
            cut = chunks[last].rfind(b"\n")
            if cut >= 0:
                break
        else:
            self._parts.extend(c for c in chunks if c)
            self._held += sum(len(c) for c in chunks)
            return self.flush() if self._held > self._max_line else None
        tail = chunks[last]
        if not self._parts and last == 0:
            block = tail[:cut]
        else:
            block = b"".join([*self._parts, *chunks[:last], tail[:cut]])
        rest = [tail[cut + 1 :], *chunks[last + 1 :]]
        self._parts = [c for c in rest if c]
        self._held = sum(len(c) for c in self._parts)
        return block

    def flush(self) -> bytes | None:
        """The unfinished line, if any, as a line of its own."""
        if not self._parts:
            return None
        block = b"".join(self._parts)
        self._parts, self._held = [], 0
        return block

    def drop(self) -> None:
        self._parts, self._held = [], 0


def last_lines(data: bytes, count: int | None) -> bytes:
    """The last ``count`` lines of ``data`` (an unfinished last line counts), as tail -n."""
    if count is None:
        return data
    if count <= 0:
        return b""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    start = end
    for _ in range(count):
        start = data.rfind(b"\n", 0, start)
        if start < 0:
            return data
    return data[start + 1 :]


def decode(block: bytes) -> str:
    return block.decode("utf-8", "replace")


@dataclass
class FollowDecoder:
    """This side of the follow protocol: frames in, line batches and notices out.

    Keeps the file's identity and the offset just past the last whole line handed out:
    the point a reconnect resumes from.
    """

    worker: str
    path: str
    lines: int | None
    file_id: str | None = None
    started: bool = False  # a B or S frame arrived: resuming makes sense from now on
    _pos: int = 0  # file offset of the next data byte
    _buf: bytes = b""  # an incomplete header line
    _left: int = 0  # data bytes still due in the current frame
    _backlog: list[bytes] | None = None  # collecting a window to trim (B ... 0)
    _matched: list[bytes] | None = None  # collecting a G frame's lines
    _matched_end: int = 0  # the file offset a G frame's lines reach
    _lines: LineAssembler = field(default_factory=LineAssembler)
    _said_missing: bool = False

    @property
    def resume_point(self) -> tuple[str, int] | None:
        if not self.started or self.file_id is None:
            return None
        return self.file_id, self._pos - self._lines.held

    def reset_link(self) -> None:
        """A new connection: forget half-received frames (they will be sent again)."""
        if self.started and self._matched is None:
            self._pos -= self._lines.held
        self._buf, self._left, self._backlog, self._matched = b"", 0, None, None
        self._lines.drop()

    def resume_from(self, file_id: str, offset: int) -> None:
        """Go on from ``offset`` of that file, as after a frame that reached it (a follow
        whose backlog was read by other means, e.g. ``--since``)."""
        self._start(file_id, offset)

    def feed(self, data: bytes) -> list[LogEvent]:
        return self.feed_all([data])

    def feed_all(self, chunks: Sequence[bytes]) -> list[LogEvent]:
        """Events for consecutive chunks of the stream (frame data is copied once)."""
        events: list[LogEvent] = []
        pending: list[bytes] = []  # data of the current frame, not handed on yet
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                if self._left:
                    size = min(self._left, len(view))
                    pending.append(chunk if size == len(chunk) else bytes(view[:size]))
                    view = view[size:]
                    self._left -= size
                    if self._matched is None:  # a G frame's bytes are not the file's
                        self._pos += size
                    if not self._left:
                        self._data(pending, events)
                        pending = []
                    continue
                view = self._next_header(view, events)
        if pending:
            self._data(pending, events)
        return events

    def _next_header(self, view: memoryview, events: list[LogEvent]) -> memoryview:
        room = MAX_HEADER - len(self._buf)  # a header never needs more, however it is cut
        nl = bytes(view[: room + 1]).find(b"\n")
        if nl < 0:
            if len(view) > room:
                raise FollowProtocolError(
                    f"bad follow header: {(self._buf + bytes(view))[:80]!r}")
            self._buf += bytes(view)
            return view[len(view) :]
        header = self._buf + bytes(view[:nl])
        self._buf = b""
        self._header(header.decode("ascii", "replace").split(), events)
        return view[nl + 1 :]

    def _data(self, chunks: list[bytes], events: list[LogEvent]) -> None:
        if self._matched is not None:
            # Whole lines, handed out once the frame is complete: a frame cut by a lost
            # connection is sent again whole, and must not show twice.
            self._matched.extend(chunks)
            if self._left == 0:
                block, self._matched = b"".join(self._matched), None
                self._pos = self._matched_end
                self.started = True
                if block:
                    self._emit(block[:-1] if block.endswith(b"\n") else block, events)
            return
        if self._backlog is not None:
            self._backlog.extend(chunks)
            if self._left == 0:
                window, self._backlog = b"".join(self._backlog), None
                self._emit(self._lines.feed(last_lines(window, self.lines)), events)
                if self.lines == 0:  # no backlog: only an unfinished last line is kept, to
                    self._lines.feed(window)  # be completed by what is written next
                self.started = True
            return
        self._emit(self._lines.feed_all(chunks), events)

    def _emit(self, block: bytes | None, events: list[LogEvent]) -> None:
        if block is not None:
            events.append(LogLines(self.worker, block))

    def _restart(self, events: list[LogEvent]) -> None:
        """The file was replaced or truncated: finish the old last line, read from 0."""
        held = self._lines.flush()
        if held is not None:
            held = held.rstrip(b"\0")  # padding of a read cut short
            if held:
                events.append(LogLines(self.worker, held))
        self._pos = 0

    def _header(self, words: list[str], events: list[LogEvent]) -> None:
        kind = words[0] if words else ""
        if not _well_formed(words):
            raise FollowProtocolError(f"bad follow header: {' '.join(words)[:80]!r}")
        if kind == "H":
            return
        if kind == "D":
            self._left = int(words[1])
        elif kind == "B":
            trim = words[4] != "1" or self.lines == 0
            self._start(words[1], int(words[2]), started=not trim)
            self._left = int(words[3])
            if trim:  # resuming makes sense only once the trimmed window is out
                self._backlog = []
            if self._left == 0:
                self._data([], events)
        elif kind == "S":
            self._start(words[1], int(words[2]))
        elif kind == "G":
            if words[1] != self.file_id:
                self._start(words[1], self._pos, started=False)
            self._matched, self._matched_end = [], int(words[2])
            self._left = int(words[3])
            if self._left == 0:
                self._data([], events)
        elif kind == "R":
            self._restart(events)
            was = self.file_id
            self._start(words[1], 0)
            if was is not None:
                events.append(LogNotice(self.worker, "rotated",
                                        f"{self.path} was replaced; following the new file"))
        elif kind == "T":
            self._restart(events)
            events.append(LogNotice(self.worker, "truncated",
                                    f"{self.path} was truncated; reading from its start"))
        elif kind == "M" and not self._said_missing:
            self._said_missing = True
            events.append(LogNotice(self.worker, "missing",
                                    f"no log file {self.path} (yet); waiting for it"))

    def _start(self, file_id: str, offset: int, *, started: bool = True) -> None:
        self.file_id, self._pos, self.started = file_id, offset, started
        self._lines.drop()


# Each frame's words after its letter: I a file id, N an offset or length, X exactness.
_FRAMES = {"H": "", "T": "", "M": "", "D": "N", "R": "I", "S": "IN", "B": "INNX", "G": "INN"}
_WORD = {"I": _FILE_ID, "N": _NUMBER, "X": re.compile(r"[01]")}


def _well_formed(words: list[str]) -> bool:
    """A header the follow loop could have sent; anything else ends the follow (a negative
    or 10**300-byte length, a file id that is no device:inode)."""
    shape = _FRAMES.get(words[0]) if words else None
    return shape is not None and len(words) == len(shape) + 1 and all(
        _WORD[kind].fullmatch(word) for kind, word in zip(shape, words[1:], strict=True))
