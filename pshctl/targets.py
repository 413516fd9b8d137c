"""Where a worker is reached: (environment, app, worker[, instance]) -> SSH destination."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One container to act on, and how to reach and drive it."""

    name: str  # the worker name, or the app name for the app (web) container
    worker: str | None  # None = the app container
    host: str
    user: str | None = None
    port: int | None = None  # None = from ~/.ssh/config, else 22
    identity_file: str | None = None
    known_hosts: str | None = None  # an extra known_hosts file (e.g. the sandbox's)
    service_dir: str | None = None  # runit service directory; None = `sv`'s default ($SVDIR)
    service_name: str = "app"
    log_dir: str = "/var/log"
    supervisor: str = "runit"
    instance: int | None = None

    @property
    def destination(self) -> str:
        """``user@host`` as OpenSSH would take it (port separate)."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def service(self) -> str:
        """The argument `sv` takes: a bare name, or the service directory's path."""
        if self.service_dir:
            return f"{self.service_dir.rstrip('/')}/{self.service_name}"
        return self.service_name
