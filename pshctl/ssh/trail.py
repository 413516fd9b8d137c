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


def configure(verbose: int) -> None:
    """Route paramiko's and our records for this process; idempotent per level."""
    global _configured_level
    with _lock:
        if _configured_level == verbose:
            return
        _configured_level = verbose
        ours, theirs = _levels(verbose)
        for name, level, prefix in (
            (LOGGER_NAME, ours, "debug: "),
            ("paramiko", theirs, "debug: paramiko: "),
        ):
            logger = logging.getLogger(name)
            for handler in [h for h in logger.handlers if getattr(h, "_pshctl", False)]:
                logger.removeHandler(handler)
            handler = _StderrHandler() if verbose > 0 else logging.NullHandler()
            handler._pshctl = True  # type: ignore[attr-defined]
            handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
            if verbose <= 0 and name == LOGGER_NAME:
                # Warnings of ours (e.g. "no keyring backend") still reach stderr once.
                handler = _StderrHandler()
                handler._pshctl = True  # type: ignore[attr-defined]
                handler.setFormatter(logging.Formatter("warning: %(message)s"))
            handler.setLevel(level)
            logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = False
