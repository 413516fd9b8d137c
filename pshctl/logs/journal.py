"""The user journal as a log source: a systemd unit's output, read with ``journalctl``.

Where the platform's systemd images put a worker's output is not documented: in a log
file the unit writes itself (``/var/log/app.log``), or only in the user's journal. A
target's ``log_source`` says which to read: ``file``, ``journal`` or ``auto`` (the
default): the log file when it exists, else the journal when systemd supervises the
service (the supervisor configured, or, with ``supervisor: auto``, the user manager
knows the unit). ``auto`` is decided on the remote, once per command (:func:`source_command`).
Only the ``app`` log type is the service's output; other types are always files.

pshctl asks for the unit with ``journalctl --user-unit=UNIT``, the matches of
``journalctl --user -u UNIT`` (this user's unit, its messages and the manager's about
it) without ``--user``'s restriction to the user's own journal files: where the user
is a system user (uid < 1000, the sandbox's root), journald keeps its entries in the
system journal, which ``--user`` does not open.

A plain read is ``journalctl -o cat`` (the messages as bytes, one per line). A follow
(:data:`FOLLOW_SCRIPT`) is ``journalctl -f -o json``: every entry comes with its
cursor, and a reconnect resumes ``--after-cursor`` the last whole entry received, so no
line is lost or repeated. With ``-n 0`` the script first sends the unit's last entry
(a line ``@{json}``, not shown) and follows after its cursor, so a reconnect resumes
exactly where the follow began; a journal with no entry of the unit yet is followed
from its start (all that comes is new), on a reconnect too.
``journalctl -f`` says nothing while the unit is quiet, so a background loop writes a
heartbeat (``H``) to stderr every 2 s: a silent connection is a dead one, as for files;
the loop also ends ``journalctl`` once the connection is gone.

``--grep`` and ``--since`` are journalctl's own filters (:data:`FILTERS`): ``--grep``
(PCRE2, case-sensitive) on each entry's message, ``--since=@SECONDS`` on the time the
journal recorded it. journalctl's ``-n`` counts from ``--since`` on and, with a pattern,
lists the newest entry first, so the last N of a filtered read come from ``tail``, and a
follow with a count leaves the time to :class:`JournalDecoder`, which drops older entries.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field
from typing import Literal

from pshctl.logs.protocol import LineAssembler, LogEvent, LogLines

LogSource = Literal["auto", "file", "journal"]
LOG_SOURCES: tuple[LogSource, ...] = ("auto", "file", "journal")
JOURNAL_TYPE = "app"  # the one log type that is the service's own output
NOT_INSTALLED = 127

JOURNALCTL = "journalctl --user-unit=\"$u\" --quiet --no-pager"

# Which source `auto` means on this container. Arguments: LOG_PATH UNIT SYSTEMD where
# SYSTEMD is "yes" (the target's supervisor is systemd), "no" (runit) or "ask".
SOURCE_SCRIPT = r"""
f=$1 u=$2 s=$3
if [ -e "$f" ] || [ "$s" = no ]; then echo file; exit 0; fi
if [ "$s" = ask ]; then
  l=$(systemctl --user show --property=LoadState --value -- "$u" 2>/dev/null) || l=
  if [ "$l" != loaded ]; then echo file; exit 0; fi
fi
echo journal
"""

# The filters, the same in every script: SINCE (whole seconds since the epoch, "" for
# none) and PATTERN ("" for none), matched by journalctl itself on each entry's message.
# A pattern journalctl refuses (or cannot match: built without PCRE2) ends the script
# with BAD_PATTERN_STATUS before anything is read, its message on stderr.
FILTERS = r"""
F() { journalctl --user-unit="$u" --quiet --no-pager ${s:+"--since=@$s"} \
  ${p:+"--grep=$p"} ${p:+--case-sensitive=yes} "$@"; }
if [ -n "$p" ]; then
  e=$(F -n 0 -o cat 2>&1 >/dev/null) || case $e in
    *attern*) printf '%s\n' "$e" >&2; exit 65;; esac
fi
"""

# A plain read. Arguments: UNIT LINES|all SINCE PATTERN.
TAIL_SCRIPT = (
    'u=$1 n=$2 s=$3 p=$4\ncommand -v journalctl >/dev/null 2>&1 || exit 127\n'
    + FILTERS +
    # With SINCE journalctl's -n counts from that time on, with PATTERN it lists the newest
    # first: the last lines, in order, come from tail.
    'if [ "$n" = all ]; then F -o cat; elif [ -n "$s$p" ]; then F -o cat | tail -n "$n"\n'
    'else F -o cat -n "$n"; fi\n'
)

# The follow. Arguments: UNIT LINES|all CURSOR ("" on a fresh start) FRESH (1: no entry
# seen before, read everything; only with an empty CURSOR on a reconnect) SINCE PATTERN.
FOLLOW_SCRIPT = r"""
u=$1 n=$2 c=$3 fresh=$4 s=$5 p=$6
command -v journalctl >/dev/null 2>&1 || exit 127
""" + FILTERS + r"""
# -n N counts back from the end, and with SINCE journalctl would count from that time on:
# SINCE is then left to this side's decoder, which drops the entries older than it.
[ "$n" = all ] || s=
J() { F -o json --output-fields=MESSAGE --all "$@"; }
if [ -n "$c" ]; then set -- --after-cursor="$c"
elif [ "$fresh" = 1 ]; then set -- -n all
elif [ "$n" = 0 ]; then
  last=$(J -n 1) || exit $?
  c=$(printf '%s\n' "$last" | sed -n 's/.*"__CURSOR":"\([^"]*\)".*/\1/p')
  if [ -n "$c" ]; then
    printf '@%s\n' "$last" || exit 0
    set -- --after-cursor="$c"
  else
    set -- -n all  # nothing yet: all that comes is new
  fi
elif [ -n "$p" ] && [ "$n" != all ]; then
  # With PATTERN journalctl's -n lists the newest first: the last N in order come from
  # tail, and the follow goes on after the last of them.
  last=$(J | tail -n "$n") || exit $?
  c=$(printf '%s\n' "$last" | sed -n '$s/.*"__CURSOR":"\([^"]*\)".*/\1/p')
  if [ -n "$c" ]; then
    printf '%s\n' "$last" || exit 0
    set -- --after-cursor="$c"
  else
    set -- -n all  # nothing matches yet: all that comes is new
  fi
else set -- -n "$n"
fi
J -f "$@" &
j=$!
(trap '' PIPE; while sleep 2; do printf 'H\n' >&2 || break; done; kill "$j" 2>/dev/null) \
  </dev/null >/dev/null &
h=$!
wait "$j"; s=$?
kill "$h" 2>/dev/null
exit "$s"
"""


def unit_of(service: str) -> str:
    """The unit a service is (as the systemd driver names it)."""
    from pshctl.supervisor.systemd import unit_name

    return unit_name(service)


def source_command(path: str, service: str, supervisor: str) -> str:
    systemd = {"systemd": "yes", "runit": "no"}.get(supervisor, "ask")
    return shlex.join(["sh", "-c", SOURCE_SCRIPT, "sh", path, unit_of(service), systemd])


def _filters(since: float | None, grep: str | None) -> list[str]:
    """SINCE and PATTERN as the scripts take them. The journal counts whole seconds, so
    ``since`` is rounded down: an entry of the same second is kept, none is lost."""
    return ["" if since is None else str(math.floor(since)), grep or ""]


def tail_command(service: str, lines: int | None, *, since: float | None = None,
                 grep: str | None = None) -> str:
    count = "all" if lines is None else str(lines)
    return shlex.join(["sh", "-c", TAIL_SCRIPT, "sh", unit_of(service), count,
                       *_filters(since, grep)])


def follow_command(service: str, lines: int | None, cursor: str | None = None, *,
                   fresh: bool = False, since: float | None = None,
                   grep: str | None = None) -> str:
    count = "all" if lines is None else str(lines)
    return shlex.join(["sh", "-c", FOLLOW_SCRIPT, "sh", unit_of(service), count,
                       cursor or "", "1" if fresh and not cursor else "",
                       *_filters(since, grep)])


def message_bytes(entry: dict[str, object]) -> bytes | None:
    """An entry's MESSAGE as bytes: journalctl writes text as a string and anything not
    UTF-8 as a list of byte values; None when it has none."""
    message = entry.get("MESSAGE")
    if isinstance(message, str):
        return message.encode("utf-8", "surrogateescape")
    if isinstance(message, list) and all(isinstance(b, int) for b in message):
        return bytes(b & 0xFF for b in message)
    return None


@dataclass
class JournalDecoder:
    """This side of a journal follow: ``journalctl -o json`` lines in, log lines out.

    Keeps the cursor of the last entry handed out (or, from an ``@`` line, of the last
    one before the follow began): the point a reconnect resumes after.
    """

    worker: str
    unit: str
    since: float | None = None  # entries of an earlier second are not shown
    cursor: str | None = None
    seen: bool = False  # a connection got as far as the journal: resuming makes sense
    _lines: LineAssembler = field(default_factory=LineAssembler)

    def reset_link(self) -> None:
        """A new connection: a half-received entry will be sent again."""
        self._lines.drop()

    @property
    def fresh(self) -> bool:
        """No entry existed when the follow began, and none came: read from the start."""
        return self.seen and self.cursor is None

    def feed_all(self, chunks: list[bytes]) -> list[LogEvent]:
        block = self._lines.feed_all(chunks)
        if block is None:
            return []
        self.seen = True
        out: list[bytes] = []
        for line in block.split(b"\n"):
            if not line:
                continue
            marker = line.startswith(b"@")
            try:
                entry = json.loads(line[1:] if marker else line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                out.append(line)  # not journalctl's JSON: shown as it came
                continue
            cursor = entry.get("__CURSOR")
            if isinstance(cursor, str):
                self.cursor = cursor
            message = None if marker or self._before_since(entry) else message_bytes(entry)
            if message is not None:
                out.append(message)
        return [LogLines(self.worker, b"\n".join(out))] if out else []

    def _before_since(self, entry: dict[str, object]) -> bool:
        if self.since is None:
            return False
        stamp = entry.get("__REALTIME_TIMESTAMP")  # microseconds, always in -o json
        try:
            return int(str(stamp)) < math.floor(self.since) * 1_000_000
        except ValueError:
            return False

    def mark_seen(self) -> None:
        """The follow script ran (its heartbeat came): an empty journal is known empty."""
        self.seen = True
