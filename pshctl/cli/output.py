"""The one output layer: consoles, the result renderer, live views, lines, errors.

Nothing else in pshctl writes to stdout (a test checks it); the interactive shell's raw
terminal bridge (``pshctl.ssh.interactive``) is the one exception. Data goes to stdout,
diagnostics to stderr. Both consoles have markup, highlighting and
emoji off, so text that comes from a remote host (``[error]``, ``:x:``) prints as is;
on a terminal its control characters are shown by :func:`visible`, never acted on.
On a terminal tables are rich tables; piped, they are plain aligned text; with
``--json`` stdout holds exactly one JSON document (or JSON lines for streams).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Union

from pshctl.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

# A cell is plain text, or (text, rich style) for emphasis on a terminal; the style
# is dropped when piped, so never put meaning in the style alone.
Cell = Union[str, "tuple[str, str]"]


# What a terminal would act on instead of showing: C0 controls but tab and newline (ESC
# starts OSC 52 clipboard writes, title changes, ESC[2J, ESC[1A ESC[2K), DEL, C1
# controls (U+009B is a CSI of its own), and the invisible format characters that
# reorder or hide text (bidi overrides and isolates, zero-width ones, BOM).
_UNSHOWN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e"
                      "\u2060-\u2069\ufeff]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC -> ^[, BEL -> ^G, CR -> ^M: as less and cat -v
    return "^?" if code == 0x7F else f"<U+{code:04X}>"


def visible(text: str) -> str:
    """``text`` with every control character shown, not acted on (``^[]52;c;...^G``).

    The one sanitiser of what reaches a terminal from remotes and files (log lines,
    remote stderr in errors, table cells, names): every writer below calls it when its
    stream is a terminal; piped (and ``logs --raw``) the text passes as it came.
    """
    return _UNSHOWN.sub(_shown, text)


@cache
def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(
        stderr=stderr,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )


@dataclass
class Report:
    """What a command hands to :func:`emit`: the JSON document and its human form.

    ``context`` is the envelope every JSON document starts with (``project``,
    ``environment``, ``app``: docs/json.md); ``data`` holds the command's own keys.
    """

    data: dict[str, Any]
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[Cell]] = ()
    lines: Sequence[str] = ()  # free text printed after the table
    exit_code: int = ExitCode.OK
    title: str | None = None
    notes: Sequence[str] = field(default_factory=list)  # to stderr, both modes
    warnings: Sequence[str] = field(default_factory=list)  # to stderr (yellow), both modes
    # Failures said once each on stderr after the table, both modes: (message, hint).
    problems: Sequence[tuple[str, str | None]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The JSON document: the envelope, then the command's own keys."""
        return {**self.context, **self.data}


def emit(report: Report, *, as_json: bool = False) -> int:
    """Render a report and return its exit code.

    A reader that went away (``| head -1``) does not change the outcome: the exit code
    still says how the operation went, not whether all of its output was read.
    """
    try:
        if as_json:
            print_json(report.document())
        else:
            if report.columns:
                print_table(report.columns, report.rows, title=report.title)
            if report.lines and is_terminal():
                out = console()
                for line in report.lines:
                    out.print(visible(line))
            elif report.lines:
                sys.stdout.write("".join(line + "\n" for line in report.lines))
                sys.stdout.flush()
    except OSError:  # the reader went away (EPIPE), or the terminal did (EIO after SIGHUP)
        drop_stdout()
    for note in report.notes:
        info(note)
    for message in report.warnings:
        warn(message)
    for message, hint in report.problems:
        error(message, hint)
    return int(report.exit_code)


def drop_stdout() -> None:
    """Send what is left for stdout to /dev/null, so the exit flush cannot fail too."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (in-process tests)
        pass
    finally:
        os.close(devnull)


def version() -> None:
    """``pshctl --version``'s line (the root option's, and the one answered without typer)."""
    from pshctl import __version__

    write_text(f"pshctl {__version__}\n")


def write_text(text: str) -> None:
    """Text to stdout as it is (a completion script, ``--pipe``'s destination)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def stdout_kind() -> tuple[bool, str | None]:
    """Whether stdout is a terminal, and its encoding: what a kept screen depends on."""
    try:
        tty = bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        tty = False
    return tty, getattr(sys.stdout, "encoding", None)


@contextmanager
def recording() -> Iterator[list[str]]:
    """Everything written to stdout meanwhile, as it is written: a help screen's copy
    (:mod:`pshctl.cli.helpcache`). The stream is the same one, so rich sees the same
    terminal, size and encoding."""
    real = sys.stdout
    written: list[str] = []
    sys.stdout = _Copying(real, written)
    try:
        yield written
    finally:
        sys.stdout = real


class _Copying:
    """stdout, keeping a copy of the text written to it."""

    def __init__(self, stream: Any, written: list[str]) -> None:
        self._stream = stream
        self._written = written

    def write(self, text: str) -> int:
        count = int(self._stream.write(text))  # bytes fail here, as click's probe expects
        self._written.append(text)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def write_bytes(*parts: bytes, stderr: bool = False) -> None:
    """Bytes as they came from a remote command, with no decoding or re-encoding.

    The parts are written one after the other, not joined: a batch of log lines can be
    megabytes, and its final newline is not worth a copy of it."""
    stream = sys.stderr if stderr else sys.stdout
    binary = getattr(stream, "buffer", None)
    if binary is None:  # a text-only stream (in-process tests)
        stream.write(b"".join(parts).decode("utf-8", "replace"))
        stream.flush()
        return
    for data in parts:
        binary.write(data)
    binary.flush()


def flush() -> None:
    """Push out what is buffered on both streams (before leaving with os._exit)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def reader_gone() -> bool:
    """True when stdout is a pipe whose reading end was closed (``| head`` finished)."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests' StringIO)
        return False
    poller = select.poll()
    poller.register(fd, 0)  # errors and hang-ups are always reported
    return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def cell_text(cell: Cell) -> str:
    """A cell's text, without its style."""
    return cell if isinstance(cell, str) else cell[0]



def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> None:
    if not is_terminal():
        _print_plain_table(columns, rows)
        return
    console().print(rich_table(columns, rows, title=title))


def rich_table(
    columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> Any:
    """The terminal form of a table, as a rich renderable (also for live displays); its
    cells are shown :func:`visible`."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_edge=False, header_style="bold", box=None, pad_edge=False)
    for index, column in enumerate(columns):
        if column == CLIPPED:
            table.add_column(column, overflow="ellipsis", no_wrap=True,
                             max_width=_room_for(index, columns, rows))
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(visible(c)) if isinstance(c, str) else
                        Text(visible(c[0]), style=c[1]) for c in row))
    return table


# The column cut to one line on a terminal: what it says is said whole below the table.
CLIPPED = "error"


def _room_for(index: int, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> int:
    """The width left for column ``index`` once the others have their whole text."""
    others = sum(max(len(cell_text(row[i])) if i < len(row) else 0
                     for row in [columns, *rows])
                 for i in range(len(columns)) if i != index)
    gaps = 2 * (len(columns) - 1)  # a space of padding on each side between columns
    return max(12, console().width - others - gaps)


def _print_plain_table(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    texts = [[cell_text(c) for c in row] for row in rows]
    header = [c.upper() for c in columns]
    widths = [max(len(r[i]) for r in [header, *texts]) for i in range(len(columns))]
    for row in [header, *texts]:
        line = "  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip()
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err_line(text: str) -> None:
    """A line on stderr as it is (stderr is not a terminal)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    """A diagnostic line on stderr."""
    if not is_terminal(stderr=True):
        _err_line(message)
        return
    console(stderr=True).print(visible(message))


def context(line: str) -> None:
    """The line naming what a command acts on: first on stderr, dim on a terminal."""
    if not is_terminal(stderr=True):
        _err_line(line)
        return
    from rich.text import Text

    console(stderr=True).print(Text(visible(line), style="dim"))


def warn(message: str) -> None:
    if not is_terminal(stderr=True):
        _err_line(f"warning: {message}")
        return
    from rich.text import Text

    console(stderr=True).print(Text.assemble(("warning: ", "yellow bold"), visible(message)))


def error(message: str, hint: str | None = None) -> None:
    if not is_terminal(stderr=True):
        _err_line(f"error: {message}")
        if hint:
            _err_line(f"hint: {hint}")
        return
    from rich.text import Text

    err = console(stderr=True)
    # Only the label is styled: `Text(label, style=...) + Text(message)` would carry the
    # label's style over the whole line.
    err.print(Text.assemble(("error: ", "red bold"), visible(message)))
    if hint:
        err.print(Text.assemble(("hint: ", "cyan"), visible(hint)))


# --- live views -------------------------------------------------------------------------


class LiveTable:
    """A table redrawn in place on a terminal (rich's Live): ``status --watch`` on stdout,
    the rows of a restart's progress on stderr. Use it only when :func:`is_terminal`."""

    def __init__(self, *, stderr: bool = False, transient: bool = False) -> None:
        from rich.live import Live

        self._live = Live(console=console(stderr=stderr), auto_refresh=False,
                          transient=transient)
        self._lock = threading.Lock()
        self._open = False

    def __enter__(self) -> LiveTable:
        self._live.__enter__()
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                self._live.__exit__(None, None, None)

    def show(self, columns: Sequence[str], rows: Sequence[Sequence[Cell]], *,
             title: str | None = None) -> None:
        with self._lock:
            if self._open:
                self._live.update(rich_table(columns, rows, title=title), refresh=True)

    def say(self, message: str) -> None:
        """A line printed above the table."""
        with self._lock:
            self._live.console.print(visible(message))


# What makes rich treat a stream that is not a terminal as one.
_TERMINAL_VARS = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS",
                  "JUPYTER_LINES")


def is_terminal(*, stderr: bool = False) -> bool:
    """Whether the stream is shown on a terminal, as rich decides it; a plain pipe or file
    is told apart without importing rich (it costs ~30 ms, for nothing, on a pipe)."""
    import os

    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):
        tty = False
    if not tty and not any(os.environ.get(name) is not None for name in _TERMINAL_VARS):
        return False
    return bool(console(stderr=stderr).is_terminal)


# --- lines from several workers ------------------------------------------------------------

# Colours a worker's prefix can get; the name picks one, so it is the same every run.
PALETTE = (
    "cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta",
    "bright_green", "bright_yellow", "bright_blue",
)


def colour_for(name: str) -> str:
    """A worker's prefix colour: the same for the same name, run after run."""
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


class Lines:
    """Whole lines from one or more workers (logs, ``ssh --all``), written whole.

    With several workers each line starts with the worker's name, padded: ``queue | ...``,
    in the worker's colour on a terminal. On a terminal, control characters are shown
    :func:`visible`; piped, or with ``raw``, the bytes pass as they came. With
    ``as_json`` each line is one object: the envelope (``context``), then ``{"worker",
    "instance", "name", "line", "received"}`` (``labels``: name -> (worker, instance), for
    the instances of a scaled worker; any other name is a worker's own; and, with
    ``times``, ``"time"``: the time the line itself says, or null). With ``timestamps``
    each line starts with a time: its own when it says one, else when it was received.
    Safe to call from several threads: a line is never cut by another worker's.
    """

    def __init__(self, names: Sequence[str], *, as_json: bool = False,
                 stderr: bool = False, raw: bool = False, timestamps: bool = False,
                 times: bool = False, context: dict[str, Any] | None = None,
                 labels: Mapping[str, tuple[str, int | str]] | None = None) -> None:
        self.labels = dict(labels or {})
        self.as_json = as_json
        self.context = context or {}  # the envelope each JSON line starts with
        self.stderr = stderr
        self.timestamps = timestamps
        self.times = times or timestamps
        self.prefixed = len(names) > 1
        width = max((len(n) for n in names), default=0)
        self.prefixes = {n: f"{n.ljust(width)} | " for n in names}
        self.raw_prefixes = {n: p.encode() for n, p in self.prefixes.items()}
        terminal = is_terminal(stderr=stderr)
        out = console(stderr=stderr) if terminal else None
        self.styled = (self.prefixed and out is not None and out.color_system is not None
                       and not out.no_color)
        self.escaped = terminal and not raw
        self._lock = threading.Lock()

    def write(self, worker: str, data: bytes, received: float | None = None) -> None:
        """``data``: one or more lines joined by newlines, without a final one."""
        with self._lock:
            if self.as_json:
                self._json(worker, data, received)
                return
            if self.timestamps:
                data = _stamped(data, received)
            if self.styled and self.escaped:
                self._styled(worker, data)
            else:
                self._plain(worker, data)

    def _plain(self, worker: str, data: bytes) -> None:
        if self.escaped:
            data = visible(data.decode("utf-8", "replace")).encode("utf-8")
        if self.prefixed:
            prefix = self.raw_prefixes[worker]
            data = prefix + data.replace(b"\n", b"\n" + prefix)
        write_bytes(data, b"\n", stderr=self.stderr)

    def _json(self, worker: str, data: bytes, received: float | None) -> None:
        stamp = utc_stamp(received) if received is not None else None
        label, instance = self.labels.get(worker, (worker, 0))
        rows = []
        for line in data.decode("utf-8", "replace").split("\n"):
            row: dict[str, Any] = {**self.context, "worker": label, "instance": instance,
                                   "name": worker, "line": line, "received": stamp}
            if self.times:
                row["time"] = _own_stamp(line)
            rows.append(json.dumps(row) + "\n")
        sys.stdout.write("".join(rows))
        sys.stdout.flush()

    def _styled(self, worker: str, data: bytes) -> None:
        from rich.text import Text

        prefix = self.prefixes[worker]
        style = colour_for(worker)
        text = Text()
        for line in data.decode("utf-8", "replace").split("\n"):
            text.append(prefix, style=style)
            text.append(visible(line))  # never markup: plain text into a Text object
            text.append("\n")
        console(stderr=self.stderr).print(text, end="")


def _own_stamp(line: str) -> str | None:
    from pshctl.logs.times import line_time

    moment = line_time(line)
    return None if moment is None else utc_stamp(moment)


def _stamped(data: bytes, received: float | None) -> bytes:
    """Each line after its own time, else the time it was received (now if unknown)."""
    import time

    fallback = utc_stamp(received if received is not None else time.time())
    return b"\n".join((_own_stamp(line.decode("utf-8", "replace")) or fallback).encode()
                       + b" " + line for line in data.split(b"\n"))


def utc_stamp(seconds: float) -> str:
    """``2026-11-29T03:50:27.123Z``: ISO 8601 in UTC, to the millisecond."""
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Steps:
    """What a long command is doing now, as one spinner line on stderr that goes away at
    the end (``sandbox up``/``down``); only for a person at a terminal (stdout and stderr
    on one, no ``--json``), otherwise nothing. Call it with each step's text."""

    def __init__(self, *, as_json: bool = False) -> None:
        self.enabled = not as_json and is_terminal() and is_terminal(stderr=True)
        self._status: Any = None

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, step: str) -> None:
        if not self.enabled:
            return
        from rich.text import Text

        if self._status is None:
            self._status = console(stderr=True).status(Text(step))
            self._status.start()
        else:
            self._status.update(Text(step))
