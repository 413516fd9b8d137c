"""What ``pshctl sandbox up/status/down`` report: the sandbox, its containers, their
supervisor's view.

``service_state`` reads runit's ``supervise/status`` directly (the 20 bytes ``sv status``
reads: TAI64N time of the last change, PID, want-up/down, run/down/finish), so the
sandbox's own status needs no SSH and no ``sv`` call; of a systemd container it asks
the container's user manager (``systemctl --user show``, from outside its namespace).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pshctl.sandbox import registry, servers
from pshctl.sandbox.layout import SERVICE_NAME, ContainerPaths, SandboxPaths
from pshctl.sandbox.state import ContainerState, SandboxState

HOST = "127.0.0.1"


@dataclass
class ServiceState:
    """What runit says about one container's ``app`` service."""

    state: str  # run | down | finish | unsupervised | none
    pid: int | None = None
    seconds: int | None = None  # in this state for
    want: str | None = None  # "up" | "down" when it differs from the state

    def describe(self) -> str:
        text = self.state
        if self.pid:
            text += f" (pid {self.pid})"
        if self.seconds is not None:
            text += f", {self.seconds}s"
        if self.want:
            text += f", want {self.want}"
        return text


@dataclass
class ContainerStatus:
    name: str
    kind: str
    ssh: str  # host:port
    ssh_port: int
    sshd_pid: int
    sshd_running: bool
    service: ServiceState
    app_dir: str
    log_file: str
    web_url: str | None = None
    supervisor: str = "runit"
    manager_pid: int | None = None  # its systemd user manager

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "host": HOST,
            "ssh_port": self.ssh_port,
            "sshd_pid": self.sshd_pid,
            "sshd_running": self.sshd_running,
            "service": vars(self.service),
            "app_dir": self.app_dir,
            "log_file": self.log_file,
            "web_url": self.web_url,
            "supervisor": self.supervisor,
            "manager_pid": self.manager_pid,
        }


@dataclass
class SandboxStatus:
    app: str
    project_root: str
    state_dir: str
    health: str  # running | partial | stale | stopped
    user: str | None = None
    runsvdir_pid: int | None = None
    runsvdir_running: bool = False
    controlplane_pid: int | None = None  # the emulated platform API
    api_url: str | None = None
    containers: list[ContainerStatus] = field(default_factory=list)
    registration: str | None = None
    already_running: bool = False
    outdated: bool = False  # the app definition changed since `up`: down + up to deploy
    replaced: str | None = None  # "stale" | "partial": what `up` found and replaced

    @property
    def running(self) -> bool:
        return self.health == "running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "project_root": self.project_root,
            "state_dir": self.state_dir,
            "state": self.health,
            "user": self.user,
            "environment": registry.SANDBOX_ENVIRONMENT,
            "runsvdir_pid": self.runsvdir_pid,
            "runsvdir_running": self.runsvdir_running,
            "controlplane_pid": self.controlplane_pid,
            "api_url": self.api_url,
            "registration": self.registration,
            "already_running": self.already_running,
            "outdated": self.outdated,
            "replaced": self.replaced,
            "containers": [c.to_dict() for c in self.containers],
        }


@dataclass
class DownResult:
    app: str
    project_root: str
    state_dir: str
    was: str  # the health before: running | partial | stale | stopped
    stopped: list[int] = field(default_factory=list)  # PIDs that were running
    purged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def build_status(root: Path, name: str, paths: SandboxPaths, state: SandboxState) -> SandboxStatus:
    health = state.health()
    containers = [container_status(c) for c in state.containers]
    reg = registry.registration_path(root, name)
    return SandboxStatus(
        app=name,
        project_root=str(root),
        state_dir=str(paths.root),
        health=health,
        user=state.user,
        runsvdir_pid=state.runsvdir.pid if state.runsvdir else None,
        runsvdir_running=bool(state.runsvdir and state.runsvdir.alive()),
        controlplane_pid=state.controlplane.pid if state.controlplane else None,
        api_url=f"http://{HOST}:{state.api_port}/api" if state.api_port else None,
        containers=containers,
        registration=str(reg) if reg.exists() else None,
    )


def container_status(container: ContainerState) -> ContainerStatus:
    paths = ContainerPaths(container.name, container.kind, Path(container.root))
    return ContainerStatus(
        name=container.name,
        kind=container.kind,
        ssh=f"{HOST}:{container.ssh_port}",
        ssh_port=container.ssh_port,
        sshd_pid=container.sshd.pid,
        sshd_running=container.sshd.alive(),
        service=service_state(container),
        app_dir=str(paths.app_dir),
        log_file=str(paths.log_file),
        web_url=f"http://{HOST}:{container.web_port}/" if container.web_port else None,
        supervisor=container.supervisor,
        manager_pid=container.manager.pid if container.manager else None,
    )


_TAI_OFFSET = 4611686018427387914  # TAI64 label of the Unix epoch (2**62 + 10)


def service_state(container: ContainerState) -> ServiceState:
    """What the container's supervisor says about its ``app`` service."""
    paths = ContainerPaths(container.name, container.kind, Path(container.root))
    if container.supervisor == "systemd":
        return _unit_state(container)
    return runit_state(paths.service)


def _unit_state(container: ContainerState) -> ServiceState:
    from pshctl.supervisor.systemd import PROPERTIES, parse_block, unit_name

    if container.manager is None or not container.manager.alive():
        return ServiceState("unsupervised")
    paths = ContainerPaths(container.name, container.kind, Path(container.root))
    manager = servers.SystemdServer(paths.systemd_dir, container.token or "",
                                    container.manager.pid)
    shown = manager.systemctl("show", f"--property={','.join(PROPERTIES)}", "--",
                              unit_name(SERVICE_NAME))
    block = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    if shown.returncode != 0 or not block:
        return ServiceState("unsupervised")
    state = parse_block(block, SERVICE_NAME, time.monotonic())
    if state.problem is not None:
        return ServiceState("none")
    seconds = None if state.uptime_s is None else int(state.uptime_s)
    return ServiceState(state.state or "unknown", state.pid, seconds, state.want)


def runit_state(service: Path) -> ServiceState:
    """Read runit's ``supervise/status`` (the 20 bytes ``sv status`` reads)."""
    if not (service / "run").exists():
        return ServiceState("none")
    if not servers.service_supervised(service):
        return ServiceState("unsupervised")
    try:
        raw = (service / "supervise" / "status").read_bytes()
    except OSError:
        return ServiceState("unsupervised")
    if len(raw) < 20:
        return ServiceState("unsupervised")
    (tai,) = struct.unpack(">Q", raw[:8])
    (pid,) = struct.unpack("<I", raw[12:16])
    state = {0: "down", 1: "run", 2: "finish"}.get(raw[19], "unknown")
    seconds = max(0, int(time.time() - (tai - _TAI_OFFSET)))
    want = {ord("u"): "up", ord("d"): "down"}.get(raw[17])
    if (want == "up" and state == "run") or (want == "down" and state == "down"):
        want = None
    return ServiceState(state, pid or None, seconds, want)
