"""Host-key trust: strict by default, ``accept_new`` records first-seen keys only.

Known keys come from ``~/.ssh/known_hosts`` (hashed entries included), pshctl's own
file, the Platform.sh CLI's ``~/.platformsh/ssh/host-keys`` and a target's extra file.
New keys are only ever written to pshctl's own file; a key that differs from a known
one is refused and never replaced.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pshctl.errors import HostKeyError
from pshctl.ssh.trail import log

if TYPE_CHECKING:
    import paramiko

_write_lock = threading.Lock()

# OpenSSH records RSA keys as "ssh-rsa"; the negotiated algorithms are the SHA-2 ones.
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


def pshctl_known_hosts() -> Path:
    """pshctl's own known_hosts file (PSHCTL_KNOWN_HOSTS overrides it)."""
    override = os.environ.get("PSHCTL_KNOWN_HOSTS")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("pshctl") / "known_hosts"


def known_hosts_files(extra: str | None = None) -> list[Path]:
    """Every file keys are read from, in order; missing ones are skipped when loading."""
    home = Path.home()
    files = [
        home / ".ssh" / "known_hosts",
        pshctl_known_hosts(),
        home / ".platformsh" / "ssh" / "host-keys",
    ]
    if extra:
        files.append(Path(extra).expanduser())
    return files


def host_key_name(host: str, port: int) -> str:
    """The name a host is recorded under: ``host``, or ``[host]:port`` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    return key.fingerprint  # "SHA256:..." as OpenSSH prints it


class KnownHosts:
    """The merged view of all known-hosts files for one connection."""

    def __init__(self, files: list[Path]) -> None:
        import paramiko

        self.files = files
        self.keys = paramiko.HostKeys()
        for path in files:
            self._load(path)

    def _load(self, path: Path) -> None:
        if not path.is_file():
            return
        try:
            self.keys.load(str(path))
        except OSError as exc:
            log.debug("cannot read %s: %s", path, exc)
        else:
            log.debug("read known hosts from %s", path)

    def known_types(self, name: str) -> list[str]:
        """Key types recorded for ``name``, as key-exchange algorithm names."""
        entry = self.keys.lookup(name)
        if entry is None:
            return []
        types: list[str] = []
        for keytype in entry.keys():
            types.extend(_RSA_ALGORITHMS if keytype == "ssh-rsa" else [keytype])
        return types

    def prefer_known_types(self, transport: paramiko.Transport, name: str) -> None:
        """Negotiate a key type we already know, as OpenSSH does, before the handshake."""
        known = self.known_types(name)
        if not known:
            return
        options = transport.get_security_options()
        offered = list(options.key_types)
        preferred = [t for t in known if t in offered]
        options.key_types = preferred + [t for t in offered if t not in preferred]

    def verify(self, name: str, key: paramiko.PKey, *, accept_new: bool) -> None:
        """Accept a matching key; record a new one if allowed; refuse anything else."""
        entry = self.keys.lookup(name)
        if entry is None:
            if not accept_new:
                raise HostKeyError(
                    f"unknown host key for {name} ({key.get_name()} {fingerprint(key)})",
                    hint="check the fingerprint, then connect once with --accept-new to "
                    f"record it in {pshctl_known_hosts()}",
                )
            record(name, key)
            self.keys.add(name, key.get_name(), key)
            log.debug("recorded new host key %s for %s", fingerprint(key), name)
            return
        if entry.get(key.get_name()) == key:
            log.debug("host key %s for %s matches known hosts", fingerprint(key), name)
            return
        raise HostKeyError(
            f"HOST KEY FOR {name} HAS CHANGED: the server sent {key.get_name()} "
            f"{fingerprint(key)}, which is not the key recorded for it. Someone may be "
            "intercepting the connection (man-in-the-middle), or the host key was replaced.",
            hint="pshctl never replaces a known key. If the change is expected, remove the "
            f"old entry (ssh-keygen -R '{name}' -f FILE) from: "
            + ", ".join(str(p) for p in self.files if p.is_file()),
        )


def record(name: str, key: paramiko.PKey, path: Path | None = None) -> Path:
    """Append ``name``'s key to pshctl's known_hosts unless another thread just did."""
    import paramiko

    path = path or pshctl_known_hosts()
    with _write_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            current = paramiko.HostKeys(str(path)).lookup(name)
            if current is not None and current.get(key.get_name()) == key:
                return path
        line = paramiko.hostkeys.HostKeyEntry([name], key).to_line() or ""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(line)
    return path
