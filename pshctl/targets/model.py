"""What every target source builds: :class:`Target`, and the SSH URL rules they share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pshctl.errors import ConfigError
from pshctl.ssh.names import shown

# Config keys a source copies onto a target as they are.
TARGET_KEYS = ("user", "port", "identity_file", "known_hosts", "service_dir", "service_name",
               "log_dir", "supervisor", "log_source")


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
    service_name: str = "app"  # the runit service, or the systemd user unit (app.service)
    log_dir: str = "/var/log"
    supervisor: str = "auto"  # auto (detected per container), runit or systemd
    log_source: str = "auto"  # the app log from: auto, file (log_dir) or journal (systemd)
    instance: int | None = None
    environment: str | None = None  # the environment it was resolved for

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


def apply_keys(target: Target, keys: dict[str, Any]) -> Target:
    """Set a target's optional fields from config keys."""
    return replace(target, **{key: keys[key] for key in TARGET_KEYS if key in keys})


def target_from_url(
    name: str, worker: str | None, url: str, keys: dict[str, Any], environment: str
) -> Target:
    """A target reached at ``url``; other config keys (not user or host) applied on top."""
    user, host, port = parse_ssh_url(url)
    target = Target(name=name, worker=worker, host=host, user=user, port=port,
                    environment=environment)
    return apply_keys(target, {k: v for k, v in keys.items() if k not in ("user", "host")})


def worker_ssh_url(app_url: str, worker: str) -> str:
    """A worker's SSH URL: the app's, with ``--<worker>`` appended to the user part."""
    prefix = ""
    if app_url.startswith("ssh://"):
        prefix, app_url = "ssh://", app_url[len("ssh://"):]
    user, at, host = app_url.rpartition("@")
    if not at or not user or not host:
        raise ConfigError(f"SSH URL {shown(app_url)} has no user part (user@host)")
    return f"{prefix}{user}--{worker}@{host}"


def parse_ssh_url(url: str) -> tuple[str | None, str, int | None]:
    """``[ssh://]user@host[:port]`` -> (user, host, port), each checked as OpenSSH checks
    names (:mod:`pshctl.ssh.names`): a URL from a file, the platform's CLI or its API
    never brings shell syntax or an option into ``~/.ssh/config`` matching or output."""
    from pshctl.ssh.names import parse_ssh_url as parse

    return parse(url)
