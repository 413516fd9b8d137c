"""Where a worker is reached: (environment, app, worker[, instance]) -> SSH destination.

Two kinds of environment:

- explicit ones, from a config file or the sandbox's registration: host, port, user and
  the runit service of the app container, each worker overriding what it needs;
- Platform.sh ones: the app container's SSH URL is configured (``ssh_url``), or composed
  from the configured ``machine_name``, project id and region, or asked of the
  ``platform``/``upsun`` CLI. A worker is reached as the app's SSH user with
  ``--<worker>`` appended (``abc-main-xyz--app--queue@ssh.eu-3.platform.sh``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError, NameNotFound

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry

SANDBOX = "sandbox"
PLATFORM_CLIS = ("platform", "upsun")  # tried in this order
PLATFORM_CLI_TIMEOUT = 30.0
DEFAULT_REGION_SUFFIX = "platform.sh"


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
    log_source: str = "auto"  # where `logs` reads the service's output: auto, file, journal
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


def resolve_targets(
    context: Context,
    workers: Sequence[str] = (),
    *,
    all_workers: bool = False,
    app_container: bool = False,
) -> list[Target]:
    """The targets to act on, app container first, then workers in the order asked.

    No names and not ``all_workers`` means the app container alone. Unknown worker names
    raise :class:`NameNotFound` listing the app's workers.
    """
    names = _worker_names(context, workers, all_workers)
    with_app = app_container or not (names or all_workers)
    entry = environment_entry(context)
    if entry is not None and entry.explicit:
        return _explicit_targets(context, entry, names, with_app)
    return _platform_targets(context, entry, names, with_app)


def _worker_names(context: Context, workers: Sequence[str], all_workers: bool) -> list[str]:
    defined = context.app.workers
    for name in workers:
        if name not in defined:
            raise NameNotFound("worker", name, defined)
    chosen = list(defined) if all_workers else list(workers)
    return list(dict.fromkeys(chosen))  # without repeats, in order


def environment_entry(context: Context) -> EnvironmentEntry | None:
    """The configured entry of the context's environment, or the sandbox's registration."""
    entry = context.settings.environment(context.environment)
    if entry is not None or context.environment != SANDBOX:
        return entry
    from pshctl.sandbox.registry import read_registration, registration_path
    from pshctl.settings import entry_from_registration

    data = read_registration(context.root, context.app.name)
    if data is None:
        raise ConfigError(
            f"no sandbox is set up for app '{context.app.name}'",
            hint="start one with `pshctl sandbox up`",
        )
    path = str(registration_path(context.root, context.app.name))
    return entry_from_registration(SANDBOX, data, file=path)


# --- explicit (self-hosted, sandbox) environments ------------------------------------


def _explicit_targets(
    context: Context, entry: EnvironmentEntry, workers: list[str], with_app: bool
) -> list[Target]:
    targets = []
    if with_app:
        targets.append(_explicit(context.app.name, None, entry.keys, entry, context))
    for worker in workers:
        keys = entry.for_worker(worker)
        if keys is None:
            where = f" ({entry.origin})" if entry.origin else ""
            configured = ", ".join(entry.workers) or "none"
            raise ConfigError(
                f"environment '{entry.name}'{where} has no entry for worker '{worker}'",
                hint=f"add it under environments.{entry.name}.workers "
                f"(configured workers: {configured})",
            )
        targets.append(_explicit(worker, worker, keys, entry, context))
    return targets


def _explicit(
    name: str, worker: str | None, keys: dict[str, Any], entry: EnvironmentEntry, context: Context
) -> Target:
    if "host" not in keys:
        if "ssh_url" in keys:
            return _from_url(name, worker, keys["ssh_url"], keys, context)
        what = f"worker '{worker}'" if worker else "the app container"
        raise ConfigError(f"environment '{entry.name}': no host for {what}",
                          hint=f"defined at {entry.origin}" if entry.origin else None)
    return _apply(Target(name=name, worker=worker, host=keys["host"],
                         environment=context.environment), keys)


def _apply(target: Target, keys: dict[str, Any]) -> Target:
    """Set a target's optional fields from config keys."""
    changes = {
        key: keys[key]
        for key in ("user", "port", "identity_file", "known_hosts", "service_dir",
                    "service_name", "log_dir", "supervisor", "log_source")
        if key in keys
    }
    return replace(target, **changes)


# --- Platform.sh environments --------------------------------------------------------


def _platform_targets(
    context: Context, entry: EnvironmentEntry | None, workers: list[str], with_app: bool
) -> list[Target]:
    keys = dict(entry.keys) if entry is not None else {}
    overrides = entry.workers if entry is not None else {}
    needs_app_url = with_app or any("ssh_url" not in overrides.get(w, {}) for w in workers)
    app_url = app_ssh_url(context, keys) if needs_app_url else ""
    targets = []
    if with_app:
        targets.append(_from_url(context.app.name, None, app_url, keys, context))
    for worker in workers:
        worker_keys = {**keys, **overrides.get(worker, {})}
        url = worker_keys.get("ssh_url") if "ssh_url" in overrides.get(worker, {}) else None
        url = url or worker_ssh_url(app_url, worker)
        targets.append(_from_url(worker, worker, url, worker_keys, context))
    return targets


def _from_url(
    name: str, worker: str | None, url: str, keys: dict[str, Any], context: Context
) -> Target:
    user, host, port = parse_ssh_url(url)
    target = Target(name=name, worker=worker, host=host, user=user, port=port,
                    environment=context.environment)
    return _apply(target, {k: v for k, v in keys.items() if k not in ("user", "host")})


def app_ssh_url(context: Context, keys: dict[str, Any]) -> str:
    """The app container's SSH URL: configured, composed, or asked of the Platform.sh CLI.

    A configured ``machine_name`` is used before the CLI: it is explicit and costs no
    network round trip.
    """
    if keys.get("ssh_url"):
        return str(keys["ssh_url"])
    region = keys.get("region") or context.settings.region
    machine = keys.get("machine_name")
    if machine and context.project and region:
        return compose_ssh_url(context.project, machine, context.app.name, region)
    cli = platform_cli()
    if cli is not None and context.project:
        return ask_platform_cli(cli, context.project, context.environment, context.app.name)
    raise _cannot_reach(context, machine=machine, region=region, cli=cli)


def _cannot_reach(
    context: Context, *, machine: str | None, region: str | None, cli: str | None
) -> ConfigError:
    configured = list(context.settings.environments)
    if context.environment not in configured:
        valid = sorted({*configured, *_sandbox_if_registered(context)})
        return NameNotFound(
            "environment", context.environment, valid,
            hint=f"valid environment names: {', '.join(valid) or '(none configured)'}; "
            "a Platform.sh environment needs its ssh_url, or machine_name and region, in "
            ".pshctl.yaml, or the Platform.sh CLI (see docs/configuration.md)",
        )
    missing = [
        what for what, value in (("a project id (-p)", context.project),
                                 ("machine_name", machine), ("region", region))
        if not value
    ]
    hint = "set ssh_url, or " + " and ".join(missing)
    if cli is None:
        hint += ", or install the Platform.sh CLI (`platform`)"
    return ConfigError(
        f"cannot work out the SSH address of environment '{context.environment}'", hint=hint
    )


def _sandbox_if_registered(context: Context) -> list[str]:
    from pshctl.sandbox.registry import read_registration

    return [SANDBOX] if read_registration(context.root, context.app.name) is not None else []


def compose_ssh_url(project: str, machine_name: str, app: str, region: str) -> str:
    """``<project>-<machine_name>--<app>@ssh.<region>``; a bare region gets ``.platform.sh``."""
    if "." not in region:
        region = f"{region}.{DEFAULT_REGION_SUFFIX}"
    return f"{project}-{machine_name}--{app}@ssh.{region}"


def worker_ssh_url(app_url: str, worker: str) -> str:
    """A worker's SSH URL: the app's, with ``--<worker>`` appended to the user part."""
    prefix = ""
    if app_url.startswith("ssh://"):
        prefix, app_url = "ssh://", app_url[len("ssh://"):]
    user, at, host = app_url.rpartition("@")
    if not at or not user or not host:
        raise ConfigError(f"SSH URL '{app_url}' has no user part (user@host)")
    return f"{prefix}{user}--{worker}@{host}"


def parse_ssh_url(url: str) -> tuple[str | None, str, int | None]:
    """``[ssh://]user@host[:port]`` -> (user, host, port)."""
    rest = url.strip().removeprefix("ssh://").rstrip("/")
    user, _, hostport = rest.rpartition("@")
    host, port = hostport, None
    if hostport.count(":") == 1:
        host, _, number = hostport.partition(":")
        if not number.isdigit():
            raise ConfigError(f"SSH URL '{url}' has a bad port")
        port = int(number)
    if not host:
        raise ConfigError(f"SSH URL '{url}' has no host")
    return user or None, host, port


def platform_cli() -> str | None:
    """The Platform.sh (or Upsun) CLI on PATH, if any."""
    for name in PLATFORM_CLIS:
        path = shutil.which(name)
        if path:
            return path
    return None


def ask_platform_cli(cli: str, project: str, environment: str, app: str) -> str:
    """``platform ssh --pipe``: the app container's SSH URL, without its trailing newline."""
    argv = [cli, "ssh", "--pipe", "-p", project, "-e", environment, "-A", app]
    env = {**os.environ, "PLATFORMSH_CLI_NO_INTERACTION": "1", "UPSUN_CLI_NO_INTERACTION": "1"}
    name = os.path.basename(cli)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                              stdin=subprocess.DEVNULL, timeout=PLATFORM_CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"`{name} ssh --pipe` did not answer within "
                          f"{PLATFORM_CLI_TIMEOUT:g}s") from None
    except OSError as exc:
        raise ConfigError(f"cannot run {name}: {exc.strerror or exc}") from None
    url = done.stdout.strip().splitlines()[-1].strip() if done.stdout.strip() else ""
    if done.returncode != 0 or "@" not in url:
        detail = (done.stderr.strip().splitlines() or ["no SSH URL printed"])[-1]
        raise ConfigError(
            f"`{name} ssh --pipe -e {environment}` failed: {detail}",
            hint=f"check `{name} login`, or set ssh_url for '{environment}' in .pshctl.yaml",
        )
    return url
