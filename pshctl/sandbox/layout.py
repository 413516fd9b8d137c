"""Where a sandbox keeps everything, one directory per app.

The state directory (``registry.sandbox_dir(project_root, app)``) holds::

    state.json            what runs: PIDs (with start times), ports, containers
    environment.json      the ``sandbox`` environment entry (see registry.py)
    lock                  flock'ed while up/down change things
    keys/client           the client key pshctl logs in with (no passphrase)
    keys/authorized_keys  its public half, for every container's sshd
    known_hosts           ``[127.0.0.1]:PORT type key`` for every container's sshd
    shared/<service>/...  ``source: service`` mounts (network storage), shared
    runsvdir/<name>       what the one runsvdir scans: a symlink per container's service
    web/                  the app ("web") container
    workers/<name>/       one container per worker; a scaled worker's instance N > 0
                          is workers/<name>.<N>/ (instance 0 keeps workers/<name>/, and
                          so its own mounts when the worker is scaled)

and each container directory::

    app/                  a copy of the app source, read-only (the container's /app)
    app/<mount path>      -> a symlink to the mount's writable storage
    mounts/<source_path>  ``source: local`` and ``tmp`` storage, kept across `up`s
    log/app.log           the service's stdout and stderr, appended
    service/app/          the runit service (``SVDIR=<container>/service``), on runit
    systemd/              on systemd: the user manager's units/app.service, the run
                          script, manager.pid and manager.log
    ssh/                  this container's sshd: config, host key, pid, log
    login                 sshd's ForceCommand: cd, environment, then the command

Mount storage and logs survive ``down``/``up``; the code copy and scripts are rebuilt on
every ``up``, like a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pshctl.sandbox import registry

SERVICE_NAME = "app"


@dataclass(frozen=True)
class ContainerPaths:
    """The directories and files of one container."""

    name: str  # the worker name (the app name for the web container); `queue.1` for one
    kind: str  # "web" | "worker"                            instance of a scaled one
    root: Path
    container: str = ""  # the worker (or app) name without the instance; "" = `name`
    instance: int = 0
    instances: int = 1  # how many instances of this worker the sandbox runs

    @property
    def worker(self) -> str:
        """The worker's name (the app's for the web container), whatever the instance."""
        return self.container or self.name

    @property
    def app_dir(self) -> Path:
        return self.root / "app"

    @property
    def mounts_dir(self) -> Path:
        return self.root / "mounts"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "app.log"

    @property
    def svdir(self) -> Path:
        return self.root / "service"

    @property
    def service(self) -> Path:
        return self.svdir / SERVICE_NAME

    @property
    def systemd_dir(self) -> Path:
        return self.root / "systemd"

    @property
    def unit_script(self) -> Path:
        return self.systemd_dir / "run"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def login(self) -> Path:
        return self.root / "login"


@dataclass(frozen=True)
class SandboxPaths:
    """The state directory of one app's sandbox."""

    root: Path

    @classmethod
    def for_app(cls, project_root: Path, app_name: str) -> SandboxPaths:
        return cls(registry.sandbox_dir(project_root, app_name))

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def client_key(self) -> Path:
        return self.root / "keys" / "client"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "keys" / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def scan_dir(self) -> Path:
        return self.root / "runsvdir"

    def shared(self, service: str) -> Path:
        return self.root / "shared" / service

    def web(self, app_name: str, instance: int = 0, instances: int = 1) -> ContainerPaths:
        return _instance(app_name, "web", self.root, "web", instance, instances)

    def worker(self, name: str, instance: int = 0, instances: int = 1) -> ContainerPaths:
        return _instance(name, "worker", self.root / "workers", name, instance, instances)


def _instance(name: str, kind: str, parent: Path, directory: str, instance: int,
              instances: int) -> ContainerPaths:
    from pshctl.targets.instances import instance_name

    root = parent / (directory if instance == 0 else f"{directory}.{instance}")
    return ContainerPaths(instance_name(name, instance, instances), kind, root, name,
                          instance, instances)
