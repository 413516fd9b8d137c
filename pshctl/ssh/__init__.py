"""The SSH layer: ``connect(target, options) -> Session``.

Importing this package is cheap: paramiko, keyring and friends are imported only when
a connection is actually opened (``pshctl.cli`` imports this on every run).

    with connect(target, SshOptions(accept_new=True)) as session:
        result = session.run(["sv", "status", "app"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pshctl.ssh import _noinvoke
from pshctl.ssh.options import CommandResult, SshOptions

_noinvoke.install()  # before any module of this package imports paramiko

if TYPE_CHECKING:
    from pshctl.settings import Settings
    from pshctl.ssh.session import Session
    from pshctl.targets import Target

__all__ = ["CommandResult", "Session", "SshOptions", "connect", "options_for"]


def connect(target: Target, options: SshOptions | None = None) -> Session:
    """Open an authenticated connection to ``target`` (see :mod:`pshctl.ssh.session`).

    A failure other than a host-key refusal gets one more try when the target's source
    knows better (a cached destination fetched again, a refused certificate renewed:
    :func:`pshctl.targets.recover`); the error names the credential that was refused.
    """
    from pshctl import targets
    from pshctl.errors import ConnectionFailed, HostKeyError
    from pshctl.ssh.session import connect as _connect

    try:
        return _connect(target, options)
    except ConnectionFailed as exc:
        if isinstance(exc, HostKeyError):
            raise
        retry = targets.recover(target, exc)
        if retry is None:
            raise targets.explain(target, exc) from None
    try:
        return _connect(retry, options)
    except ConnectionFailed as exc:
        if isinstance(exc, HostKeyError):
            raise
        raise targets.explain(retry, exc) from None


def options_for(settings: Settings | None = None, **overrides: object) -> SshOptions:
    """SshOptions from the config files' ``ssh:`` section, then explicit overrides."""
    from dataclasses import replace

    return replace(SshOptions().with_settings(settings), **overrides)  # type: ignore[arg-type]


def __getattr__(name: str) -> object:
    if name == "Session":
        from pshctl.ssh.session import Session

        return Session
    raise AttributeError(name)
