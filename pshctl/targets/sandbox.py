"""The local sandbox's registration as an environment entry (``-e sandbox``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pshctl.errors import ConfigError

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.settings import EnvironmentEntry

SANDBOX = "sandbox"


def applies(context: Context) -> bool:
    """``-e sandbox`` with no config file defining an environment of that name."""
    return context.environment == SANDBOX and context.settings.environment(SANDBOX) is None


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


def sandbox_registered(context: Context) -> bool:
    from pshctl.sandbox.registry import read_registration

    return read_registration(context.root, context.app.name) is not None
