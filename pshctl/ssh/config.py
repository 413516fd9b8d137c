"""Where and as whom to connect: a Target merged over the user's ``~/.ssh/config``.

Precedence per field: the Target's value > ``~/.ssh/config`` > OpenSSH's default.
"""

from __future__ import annotations

import getpass
import glob
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError
from pshctl.ssh import names
from pshctl.ssh.trail import log

if TYPE_CHECKING:
    from pshctl.targets import Target

DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass(frozen=True)
class Identity:
    """A private key file to offer, and the certificate to present with it, if any."""

    path: Path
    certificate: Path | None = None


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to open one SSH connection."""

    alias: str  # the name the user gave (ssh config ``Host``)
    hostname: str  # where to connect (ssh config ``HostName``)
    port: int
    user: str
    identities: tuple[Identity, ...] = ()
    identities_only: bool = False
    proxy_jump: str | None = None
    proxy_command: str | None = None
    extra_known_hosts: str | None = None
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key_name(self) -> str:
        from pshctl.ssh.hostkeys import host_key_name

        return host_key_name(self.hostname, self.port)


def ssh_config_path() -> Path:
    return Path.home() / ".ssh" / "config"


class _MatchExec:
    """What paramiko's ``Match exec`` runs commands with, in place of invoke.

    invoke copies the caller's stdin into the command, so ``pshctl ssh -- CMD < data``
    lost data to a ``Match exec`` test. Here the command runs in the user's shell, as
    OpenSSH runs it, with stdin and stdout closed and stderr shown.
    """

    @staticmethod
    def run(command: str, **_ignored: Any) -> Any:
        from types import SimpleNamespace

        shell = os.environ.get("SHELL") or "/bin/sh"
        try:
            done = subprocess.run([shell, "-c", command], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, check=False)
        except OSError as exc:
            log.warning("Match exec in %s cannot run: %s", ssh_config_path(), exc)
            return SimpleNamespace(ok=False)
        return SimpleNamespace(ok=done.returncode == 0)


def lookup(alias: str) -> dict[str, Any]:
    """``~/.ssh/config`` options for a host alias (empty when there is no file).

    ``alias`` must have passed :func:`check_target`: ``Match exec`` puts it in a shell.
    """
    path = ssh_config_path()
    if not path.is_file():
        return {}
    import paramiko
    import paramiko.config

    paramiko.config.invoke = _MatchExec  # type: ignore[attr-defined]
    try:
        config = paramiko.SSHConfig.from_path(str(path))
        return dict(config.lookup(alias))
    except Exception as exc:  # noqa: BLE001 - a broken config is reported, not fatal
        log.warning("ignoring %s: %s", path, exc)
        return {}


def platformsh_certificate() -> Identity | None:
    """The Platform.sh CLI's session key and certificate, when it has logged in."""
    pattern = str(Path.home() / ".platformsh" / ".session" / "*" / "ssh" / "id_ed25519")
    for key in sorted(glob.glob(pattern)):
        cert = Path(key + "-cert.pub")
        if cert.is_file():
            return Identity(Path(key), cert)
    return None


def _expand(path: str) -> Path:
    return Path(os.path.expanduser(path))


def _identity(path: Path, certificate: str | None = None) -> Identity:
    if certificate:
        cert: Path | None = _expand(certificate)
    else:
        auto = Path(str(path) + "-cert.pub")
        cert = auto if auto.is_file() else None
    return Identity(path, cert)


def _identities(target: Target, options: dict[str, Any]) -> tuple[Identity, ...]:
    cert_file = options.get("certificatefile")
    explicit = ([target.identity_file] if target.identity_file else []) + list(
        options.get("identityfile", [])
    )
    found: list[Identity] = []
    for raw in explicit:
        path = _expand(raw)
        if path.is_file() and all(i.path != path for i in found):
            found.append(_identity(path, cert_file))
        elif not path.is_file():
            log.debug("identity file %s not found", path)
    platform = platformsh_certificate()
    if platform and all(i.path != platform.path for i in found):
        found.append(platform)
    if not explicit:
        for name in DEFAULT_IDENTITIES:
            path = Path.home() / ".ssh" / name
            if path.is_file():
                found.append(_identity(path))
    return tuple(found)


def check_target(target: Target) -> None:
    """Refuse a target whose host, user or port could be read as anything but a name.

    Targets come from config files, the sandbox's registration, the platform's CLI or
    its API; the first two are checked where they are read, and this check sees them
    all again before the host reaches ``~/.ssh/config`` matching (``Match exec``,
    ``%h``), a socket or a message.
    """
    where = f"target {names.shown(target.name)}: "
    names.check_host(target.host, what=f"{where}host")
    if target.user is not None:
        names.check_user(target.user, what=f"{where}user")
    if target.port is not None:
        names.check_port(target.port, what=f"{where}port")


def resolve(target: Target) -> Endpoint:
    """The endpoint for a target, with ``~/.ssh/config`` filling what the target leaves."""
    check_target(target)
    options = lookup(target.host)
    user = target.user or options.get("user") or getpass.getuser()
    proxy_command = options.get("proxycommand")
    return Endpoint(
        alias=target.host,
        hostname=options.get("hostname") or target.host,
        port=_port(target.port, options.get("port")),
        user=user,
        identities=_identities(target, options),
        identities_only=str(options.get("identitiesonly", "no")).lower() == "yes",
        proxy_jump=None if proxy_command else _none(options.get("proxyjump")),
        proxy_command=_none(proxy_command),
        extra_known_hosts=target.known_hosts,
        config=options,
    )


def _port(configured: int | None, from_ssh_config: str | None) -> int:
    if configured:
        return configured
    if from_ssh_config is None:
        return 22
    return names.check_port(from_ssh_config, what=f"Port in {ssh_config_path()}")


def _none(value: str | None) -> str | None:
    return None if value is None or value.lower() == "none" else value


def destination(target: Target) -> str:
    """``user@host`` as the Platform.sh CLI prints it (an instance's own user and host:
    the target sources give each instance its destination).

    Off port 22 (the sandbox, self-hosted targets) it is ``ssh://user@host:port``, which
    OpenSSH's ``ssh`` takes as well: ``user@host`` alone would reach the wrong port.

    What this prints is word-split by shells (``ssh $(pshctl ssh --pipe)``): it is built
    only from a checked host, user and port, and is refused (ConfigError) if it could
    still read as an option or as several words.
    """
    check_target(target)
    user = target.user
    where = f"{user}@{target.host}" if user else target.host
    if target.port is not None and target.port != 22:
        host = f"[{target.host}]" if ":" in target.host else target.host
        where = f"ssh://{user}@{host}:{target.port}" if user else f"ssh://{host}:{target.port}"
    if where.startswith("-") or not where.isprintable() or any(c.isspace() for c in where):
        raise ConfigError(f"target {names.shown(target.name)}: destination "
                          f"{names.shown(where)} refused: it would read as an ssh option")
    return where
