"""What a running sandbox recorded about itself (``state.json``), and whether it still runs.

A process is recorded as its PID *and* its start time (field 22 of ``/proc/PID/stat``)
together with the boot id: after a reboot, or once the PID is reused by some other
program, the record no longer matches and that process counts as gone. So a stale
sandbox is recognised and nothing unrelated is ever signalled.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pshctl.sandbox.layout import ContainerPaths
from pshctl.sandbox.servers import pid_alive

STATE_VERSION = 1


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Proc:
    """A process we started, identified beyond its PID."""

    pid: int
    started: str = ""
    boot: str = ""

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, _start_time(pid), boot_id())

    def alive(self) -> bool:
        """Still the very process we started (not a reused PID, not a zombie)."""
        if not self.pid or not pid_alive(self.pid):
            return False
        return self.boot == boot_id() and self.started == _start_time(self.pid)


@dataclass
class ContainerState:
    name: str  # `queue`, or `queue.1` for one instance of a scaled worker
    kind: str  # "web" | "worker"
    root: str  # the container directory
    ssh_port: int
    sshd: Proc
    web_port: int | None = None
    supervisor: str = "runit"  # "runit" | "systemd"
    manager: Proc | None = None  # its systemd user manager
    token: str | None = None  # names the manager's cgroup: pshctl-<token>.slice
    container: str = ""  # the worker (or app) it is an instance of; "" = `name`
    instance: int = 0
    instances: int = 1

    @property
    def worker(self) -> str:
        return self.container or self.name

    def paths(self) -> ContainerPaths:
        return ContainerPaths(self.name, self.kind, Path(self.root), self.container,
                              self.instance, self.instances)


@dataclass
class SandboxState:
    app: str
    project_root: str
    user: str
    runsvdir: Proc | None = None
    containers: list[ContainerState] = field(default_factory=list)
    controlplane: Proc | None = None  # the emulated platform API (controlplane.py)
    api_port: int | None = None
    started_at: float = field(default_factory=time.time)
    version: int = STATE_VERSION

    def processes(self) -> list[Proc]:
        procs = [c.sshd for c in self.containers]
        procs += [c.manager for c in self.containers if c.manager is not None]
        return procs + [p for p in (self.runsvdir, self.controlplane) if p is not None]

    def health(self) -> str:
        """``running`` (all alive), ``stale`` (none alive) or ``partial``."""
        alive = [p.alive() for p in self.processes()]
        if alive and all(alive):
            return "running"
        return "partial" if any(alive) else "stale"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxState:
        containers = [
            ContainerState(**{**c, "sshd": Proc(**c["sshd"]),
                              "manager": Proc(**c["manager"]) if c.get("manager") else None})
            for c in data["containers"]
        ]
        runsvdir = Proc(**data["runsvdir"]) if data.get("runsvdir") else None
        api = Proc(**data["controlplane"]) if data.get("controlplane") else None
        return cls(**{**data, "containers": containers, "runsvdir": runsvdir,
                      "controlplane": api})


def read_state(path: Path) -> SandboxState | None:
    """The recorded state, or None when there is none or it cannot be read."""
    try:
        return SandboxState.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(path: Path, state: SandboxState) -> None:
    from pshctl import files

    files.write_file(path, json.dumps(state.to_json(), indent=2))
