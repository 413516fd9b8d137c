"""Targets from pshctl's config files (``.pshctl.yaml``, the user config file).

Two kinds of entry:

- explicit ones (a ``host``): the app container's endpoint and runit service, each worker
  overriding what it needs; every worker used must have an entry;
- Platform.sh ones: the app container's ``ssh_url``, or one composed from the configured
  ``machine_name``, the project id and the region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError
from pshctl.targets.instances import check_distinct, instance_keys, numbered
from pshctl.targets.model import (
    Request,
    Target,
    apply_keys,
    needs_app_url,
    target_from_url,
    targets_from_app_url,
)

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry

DEFAULT_REGION_SUFFIX = "platform.sh"


def resolve_explicit(request: Request) -> list[Target] | None:
    """An explicit environment (a ``host``), configured or the sandbox's registration."""
    entry = request.entry
    if entry is None or not entry.explicit:
        return None
    return explicit_targets(request.context, entry, list(request.workers), request.with_app)


def resolve_platform(request: Request) -> list[Target] | None:
    """A Platform.sh environment whose app URL is configured or can be composed (or
    whose workers asked for all have an ``ssh_url`` of their own)."""
    if request.entry is None:
        return None
    app_url = configured_app_url(request.context, request.keys_for(None))
    if app_url is None and needs_app_url(request):
        return None
    return targets_from_app_url(request, app_url or "", "config")


def explicit_targets(
    context: Context, entry: EnvironmentEntry, workers: list[str], with_app: bool
) -> list[Target]:
    """The targets of an explicit (self-hosted or sandbox) environment entry: one per
    instance of each container."""
    targets = []
    if with_app:
        targets += _instances(context.app.name, None, entry.keys, entry, context)
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
        targets += _instances(worker, worker, keys, entry, context)
    return targets


def _instances(name: str, worker: str | None, keys: dict[str, Any], entry: EnvironmentEntry,
               context: Context) -> list[Target]:
    made = numbered([_explicit(name, worker, own, entry, context)
                     for own in instance_keys(keys)], name)
    where = f"environment '{entry.name}'" + (f", worker '{worker}'" if worker else "")
    check_distinct(made, where + (f" ({entry.origin})" if entry.origin else ""))
    return made


def _explicit(
    name: str, worker: str | None, keys: dict[str, Any], entry: EnvironmentEntry, context: Context
) -> Target:
    if "host" not in keys:
        if "ssh_url" in keys:
            return target_from_url(name, worker, keys["ssh_url"], keys, context.environment)
        what = f"worker '{worker}'" if worker else "the app container"
        raise ConfigError(f"environment '{entry.name}': no host for {what}",
                          hint=f"defined at {entry.origin}" if entry.origin else None)
    return apply_keys(Target(name=name, worker=worker, host=keys["host"],
                             environment=context.environment), keys)


def configured_app_url(context: Context, keys: dict[str, Any]) -> str | None:
    """The app container's SSH URL as configured or composed; None when neither applies."""
    if keys.get("ssh_url"):
        return str(keys["ssh_url"])
    region = keys.get("region") or context.settings.region
    machine = keys.get("machine_name")
    if machine and context.project and region:
        return compose_ssh_url(context.project, machine, context.app.name, region)
    return None


def compose_ssh_url(project: str, machine_name: str, app: str, region: str) -> str:
    """``<project>-<machine_name>--<app>@ssh.<region>``; a bare region gets ``.platform.sh``."""
    if "." not in region:
        region = f"{region}.{DEFAULT_REGION_SUFFIX}"
    return f"{project}-{machine_name}--{app}@ssh.{region}"
