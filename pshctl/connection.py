"""fabric's ``Connection`` on a pshctl session: for runbooks written with fabric.

``Environment.connection(worker)`` gives a :class:`fabric.Connection` whose SSH link is a
pshctl :class:`~pshctl.ssh.session.Session`: reached as pshctl reaches the worker, with
pshctl's host-key check (unknown and changed keys refused unless opted in; never
fabric's default of adding any key it is shown) and pshctl's authentication (keys,
agent, keyring passphrases, platform certificates). Everything else is fabric's:
``run``, ``sudo``, ``put``, ``get``, ``sftp()``, ``cd``, ``prefix``.

fabric is an optional extra (``pip install 'pshctl[fabric]'``): it is imported here, and
nothing else in pshctl imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError

if TYPE_CHECKING:
    import fabric

    from pshctl.ssh.session import Session
    from pshctl.targets import Target


def connection(target: Target, open_session: Callable[[], Session]) -> fabric.Connection:
    """A fabric Connection to ``target`` that opens its link with ``open_session``."""
    return _connection_class()(target, open_session)


@cache
def _connection_class() -> Any:
    try:
        import fabric
        import paramiko
    except ImportError:
        raise ConfigError("Environment.connection() needs fabric, which is not installed",
                          hint="pip install 'pshctl[fabric]'") from None

    class PshctlConnection(fabric.Connection):
        """fabric's Connection whose link is a pshctl Session (opened on first use)."""

        def __init__(self, target: Target, open_session: Callable[[], Session]) -> None:
            # pshctl has resolved the destination already: fabric reads no ssh config.
            config = fabric.Config(ssh_config=paramiko.SSHConfig())
            super().__init__(target.host, user=target.user, port=target.port or 22,
                             config=config)
            # Never consulted (the link is pshctl's), and refusing should it ever be.
            self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
            self._open_session = open_session
            self.session: Session | None = None

        def open(self) -> None:
            if self.is_connected:
                return
            self.session = self._open_session()
            self.client._transport = self.session.transport  # what SSHClient.connect sets
            self.transport = self.session.transport

        def close(self) -> None:
            super().close()
            if self.session is not None:
                self.session.close()  # and the jump hosts' sessions behind it
                self.session = None

    return PshctlConnection
