"""Where SSH log records go: nowhere by default, a short debug trail with ``-v``.

paramiko logs from its transport threads (including tracebacks of a dropped
connection) and, with no handler configured, Python's last-resort handler would print
those WARNING/ERROR records on the user's terminal. The ``paramiko`` logger is
therefore always given a handler of ours and never propagates.
"""

from __future__ import annotations

import logging
import sys
import threading

LOGGER_NAME = "pshctl.ssh"
PLATFORM_LOGGER = "pshctl.platform"  # the API's requests and warnings share the trail
log = logging.getLogger(LOGGER_NAME)

_lock = threading.Lock()
_configured_level: int | None = None


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (tests redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            if record.exc_info or "Traceback" in message:
                message = message.splitlines()[0]  # concise: no traceback bodies
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a log line must never break a connection
            self.handleError(record)


def _levels(verbose: int) -> tuple[int, int]:
    """(pshctl.ssh level, paramiko level) for a ``-v`` count."""
    if verbose <= 0:
        return logging.WARNING, logging.CRITICAL + 1
    if verbose == 1:
        return logging.DEBUG, logging.INFO
    return logging.DEBUG, logging.DEBUG


class _Prefixed(logging.Formatter):
    """``warning:`` for warnings, ``debug:`` (and the source) for the trail."""

    def __init__(self, source: str) -> None:
        super().__init__("%(message)s")
        self.source = source

    def format(self, record: logging.LogRecord) -> str:
        label = "warning: " if record.levelno >= logging.WARNING else "debug: "
        return label + self.source + super().format(record)


def configure(verbose: int) -> None:
    """Route paramiko's and our records for this process; idempotent per level.

    Without ``-v`` only our own warnings (e.g. "no keyring backend") reach stderr;
    paramiko is silenced entirely, since its records come from background threads.
    """
    global _configured_level
    with _lock:
        if _configured_level == verbose:
            return
        _configured_level = verbose
        ours, theirs = _levels(verbose)
        for name, level, source in ((LOGGER_NAME, ours, ""), (PLATFORM_LOGGER, ours, ""),
                                    ("paramiko", theirs, "paramiko: ")):
            logger = logging.getLogger(name)
            for old in [h for h in logger.handlers if getattr(h, "_pshctl", False)]:
                logger.removeHandler(old)
            silent = name == "paramiko" and verbose <= 0
            handler: logging.Handler = logging.NullHandler() if silent else _StderrHandler()
            handler._pshctl = True  # type: ignore[attr-defined]
            handler.setFormatter(_Prefixed(source))
            handler.setLevel(level)
            logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = False
