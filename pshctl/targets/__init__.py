"""Where a worker is reached: (environment, app, worker[, instance]) -> SSH destination.

The sources, each its own module, are tried in this order:

1. an explicit environment of a config file (:mod:`.configured`: a ``host``);
2. the sandbox's registration, for ``-e sandbox`` when no config file defines it
   (:mod:`.sandbox`);
3. a Platform.sh environment: the app container's SSH URL configured (``ssh_url``) or
   composed from ``machine_name``, project id and region (:mod:`.configured`), else asked
   of the ``platform``/``upsun`` CLI (:mod:`.cli`). A worker is reached as the app's SSH
   user with ``--<worker>`` appended (``abc-main-xyz--app--queue@ssh.eu-3.platform.sh``).

Each source gives one target per instance of a container (:mod:`.instances`): a scaled
worker ``queue`` of three instances is ``queue.0``, ``queue.1`` and ``queue.2``; one
instance is named as its worker. ``queue.2`` among the names asked, or ``instance=2``,
narrows to that instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError, NameNotFound
from pshctl.targets.cli import ask_platform_cli, platform_cli
from pshctl.targets.configured import compose_ssh_url, configured_app_url, explicit_targets
from pshctl.targets.instances import (
    INSTANCES,
    Instance,
    check_distinct,
    instance_keys,
    numbered,
    select,
    split_name,
)
from pshctl.targets.model import Target, parse_ssh_url, target_from_url, worker_ssh_url
from pshctl.targets.sandbox import SANDBOX, overlay, sandbox_entry, sandbox_registered

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry

__all__ = [
    "SANDBOX",
    "Target",
    "app_ssh_url",
    "ask_platform_cli",
    "compose_ssh_url",
    "environment_entry",
    "parse_ssh_url",
    "platform_cli",
    "resolve_targets",
    "worker_ssh_url",
]


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
    with_app = app_container or not (names or all_workers)
    entry = environment_entry(context)
    if entry is not None and entry.explicit:
        targets = explicit_targets(context, entry, names, with_app)
    else:
        targets = _platform_targets(context, entry, names, with_app)
    if instance is not None:
        wanted = {t.container: {instance} for t in targets}
    return select(targets, wanted)


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


# --- Platform.sh environments --------------------------------------------------------


def _platform_targets(
    context: Context, entry: EnvironmentEntry | None, workers: list[str], with_app: bool
) -> list[Target]:
    keys = dict(entry.keys) if entry is not None else {}
    overrides = entry.workers if entry is not None else {}
    needs_app_url = with_app or any(not _own_urls(overrides.get(w, {})) for w in workers)
    app_url = app_ssh_url(context, keys) if needs_app_url else ""
    targets = []
    env = context.environment
    if with_app:
        made = [target_from_url(context.app.name, None, own.get("ssh_url") or app_url, own, env)
                for own in instance_keys(keys)]
        targets += numbered(made, context.app.name)
        check_distinct(targets, f"environment '{env}', the app container")
    inherited = {k: v for k, v in keys.items() if k != INSTANCES}
    for worker in workers:
        override = overrides.get(worker, {})
        made = []
        for own in instance_keys(override):
            # The worker's (or this instance's) own ssh_url; else the Platform.sh rule.
            url = own.get("ssh_url") or worker_ssh_url(app_url, worker)
            made.append(target_from_url(worker, worker, url, {**inherited, **own}, env))
        targets += numbered(made, worker)
        check_distinct(targets[-len(made):], f"environment '{env}', worker '{worker}'")
    return targets


def _own_urls(override: dict[str, Any]) -> bool:
    """Whether every instance of a worker has an ssh_url of its own (no app URL needed)."""
    return all("ssh_url" in own for own in instance_keys(override))


def app_ssh_url(context: Context, keys: dict[str, Any]) -> str:
    """The app container's SSH URL: configured, composed, or asked of the Platform.sh CLI.

    A configured ``machine_name`` is used before the CLI: it is explicit and costs no
    network round trip.
    """
    url = configured_app_url(context, keys)
    if url is not None:
        return url
    cli = platform_cli()
    if cli is not None and context.project:
        return ask_platform_cli(cli, context.project, context.environment, context.app.name)
    region = keys.get("region") or context.settings.region
    raise _cannot_reach(context, machine=keys.get("machine_name"), region=region, cli=cli)


def _cannot_reach(
    context: Context, *, machine: str | None, region: str | None, cli: str | None
) -> ConfigError:
    configured = list(context.settings.environments)
    if context.environment not in configured:
        registered = [SANDBOX] if sandbox_registered(context) else []
        valid = sorted({*configured, *registered})
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
