"""What every target source builds: :class:`Target`, and the SSH URL rules they share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry
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
    # One instance of a horizontally scaled container: its number (0 when not scaled),
    # and how many its container has; `name` is then `<worker>.<instance>`.
    instance: int | str = 0
    instances: int = 1
    environment: str | None = None  # the environment it was resolved for
    origin: str = "config"  # the source that resolved it: config, sandbox, api, cli

    @property
    def destination(self) -> str:
        """``user@host`` as OpenSSH would take it (port separate)."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def container(self) -> str:
        """The worker's name (the app's for the app container), without the instance."""
        if self.worker is not None:
            return self.worker
        suffix = f".{self.instance}"
        return self.name[: -len(suffix)] if self.instances > 1 and \
            self.name.endswith(suffix) else self.name

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
    name: str, worker: str | None, url: str, keys: dict[str, Any], environment: str,
    origin: str = "config",
) -> Target:
    """A target reached at ``url``; other config keys (not user or host) applied on top."""
    user, host, port = parse_ssh_url(url)
    target = Target(name=name, worker=worker, host=host, user=user, port=port,
                    environment=environment, origin=origin)
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


@dataclass(frozen=True)
class Request:
    """What :func:`pshctl.targets.resolve_targets` hands each source, in order.

    A source returns the targets, or None when it does not apply to this environment
    (the next one is tried); it raises when it applies but cannot answer.
    """

    context: Context
    entry: EnvironmentEntry | None  # the configured entry (or the sandbox's registration)
    workers: tuple[str, ...]  # the app's workers to reach, in the order asked
    with_app: bool  # the app (web) container too, first
    all_workers: bool = False  # every worker: one the platform does not run is left out

    def keys_for(self, worker: str | None) -> dict[str, Any]:
        """Configured keys of a container: the environment's, then the worker's (the
        environment's ``instances`` are the app container's: not inherited)."""
        from pshctl.settings import INSTANCES

        keys = dict(self.entry.keys) if self.entry is not None else {}
        if worker is not None and self.entry is not None:
            keys.pop(INSTANCES, None)
            keys.update(self.entry.workers.get(worker, {}))
        return keys

    def overrides(self, worker: str) -> dict[str, Any]:
        """What is configured for this very worker (its ``instances`` included)."""
        return dict(self.entry.workers.get(worker, {})) if self.entry is not None else {}

    def own_url(self, worker: str) -> str | None:
        """A ``ssh_url`` configured for this very worker (for each of its instances)."""
        from pshctl.targets.instances import instance_keys

        urls = [own.get("ssh_url") for own in instance_keys(self.overrides(worker))]
        return str(urls[0]) if all(urls) else None


def targets_from_app_url(request: Request, app_url: str, origin: str) -> list[Target]:
    """The app container at ``app_url``, each worker at its own configured ``ssh_url``
    or at the app's with ``--<worker>`` appended (the Platform.sh rule): one target per
    instance a config file declares (``instances:``)."""
    from pshctl.targets.instances import check_distinct, instance_keys, numbered

    env = request.context.environment
    app = request.context.app.name
    keys = request.keys_for(None)
    targets: list[Target] = []
    if request.with_app:
        made = [target_from_url(app, None, own.get("ssh_url") or app_url, own, env, origin)
                for own in instance_keys(keys)]
        targets += numbered(made, app)
        check_distinct(targets, f"environment '{env}', the app container")
    for worker in request.workers:
        targets += worker_targets(request, worker, app_url, origin)
    return targets


def worker_targets(request: Request, worker: str, app_url: str, origin: str) -> list[Target]:
    """One worker's targets, one per configured instance: each at its own ``ssh_url``,
    else at the app's URL with ``--<worker>`` appended."""
    from pshctl.settings import INSTANCES
    from pshctl.targets.instances import check_distinct, instance_keys, numbered

    env = request.context.environment
    inherited = {k: v for k, v in request.keys_for(None).items() if k != INSTANCES}
    made = []
    for own in instance_keys(request.overrides(worker)):
        url = own.get("ssh_url")
        made.append(target_from_url(worker, worker, url or worker_ssh_url(app_url, worker),
                                    {**inherited, **own}, env, "config" if url else origin))
    targets = numbered(made, worker)
    check_distinct(targets, f"environment '{env}', worker '{worker}'")
    return targets


def needs_app_url(request: Request) -> bool:
    """Whether some container asked for is reached through the app container's URL."""
    return request.with_app or any(request.own_url(w) is None for w in request.workers)
