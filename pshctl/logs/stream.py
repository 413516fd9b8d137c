"""Remote log readers: one thread per target, a merged stream, reconnects with backoff.

Each target gets a reader thread that runs the tail or follow script of
:mod:`pshctl.logs.protocol` over SSH, turns its bytes into whole lines and hands them, in
batches, to one queue; the consumer (one thread) writes them out, so lines from
different workers never mix mid-line. A follow survives a dropped connection: it
reconnects with backoff and resumes from the offset after the last whole line it got.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pshctl.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    HostKeyError,
    OperationFailed,
    OperationTimeout,
    UsageError,
)
from pshctl.logs import journal
from pshctl.logs.history import since_start, times_of
from pshctl.logs.protocol import (
    BAD_PATTERN_STATUS,
    MISSING_STATUS,
    FollowDecoder,
    LineAssembler,
    LogEvent,
    LogLines,
    LogNotice,
    LogRequest,
    NoticeKind,
    Window,
    decode,
    follow_command,
    log_path,
    parse_window,
    tail_command,
    window_command,
)
from pshctl.outcome import Outcome, Results
from pshctl.ssh.pump import Ending, pump

if TYPE_CHECKING:
    import paramiko

    from pshctl.ssh import Session, SshOptions
    from pshctl.targets import Target

# FOLLOW_SCRIPT sends a heartbeat every 2 s while the log is idle.
SILENCE_LIMIT = 12.0  # no byte (not even a heartbeat) for this long: the link is dead
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # seconds before reconnect attempts 1, 2, ...
_POLL = 0.25  # how often blocked threads look at the stop flag
STATUS_WAIT = 2.0  # after the output ended, how long its exit status may take
STDERR_KEEP = 8192  # the end of a command's stderr, kept to explain a failure
FIRST_WINDOW = 256 * 1024  # --since reads this much of the log's end first, then 4x more


class LogMissing(OperationFailed):
    """The log file does not exist (a plain read; a follow waits for it)."""


# --- readers ------------------------------------------------------------------------

Emit = Callable[[LogEvent], bool]  # False: the consumer is gone, stop
Connect = Callable[["Target", "SshOptions | None"], "Session"]


class _Stopped(Exception):
    pass


def _keeper(kept: bytearray) -> Callable[[list[bytes]], None]:
    """A sink that keeps the last STDERR_KEEP bytes of a command's stderr, for errors."""

    def keep(chunks: list[bytes]) -> None:
        kept.extend(b"".join(chunks))
        del kept[:-STDERR_KEEP]

    return keep


@dataclass
class _Reader:
    """Reads one target's log and hands events to ``emit``."""

    target: Target
    request: LogRequest
    options: SshOptions | None
    connect: Connect
    emit: Emit
    stop: threading.Event
    channels: list[paramiko.Channel] = field(default_factory=list)
    source: str | None = None  # file or journal, once known (see logs.journal)

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def path(self) -> str:
        return log_path(self.target, self.request.log_type)

    @property
    def unit(self) -> str:
        return journal.unit_of(self.target.service)

    def _source(self, session: Session) -> str:
        """``file`` or ``journal``: the target's ``log_source``, ``auto`` decided on the
        remote once (one short exec on the open connection) and kept for reconnects."""
        if self.source is None:
            wanted = self.target.log_source
            if self.request.log_type != journal.JOURNAL_TYPE:
                if wanted == "journal":
                    raise UsageError(
                        f"the journal has only the service's own output, not "
                        f"{self.request.log_type} logs",
                        hint=f"read {self.path} with log_source: auto or file")
                wanted = "file"
            if wanted == "auto":
                found = session.run(journal.source_command(
                    self.path, self.target.service, self.target.supervisor), timeout=30)
                wanted = "journal" if found.stdout.strip() == "journal" else "file"
            self.source = wanted
        return self.source

    def _put(self, event: LogEvent) -> None:
        if not self.emit(event):
            raise _Stopped()

    def _fail(self, kind: NoticeKind, message: str, error: BaseException) -> None:
        self._put(LogNotice(self.name, kind, message, error))

    def run(self) -> None:
        try:
            if self.request.follow:
                self._follow()
            else:
                self._tail()
        except _Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - reported per worker; the others go on
            if not self.stop.is_set():
                self._fail_quietly(exc)

    def _fail_quietly(self, exc: Exception) -> None:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        self.emit(LogNotice(self.name, "failed", str(message), exc))

    def _run(self, session: Session, command: str, on_data: Callable[[list[bytes]], None],
             silence: float | None = None) -> tuple[Ending, int | None, str]:
        """Run ``command`` with its output pumped to ``on_data``: how the pump ended, the
        exit status (None when none came: the connection went away) and its stderr."""
        channel = session.open_exec(command)
        self.channels.append(channel)
        channel.shutdown_write()
        errors = bytearray()
        ending = pump(channel, on_data, _keeper(errors), stop=self.stop, silence=silence)
        if self.stop.is_set():  # closing the stream closes its channels
            ending = "stopped"
        status: int | None = None
        if ending == "closed":
            try:
                status = session.exit_status(channel, time.monotonic() + STATUS_WAIT)
            except (ConnectionFailed, OperationTimeout):
                pass
        return ending, None if status == -1 else status, decode(bytes(errors)).strip()

    # plain read

    def _tail(self) -> None:
        try:
            session = self.connect(self.target, self.options)
        except ConnectionFailed as exc:
            self._fail("failed", exc.message, exc)
            return
        with session:
            journal_read = self._source(session) == "journal"  # it filters by time itself
            if self.request.since is not None and not journal_read:
                self._since(session)
                return
            lines = LineAssembler()

            def on_data(chunks: list[bytes]) -> None:
                block = lines.feed_all(chunks)
                if block is not None:
                    self._put(LogLines(self.name, block))

            if journal_read:
                command = journal.tail_command(self.target.service, self.request.lines,
                                               since=self.request.since,
                                               grep=self.request.grep)
            else:
                command = tail_command(self.path, self.request.lines, self.request.grep)
            ending, status, errors = self._run(session, command, on_data)
            if ending == "stopped":
                return
            rest = lines.flush()
            if rest is not None:
                self._put(LogLines(self.name, rest))
            self._tail_status(status, errors)

    def _what(self) -> str:
        return f"the journal of {self.unit}" if self.source == "journal" else self.path

    def _tail_status(self, status: int | None, errors: str) -> None:
        if status == 0:
            return
        if self.source == "journal" and status == journal.NOT_INSTALLED:
            missing = OperationFailed(f"cannot read {self._what()}: journalctl is not "
                                      "installed on the remote",
                                      hint="set log_source: file for this target")
            self._fail("failed", missing.message, missing)
        elif status == MISSING_STATUS:
            missing = LogMissing(f"no log file {self.path}")
            self._fail("missing", missing.message, missing)
        elif status == BAD_PATTERN_STATUS:
            bad = self._bad_pattern(errors)
            self._fail("failed", bad.message, bad)
        elif status is None:
            lost = ConnectionFailed(f"lost the connection while reading {self._what()}")
            self._fail("failed", lost.message, lost)
        else:
            failed = OperationFailed(
                f"cannot read {self._what()}: {errors or f'tail exited with status {status}'}")
            self._fail("failed", failed.message, failed)

    def _bad_pattern(self, errors: str) -> UsageError:
        if self.source == "journal":
            return UsageError(f"journalctl refused the pattern {self.request.grep!r}: "
                              f"{errors}", hint="on the journal --grep is journalctl's own "
                              "(a PCRE2 regular expression, matched case-sensitively)")
        return UsageError(f"grep refused the pattern {self.request.grep!r}: {errors}",
                          hint="--grep takes an extended regular expression (grep -E)")

    # --since

    def _since(self, session: Session, *, follow: bool = False) -> Window | None:
        """The lines written since the time asked (limited to ``lines``, the last ones),
        read in ever larger windows from the end until a line older than that appears.

        Returns the last window read (a follow goes on from its end), None when the log
        could not be read (said as a failure, except a missing log when following: the
        follow waits for it).
        """
        since = self.request.since
        assert since is not None
        size = FIRST_WINDOW
        while True:
            window = self._window(session, size, quiet_missing=follow)
            if window is None:
                return None
            lines = window.lines
            start, older = since_start(times_of([decode(line) for line in lines]), since)
            if window.complete or older:
                break
            size *= 4
        if start is None:
            self._put(LogNotice(self.name, "untimed",
                                f"no line of {self.path} says when it was written: "
                                "--since cannot choose among them; the last lines follow"))
            start = 0 if self.request.lines is not None else len(lines)
        kept = lines[start:]
        if self.request.lines is not None:
            kept = kept[len(kept) - self.request.lines:] if self.request.lines else []
        if kept:
            self._put(LogLines(self.name, b"\n".join(kept)))
        return window

    def _window(self, session: Session, size: int, *, quiet_missing: bool) -> Window | None:
        out = bytearray()

        def on_data(chunks: list[bytes]) -> None:
            out.extend(b"".join(chunks))

        command = window_command(self.path, size, self.request.grep)
        ending, status, errors = self._run(session, command, on_data)
        if ending == "stopped":
            raise _Stopped()
        window = parse_window(bytes(out), size) if status == 0 else None
        if window is None and not (quiet_missing and status == MISSING_STATUS):
            self._tail_status(status if status != 0 else 1,
                              errors or "unexpected answer to the window read")
        return window

    # follow

    def _follow(self) -> None:
        decoder = FollowDecoder(self.name, self.path, self.request.lines)
        entries = journal.JournalDecoder(self.name, self.unit, self.request.since)
        failures = 0
        lost = False
        prelude = self.request.since is not None  # the history since then comes first
        while not self.stop.is_set():
            if failures:
                self._sleep(BACKOFF[min(failures, len(BACKOFF)) - 1] * random.uniform(1, 1.2))
            try:
                session = self.connect(self.target, self.options)
            except (HostKeyError, AuthenticationFailed) as exc:
                self._fail("failed", exc.message, exc)
                return
            except ConnectionFailed as exc:
                if not (decoder.started or entries.seen):
                    self._fail("failed", exc.message, exc)
                    return
                failures += 1
                self._put(LogNotice(self.name, "reconnecting",
                                    f"reconnect failed ({exc.message}); trying again"))
                continue
            with session:
                try:
                    if self._source(session) == "journal":
                        how, detail = self._follow_journal(session, entries, lost)
                    else:
                        if prelude:
                            prelude = False
                            window = self._since(session, follow=True)
                            if window is not None:
                                decoder.resume_from(window.file_id, window.end)
                        how, detail = self._follow_once(session, decoder, lost)
                except ConnectionFailed as exc:
                    how, detail = "lost", exc.message
            if how == "stopped":
                return
            if how == "ended":
                self._fail("failed", detail, OperationFailed(detail))
                return
            lost, failures = True, 1
            decoder.reset_link()
            entries.reset_link()
            self._put(LogNotice(self.name, "disconnected",
                                f"connection lost ({detail}); reconnecting"))

    def _resuming(self, feed: Callable[[list[bytes]], Iterator[LogEvent] | list[LogEvent]],
                  lost: bool) -> Callable[[list[bytes]], None]:
        """What a follow does with each chunk: its events go out, after a "reconnected"
        notice on the first chunk of a connection that replaced a lost one."""
        said = not lost

        def on_data(data: list[bytes]) -> None:
            nonlocal said
            if not said:
                said = True
                self._put(LogNotice(self.name, "reconnected", "reconnected; resuming"))
            for event in feed(data):
                self._put(event)

        return on_data

    def _follow_once(self, session: Session, decoder: FollowDecoder,
                     lost: bool) -> tuple[str, str]:
        """One connection's worth of following: how it ended, and why."""
        on_data = self._resuming(decoder.feed_all, lost)
        command = follow_command(self.path, decoder.lines, decoder.resume_point,
                                 self.request.grep)
        ending, status, errors = self._run(session, command, on_data, SILENCE_LIMIT)
        if ending == "silent":
            return "lost", f"nothing received for {SILENCE_LIMIT:g}s"
        if ending == "closed" and status == BAD_PATTERN_STATUS:
            return "ended", f"grep refused the pattern {self.request.grep!r}: {errors}"
        if ending == "closed" and status is not None:  # the follow loop itself ended
            return "ended", f"following {self.path} stopped (status {status}) {errors}".strip()
        return ending, "closed"

    def _follow_journal(self, session: Session, entries: journal.JournalDecoder,
                        lost: bool) -> tuple[str, str]:
        """As :meth:`_follow_once`, for the journal (see :mod:`pshctl.logs.journal`)."""
        on_data = self._resuming(entries.feed_all, lost)
        errors = bytearray()

        def on_stderr(data: list[bytes]) -> None:
            entries.mark_seen()  # the heartbeat: the follow runs
            text = b"".join(data).replace(b"H\n", b"")
            if text:
                errors.extend(text)
                del errors[:-STDERR_KEEP]

        command = journal.follow_command(self.target.service, self.request.lines,
                                         entries.cursor, fresh=entries.fresh,
                                         since=self.request.since, grep=self.request.grep)
        channel = session.open_exec(command)
        self.channels.append(channel)
        channel.shutdown_write()
        ending = pump(channel, on_data, on_stderr, stop=self.stop, silence=SILENCE_LIMIT)
        if self.stop.is_set():
            return "stopped", "closed"
        if ending == "silent":
            return "lost", f"nothing received for {SILENCE_LIMIT:g}s"
        status: int | None = None
        if ending == "closed":
            try:
                status = session.exit_status(channel, time.monotonic() + STATUS_WAIT)
            except (ConnectionFailed, OperationTimeout):
                status = None
        if status is not None and status != -1:
            why = decode(bytes(errors)).strip()
            if status == journal.NOT_INSTALLED:
                why = "journalctl is not installed on the remote"
            elif status == BAD_PATTERN_STATUS:
                return "ended", self._bad_pattern(why).message
            return "ended", f"following {self._what()} stopped (status {status}) {why}".strip()
        return ending, "closed"

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise _Stopped()


# --- the stream -------------------------------------------------------------------------


class _Done:
    pass


_DONE = _Done()


class LogStream:
    """The merged log events of several targets; iterate in one thread, close when done.

    ::

        with LogStream(targets, LogRequest(lines=20, follow=True)) as stream:
            for event in stream:
                ...

    Iterating with ``events(idle=0.5)`` yields None after each idle half second, so that
    the consumer can look around (e.g. whether its reader went away).
    """

    def __init__(
        self,
        targets: Sequence[Target],
        request: LogRequest,
        *,
        options: SshOptions | None = None,
        connect: Connect | None = None,
        queue_size: int = 32,  # batches of up to 1 MiB each (pshctl.ssh.pump.BATCH_SIZE)
    ) -> None:
        self.request = request
        self.failures: dict[str, LogNotice] = {}
        self._queue: queue.Queue[LogEvent | _Done] = queue.Queue(queue_size)
        self._stop = threading.Event()
        self._readers = [
            _Reader(t, request, options, connect or _default_connect, self._offer, self._stop)
            for t in targets
        ]
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> LogStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[LogEvent]:
        for event in self.events():
            if event is not None:
                yield event

    def start(self) -> None:
        for reader in self._readers:
            thread = threading.Thread(
                target=self._run, args=(reader,), name=f"logs-{reader.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _run(self, reader: _Reader) -> None:
        try:
            reader.run()
        finally:
            self._offer(_DONE)

    def _offer(self, event: LogEvent | _Done) -> bool:
        """Queue an event, waiting while the consumer is behind; False once closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(event, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def events(self, idle: float | None = None) -> Iterator[LogEvent | None]:
        """Events in arrival order until every reader is done; None after ``idle`` s quiet."""
        running = len(self._readers)
        while running:
            try:
                event = self._queue.get(timeout=idle if idle is not None else _POLL)
            except queue.Empty:
                if idle is not None:
                    yield None
                continue
            if isinstance(event, _Done):
                running -= 1
                continue
            if isinstance(event, LogNotice) and event.is_failure:
                self.failures[event.worker] = event
            yield event

    def results(self) -> Results[None]:
        """An outcome per target: the failure that ended its log, if one did."""
        return Results(tuple(Outcome(r.name, None, _error(self.failures.get(r.name)))
                             for r in self._readers))

    def close(self) -> None:
        """Stop the readers and hang up their channels (their threads are daemons)."""
        self._stop.set()
        for reader in self._readers:
            for channel in reader.channels:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass


def _error(failure: LogNotice | None) -> BaseException | None:
    if failure is None:
        return None
    return failure.error or OperationFailed(failure.message)


def _default_connect(target: Target, options: SshOptions | None) -> Session:
    from pshctl.ssh import connect

    return connect(target, options)


def read_logs(
    targets: Sequence[Target],
    request: LogRequest | None = None,
    *,
    options: SshOptions | None = None,
) -> Results[list[str]]:
    """The last lines of each target's log (the runbook API): its lines, or why none."""
    request = request or LogRequest()
    if request.follow:
        raise UsageError("read_logs() reads; iterate a LogStream to follow")
    found: dict[str, list[str]] = {t.name: [] for t in targets}
    with LogStream(targets, request, options=options) as stream:
        for event in stream:
            if isinstance(event, LogLines):
                found[event.worker].extend(event.lines)
    return Results(tuple(Outcome(o.name, found[o.name] if o.ok else None, o.error)
                         for o in stream.results()))
