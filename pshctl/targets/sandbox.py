"""The local sandbox's registration as an environment entry (``-e sandbox``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pshctl.defaults import SANDBOX_ENVIRONMENT
from pshctl.errors import ConfigError

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry

SANDBOX = SANDBOX_ENVIRONMENT


def sandbox_entry(context: Context) -> EnvironmentEntry:
    """The registration ``pshctl sandbox up`` wrote for the context's app."""
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


def overlay(registered: EnvironmentEntry, configured: EnvironmentEntry) -> EnvironmentEntry:
    """The registration with a config file's ``sandbox`` entry on top, key by key.

    Such an entry has no ``host`` (one with a host is an environment of its own): it
    only says how to drive the sandbox's containers, e.g. ``supervisor:`` per worker.
    Its ``instances:`` told ``sandbox up`` how many to run; the registration lists them.
    """
    from dataclasses import replace

    from pshctl.settings import INSTANCES

    def on_top(keys: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return {**keys, **{k: v for k, v in extra.items() if k != INSTANCES}}

    workers = {name: on_top(keys, configured.workers.get(name, {}))
               for name, keys in registered.workers.items()}
    return replace(registered, keys=on_top(registered.keys, configured.keys), workers=workers)


def sandbox_registered(context: Context) -> bool:
    from pshctl.sandbox.registry import read_registration

    return read_registration(context.root, context.app.name) is not None
