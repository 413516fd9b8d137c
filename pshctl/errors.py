"""Every error a user can meet, and the exit code it maps to.

Domain modules raise these; exactly one place (``pshctl.cli.main``) turns them into
a message on stderr and an exit status. Anything else that escapes is a bug and keeps
its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    """Stable exit statuses, documented in docs/exit-codes.md."""

    OK = 0
    FAILED = 1  # an operation failed on at least one worker
    USAGE = 2  # bad command line
    CONFIG = 3  # configuration or name error
    CONNECTION = 4  # connection, authentication or host-key error
    TIMEOUT = 5  # a wait ran out of time
    LOCKED = 6  # another pshctl run holds a worker's lease (see --wait-lock)
    INTERRUPTED = 130  # Ctrl-C / SIGTERM
    SSH_CONNECTION = 255  # `pshctl ssh -- CMD` could not connect, as `ssh` does


class PshctlError(Exception):
    """Base of user-facing errors: a message, an optional hint, an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PshctlError):
    exit_code = ExitCode.USAGE


class ConfigError(PshctlError):
    """A broken definition or config file; ``file:line:`` prefixes the message when known."""

    exit_code = ExitCode.CONFIG

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {message}" if file else message, hint=hint)


class NameNotFound(ConfigError):
    """A worker, environment or app name that does not exist: list the valid ones."""

    def __init__(
        self, kind: str, name: str, valid: Iterable[str], *, hint: str | None = None
    ) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        message = f"unknown {kind} '{name}'"
        import difflib  # only when a name is wrong

        close = difflib.get_close_matches(name, self.valid, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean '{close[0]}'?"
        listing = ", ".join(self.valid) if self.valid else "(none defined)"
        super().__init__(message, hint=hint or f"valid {kind} names: {listing}")


class InstanceNotFound(NameNotFound):
    """An instance number a worker does not have (``-I 5``, ``queue.5``)."""

    def __init__(self, container: str, instance: str, valid: Iterable[str]) -> None:
        self.kind = "instance"
        self.name = instance
        self.container = container
        self.valid = list(valid)
        listing = ", ".join(self.valid)
        ConfigError.__init__(
            self, f"instance {instance} of {container} does not exist; available "
            f"instances: {listing}",
            hint=f"name one with -I N or {container}.N (N: {listing})")


class ConnectionFailed(PshctlError):
    """Could not reach or log in to an SSH destination."""

    exit_code = ExitCode.CONNECTION


class HostKeyError(ConnectionFailed):
    """Unknown or changed host key: refused unless the user opted in."""


class AuthenticationFailed(ConnectionFailed):
    pass


class OperationTimeout(PshctlError):
    exit_code = ExitCode.TIMEOUT


class Interrupted(PshctlError):
    """Ctrl-C, SIGTERM or SIGHUP stopped this worker's part of the work."""

    exit_code = ExitCode.INTERRUPTED


class OperationFailed(PshctlError):
    """An operation failed on at least one worker (the others may have succeeded)."""

    exit_code = ExitCode.FAILED


class ApiError(ConnectionFailed):
    """The platform's API could not be reached, refused the credentials, or answered
    something unusable. Exit status 4, as for SSH: the hint says what to do."""
