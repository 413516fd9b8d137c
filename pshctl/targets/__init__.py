"""Where a worker is reached: (environment, app, worker[, instance]) -> SSH destination.

The sources, each its own module, are tried in this order; the first that applies wins:

1. an explicit environment (a ``host``) of a config file, or for ``-e sandbox`` the
   sandbox's registration when no config file defines ``sandbox``
   (:mod:`.configured`, :mod:`.sandbox`);
2. a Platform.sh environment whose SSH URL is configured (``ssh_url``) or composed from
   ``machine_name``, project id and region (:mod:`.configured`): what is written wins
   over what is discovered;
3. the platform's API, with an API token and a project id: the environment's SSH links
   for the app, each worker and each instance, and an SSH certificate (:mod:`.api`);
4. the ``platform``/``upsun`` CLI's ``ssh --pipe`` (:mod:`.cli`).

In 2 and 4 a worker is reached as the app's SSH user with ``--<worker>`` appended
(``abc-main-xyz--app--queue@ssh.eu-3.platform.sh``); a worker entry's own ``ssh_url``
wins over that rule and over the API's link.

Each source gives one target per instance of a container (:mod:`.instances`): a scaled
worker ``queue`` of three instances is ``queue.0``, ``queue.1`` and ``queue.2`` (from the
API's ``pf:ssh:<app>--queue:<N>`` links, a config file's ``instances:``, or the
sandbox's registration); one instance is named as its worker. ``queue.2`` among the
names asked, or ``instance=2``, narrows to that instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError, ConnectionFailed, NameNotFound
from pshctl.targets import api, cli, configured
from pshctl.targets.cli import ask_platform_cli, platform_cli
from pshctl.targets.configured import compose_ssh_url, configured_app_url
from pshctl.targets.instances import Instance, select, split_name
from pshctl.targets.model import Request, Target, parse_ssh_url, worker_ssh_url
from pshctl.targets.sandbox import SANDBOX, overlay, sandbox_entry, sandbox_registered

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry

__all__ = [
    "SANDBOX",
    "SOURCES",
    "Request",
    "Target",
    "app_ssh_url",
    "ask_platform_cli",
    "compose_ssh_url",
    "environment_entry",
    "explain",
    "parse_ssh_url",
    "platform_cli",
    "recover",
    "resolve_targets",
    "worker_ssh_url",
]

Source = Callable[[Request], "list[Target] | None"]
SOURCES: tuple[Source, ...] = (
    configured.resolve_explicit,
    configured.resolve_platform,
    api.resolve,
    cli.resolve,
)


def resolve_targets(
    context: Context,
    workers: Sequence[str] = (),
    *,
    all_workers: bool = False,
    app_container: bool = False,
    instance: Instance | None = None,
) -> list[Target]:
    """The targets to act on, app container first, then workers in the order asked;
    every instance of each, in order.

    No names and not ``all_workers`` means the app container alone. Unknown worker names
    raise :class:`NameNotFound` listing the app's workers. A name ``queue.2`` (or
    ``instance=2``, for every container asked) keeps that instance only; one a
    container does not have raises :class:`~pshctl.errors.InstanceNotFound`.
    """
    names, wanted = _worker_names(context, workers, all_workers)
    request = Request(context, environment_entry(context), tuple(names),
                      with_app=app_container or not (names or all_workers),
                      all_workers=all_workers)
    for source in SOURCES:
        targets = source(request)
        if targets is not None:
            if instance is not None:
                wanted = {t.container: {instance} for t in targets}
            return select(targets, wanted)
    raise _cannot_reach(context, request.keys_for(None))


def recover(target: Target, error: ConnectionFailed) -> Target | None:
    """The target to try once more after ``error`` (a cached destination refetched, a
    refused certificate renewed), or None when nothing better is known."""
    return api.recover(target, error) if target.origin == "api" else None


def explain(target: Target, error: ConnectionFailed) -> ConnectionFailed:
    """``error``, with a hint naming the credential the source provided when that is
    the likely cause (an expired or refused certificate)."""
    return api.explain(target, error) if target.origin == "api" else error


def _worker_names(context: Context, workers: Sequence[str], all_workers: bool,
                  ) -> tuple[list[str], dict[str, set[Instance] | None]]:
    """The workers asked for, in order without repeats, and the instances wanted of each
    (None: all); ``queue.2`` asks for instance 2 of ``queue``."""
    defined = context.app.workers
    wanted: dict[str, set[Instance] | None] = {}
    for name in workers:
        worker, number = split_name(name, defined)
        if worker not in defined:
            raise NameNotFound("worker", name, defined)
        current = wanted.get(worker, set())
        wanted[worker] = None if number is None or current is None else current | {number}
    chosen = list(defined) if all_workers else list(wanted)
    return list(dict.fromkeys(chosen)), wanted


def environment_entry(context: Context) -> EnvironmentEntry | None:
    """The configured entry of the context's environment, or the sandbox's registration
    (with a configured ``sandbox`` entry that names no host on top of it)."""
    entry = context.settings.environment(context.environment)
    if context.environment != SANDBOX or (entry is not None and entry.explicit):
        return entry
    registered = sandbox_entry(context)
    return registered if entry is None else overlay(registered, entry)


def app_ssh_url(context: Context, keys: dict[str, Any]) -> str:
    """The app container's SSH URL: configured, composed, or asked of the Platform.sh CLI.

    A configured ``machine_name`` is used before the CLI: it is explicit and costs no
    network round trip.
    """
    url = configured_app_url(context, keys)
    if url is not None:
        return url
    found = platform_cli()
    if found is not None and context.project:
        return ask_platform_cli(found, context.project, context.environment, context.app.name)
    raise _cannot_reach(context, keys)


def _cannot_reach(context: Context, keys: dict[str, Any]) -> ConfigError:
    machine = keys.get("machine_name")
    region = keys.get("region") or context.settings.region
    installed = platform_cli()
    names = list(context.settings.environments)
    if context.environment not in names:
        registered = [SANDBOX] if sandbox_registered(context) else []
        valid = sorted({*names, *registered, *api.cached_names(context)})
        return NameNotFound(
            "environment", context.environment, valid,
            hint=f"valid environment names: {', '.join(valid) or '(none configured)'}; "
            "a Platform.sh environment needs an API token (PSHCTL_TOKEN or `pshctl auth "
            "login`) and a project id, or its ssh_url (or machine_name and region) in "
            ".pshctl.yaml, or the Platform.sh CLI (see docs/configuration.md)",
        )
    missing = [
        what for what, value in (("a project id (-p)", context.project),
                                 ("machine_name", machine), ("region", region))
        if not value
    ]
    hint = "set ssh_url, or " + " and ".join(missing)
    if context.project:
        hint += ", or give pshctl an API token (PSHCTL_TOKEN or `pshctl auth login`)"
    if installed is None:
        hint += ", or install the Platform.sh CLI (`platform`)"
    return ConfigError(
        f"cannot work out the SSH address of environment '{context.environment}'", hint=hint
    )
