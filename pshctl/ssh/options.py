"""Plain data shared by the SSH layer and its callers (no paramiko here)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pshctl.settings import Settings

SETTINGS_KEYS = (
    "connect_timeout", "banner_timeout", "auth_timeout", "keepalive", "keepalive_count"
)


@dataclass(frozen=True)
class SshOptions:
    """How to connect: host-key trust, timeouts (seconds), prompting, debug trail.

    ``interactive=None`` means "prompt for a passphrase only when stdin is a terminal".
    ``keepalive`` is the interval of SSH keepalive requests (0 turns them off); after
    ``keepalive_count`` of them go unanswered the connection counts as dead
    (:mod:`pshctl.ssh.keepalive`).
    """

    accept_new: bool = False
    connect_timeout: float = 10
    banner_timeout: float = 15
    auth_timeout: float = 15
    keepalive: int = 15
    keepalive_count: int = 3
    interactive: bool | None = None
    verbose: int = 0

    def __post_init__(self) -> None:
        # The config files are checked as they are read; options built in code (the
        # Python API) meet the same bounds here: a timeout of inf or nan is a
        # configuration error, never an OverflowError in the middle of a connection.
        from pshctl.errors import ConfigError
        from pshctl.settings import SSH_NUMBERS, number_problem

        for key, bounds in SSH_NUMBERS.items():
            problem = number_problem(getattr(self, key), *bounds)
            if problem is not None:
                raise ConfigError(f"SSH option {key} {problem}")

    def with_settings(self, settings: Settings | None) -> SshOptions:
        """These options with the timeouts of the config files' ``ssh:`` section."""
        if settings is None:
            return self
        return replace(self, **{key: getattr(settings.ssh, key) for key in SETTINGS_KEYS})

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class CommandResult:
    """What one remote command did. ``exit_status`` is -1 when the server sent none."""

    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0
