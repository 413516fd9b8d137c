"""The sandbox's life cycle: ``up``, ``down``, ``status`` (the library behind ``pshctl sandbox``).

One sandbox per app (project root + app name), in ``registry.sandbox_dir()``; see
``layout.py`` for what lives there, ``build.py`` for what a container gets and
``results.py`` for what is reported.

Processes, all started by PID through ``servers.py`` and stopped by PID:

* one OpenSSH ``sshd`` per container on ``127.0.0.1:<free port>``, its login forced
  into that container (``ForceCommand``: ``build.write_login``), host key per container,
  the client key and ``known_hosts`` shared by the sandbox;
* one ``runsvdir`` for the whole sandbox, scanning ``runsvdir/`` where each runit
  container's ``service/app`` is linked; so in a container ``SVDIR=<container>/service``
  and ``sv status app`` works, and pshctl drives ``<container>/service/app``;
* or, per container supervised by systemd (``up --supervisor systemd``, or
  ``supervisor: systemd`` for it in ``.pshctl.yaml``'s ``sandbox`` environment), its own
  ``systemd --user`` with its own journald (``servers.SystemdServer``: root only), which
  runs the unit ``app.service``; its login enters the manager's namespace, so
  ``systemctl --user`` and ``journalctl --user -u app`` work there;
* one emulated control plane (``controlplane.py``): the platform's API on a loopback
  port, whose links lead to the sshds and whose CA they trust (``TrustedUserCAKeys``).

A scaled worker (``instances: 3`` for it in ``.pshctl.yaml``'s ``sandbox`` environment,
or ``up --instances queue=3``) is that many containers, each with its own sshd, service
and ``instance``/``tmp`` mounts, sharing ``storage`` and ``service`` mounts; the
registration lists them as the worker's ``instances``.

``up`` refuses to start a second copy: a sandbox whose processes all run is reported as
already running. A sandbox whose processes are all gone (after a reboot, a kill) is
*stale*, one with some gone is *partial*: ``up`` stops what remains and starts afresh.
Ports of the previous run are reused when free, so ``known_hosts`` and ssh configs
stay valid. ``down`` stops the services (SIGTERM, SIGKILL 15 s later), then runsvdir
and its runsv processes, each user manager (its cgroup killed and removed: no process,
cgroup or mount is left), then each sshd with its sessions, checks that none of them
runs any more and removes the registration; mount storage and logs stay unless
``purge``. ``up`` and ``down`` of one sandbox take a lock, so they never interleave.

Runs as any user: every file is the caller's, sshd's ``AllowUsers`` is the caller.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pshctl import files
from pshctl.errors import ConfigError, OperationFailed, OperationTimeout, UsageError
from pshctl.sandbox import build, controlplane, registry, servers
from pshctl.sandbox.layout import SERVICE_NAME, ContainerPaths, SandboxPaths
from pshctl.sandbox.results import (
    HOST,
    DownResult,
    SandboxStatus,
    build_status,
    service_state,
)
from pshctl.sandbox.state import ContainerState, Proc, SandboxState, read_state, write_state

if TYPE_CHECKING:
    from pshctl.appdef import AppDefinition, ContainerConfig

PROGRAMS = ("sshd", "ssh-keygen", "runsvdir", "runsv", "sv")
SYSTEMD_PROGRAMS = ("systemctl", "journalctl", "unshare", "nsenter")
SUPERVISORS = ("runit", "systemd")
DEFAULT_SUPERVISOR = "runit"
LOCK_TIMEOUT = 60.0
START_WAIT = 5.0  # how long `up` waits for the services to be running


class SandboxUnavailable(ConfigError):
    """A system program the sandbox needs is missing (exit status 3, as config errors)."""


# --- the commands --------------------------------------------------------------------


def up(app_dir: Path, app_name: str | None = None, *, project: str | None = None,
       supervisor: str = DEFAULT_SUPERVISOR,
       instances: dict[str, int] | None = None) -> SandboxStatus:
    """Start the sandbox of the app at or above ``app_dir`` (or report that it runs).

    Each container is supervised by ``supervisor`` unless ``.pshctl.yaml`` names one
    for it (``environments.sandbox[.workers.<name>].supervisor``). ``instances`` (worker
    or app name -> count) wins over the ``instances:`` of that environment.
    """
    if supervisor not in SUPERVISORS:
        raise UsageError(f"unknown supervisor '{supervisor}'",
                         hint=f"choose one of {', '.join(SUPERVISORS)}")
    root = project_root(app_dir)
    app = _load_app(root, app_name)
    chosen = supervisors(root, app, supervisor)
    counts = instance_counts(root, app, instances or {})
    require_programs(systemd="systemd" in chosen.values())
    paths = SandboxPaths.for_app(root, app.name)
    with _locked(paths):
        old = read_state(paths.state_file)
        replaced = None
        if old is not None:
            health = old.health()
            if health == "running":
                result = build_status(root, app.name, paths, old)
                result.already_running = True
                result.outdated = _outdated(app, old, chosen, counts)
                return result
            _stop(old)
            replaced = health
        new = _start(app, root, paths, project=project or "sandbox", previous=old,
                     supervisors=chosen, counts=counts)
    result = build_status(root, app.name, paths, new)
    result.replaced = replaced
    return result


def down(app_dir: Path, app_name: str | None = None, *, purge: bool = False) -> DownResult:
    """Stop everything the sandbox started; with ``purge`` also delete its state directory."""
    root, name = _sandbox_of(app_dir, app_name, command="down")
    paths = SandboxPaths.for_app(root, name)
    result = DownResult(name, str(root), str(paths.root), was="stopped")
    with _locked(paths):
        state = read_state(paths.state_file)
        if state is not None:
            result.was = state.health()
            result.stopped = [p.pid for p in state.processes() if p.alive()]
            _stop(state)
            left = [p.pid for p in state.processes() if p.alive()]
            if left:
                raise OperationFailed(
                    f"sandbox of {name}: process(es) {', '.join(map(str, left))} still run",
                    hint="stop them by hand (kill PID), then run `pshctl sandbox down` again",
                )
        for path in (paths.state_file, registry.registration_path(root, name)):
            path.unlink(missing_ok=True)
        if purge and paths.root.exists():
            build.remove_tree(paths.root)
            result.purged = True
    return result


def status(app_dir: Path, app_name: str | None = None) -> SandboxStatus:
    """What the sandbox of this app runs, and where."""
    root, name = _sandbox_of(app_dir, app_name, command="status")
    paths = SandboxPaths.for_app(root, name)
    state = read_state(paths.state_file)
    if state is None:
        return SandboxStatus(name, str(root), str(paths.root), health="stopped")
    return build_status(root, name, paths, state)


def api_environment(app_dir: Path, app_name: str | None = None) -> dict[str, str]:
    """The variables that point pshctl at the sandbox's emulated platform API."""
    root, name = _sandbox_of(app_dir, app_name, command="env")
    paths = SandboxPaths.for_app(root, name)
    state = read_state(paths.state_file)
    world = controlplane.read_world(controlplane.directory_of(paths.root))
    running = state is not None and state.controlplane is not None and state.controlplane.alive()
    if not running or world is None:
        raise ConfigError(
            f"the sandbox of {name} does not run its control plane",
            hint=f"start it: pshctl sandbox up {shlex.quote(str(root))}")
    return controlplane.environment_variables(world, paths.known_hosts)


def list_sandboxes() -> list[SandboxStatus]:
    """Every sandbox of this user that has a state file, running or not."""
    found = []
    top = registry.state_root()
    for state_file in sorted(top.glob("*/state.json")) if top.is_dir() else []:
        state = read_state(state_file)
        if state is not None:
            paths = SandboxPaths(state_file.parent)
            found.append(build_status(Path(state.project_root), state.app, paths, state))
    return found


# --- finding the app -----------------------------------------------------------------


def supervisors(root: Path, app: AppDefinition, default: str) -> dict[str, str]:
    """Container name -> its supervisor: the config file's choice, else ``default``."""
    chosen = {}
    for name, keys in _configured(root, app).items():
        named = keys.get("supervisor")
        chosen[name] = named if named in SUPERVISORS else default
    return chosen


def instance_counts(root: Path, app: AppDefinition, asked: dict[str, int]) -> dict[str, int]:
    """Container name -> how many instances it runs: ``asked``, else the ``instances:``
    of the config file's ``sandbox`` environment, else 1."""
    from pshctl.errors import NameNotFound
    from pshctl.settings import INSTANCES, MAX_INSTANCES

    configured = _configured(root, app)
    for name, count in asked.items():
        if name not in configured:
            raise NameNotFound("container", name, configured, hint="--instances takes a "
                               f"worker (or the app's) name: {', '.join(configured)}")
        if not 1 <= count <= MAX_INSTANCES:
            raise UsageError(f"--instances {name}={count}: from 1 to {MAX_INSTANCES}")
    counts = {}
    for name, keys in configured.items():
        value = keys.get(INSTANCES, 1)
        if not isinstance(value, int):
            raise ConfigError(
                f"environment '{registry.SANDBOX_ENVIRONMENT}': the sandbox makes its own "
                f"endpoints; instances of {name} must be a number, not a list",
                hint=f"instances: {len(value)}")
        counts[name] = asked.get(name, value)
    return counts


def _configured(root: Path, app: AppDefinition) -> dict[str, dict[str, Any]]:
    """Each container's keys in the config file's ``sandbox`` environment (a worker's over
    the environment's; the app container's are the environment's own)."""
    from pshctl.settings import load_settings

    entry = load_settings(root).environment(registry.SANDBOX_ENVIRONMENT)
    names = ([app.name] if app.web is not None else []) + list(app.workers)
    keys: dict[str, dict[str, Any]] = {}
    for name in names:
        found: dict[str, Any] | None = None
        if entry is not None:
            found = entry.for_worker(name) if name in app.workers else entry.keys
        keys[name] = found or {}
    return keys


def require_programs(*, systemd: bool = False) -> dict[str, str]:
    if systemd and os.geteuid() != 0:
        raise SandboxUnavailable(
            "the systemd supervisor in the sandbox needs root on this machine (each "
            "container's user manager gets a delegated cgroup and a private mount namespace)",
            hint="run `pshctl sandbox up` as root, or use `--supervisor runit` (the default)",
        )
    try:
        return servers.require_programs(*PROGRAMS, *(SYSTEMD_PROGRAMS if systemd else ()))
    except servers.MissingProgram as exc:
        hint = exc.hint or ""
        if os.geteuid() == 0:
            hint += " (or run `make system-deps`)"
        raise SandboxUnavailable(f"the sandbox cannot run: {exc.message}", hint=hint) from None


def project_root(app_dir: Path, *, command: str = "up") -> Path:
    from pshctl.appdef import find_project_root, no_app_here

    root = find_project_root(Path(app_dir))
    if root is None:
        error = no_app_here(Path(app_dir).resolve())
        raise ConfigError(error.message, hint="give the project's directory (the one with "
                          f".upsun/ or .platform.app.yaml), e.g. `pshctl sandbox {command} "
                          "examples`")
    return root


def _sandbox_of(app_dir: Path, app_name: str | None, *, command: str) -> tuple[Path, str]:
    """The project root and app name whose sandbox ``down``/``status`` act on.

    A sandbox started here is found from its own state, without reading the app
    definition: a broken edit, or a checkout deleted since, must not keep it running.
    """
    from pshctl.appdef import find_project_root

    here = Path(app_dir).resolve()
    root = find_project_root(here)
    for candidate in [here, *here.parents] if root is None else [root]:
        apps = sorted(s.app for s in _states() if _same(s.project_root, candidate)
                      and app_name in (None, s.app))
        if len(apps) == 1:
            return candidate, apps[0]
        if apps:
            raise UsageError(
                f"{candidate} has a sandbox for each of several apps; choose one with -A/--app",
                hint="apps: " + ", ".join(apps),
            )
    root = project_root(app_dir, command=command)
    return root, _load_app(root, app_name).name


def _states() -> list[SandboxState]:
    top = registry.state_root()
    states = [read_state(f) for f in sorted(top.glob("*/state.json"))] if top.is_dir() else []
    return [s for s in states if s is not None]


def _same(recorded: str, directory: Path) -> bool:
    return Path(recorded).resolve() == directory


def _load_app(root: Path, name: str | None) -> AppDefinition:
    from pshctl.appdef import load_app

    return load_app(root, name)


# --- starting ------------------------------------------------------------------------


def _start(
    app: AppDefinition,
    root: Path,
    paths: SandboxPaths,
    *,
    project: str,
    previous: SandboxState | None,
    supervisors: dict[str, str],
    counts: dict[str, int] | None = None,
) -> SandboxState:
    state = SandboxState(app=app.name, project_root=str(root), user=servers.login_name())
    old_ports = {c.name: (c.ssh_port, c.web_port) for c in previous.containers} if previous else {}
    try:
        _client_key(paths)
        ca = _controlplane_ca(paths)
        containers = _containers(app, paths, counts or {})
        host_lines = []
        taken: set[int] = set()
        for container, config in containers:
            ssh_port, web_port = old_ports.get(container.name, (None, None))
            web_port = _port(web_port, taken) if container.kind == "web" else None
            env = build.container_env(
                app, config, container, project=project, web_port=web_port
            )
            kind = supervisors.get(container.worker, DEFAULT_SUPERVISOR)
            build.build_container(paths, container, config, env, app.root, kind)
            server = _start_sshd(paths, container, _port(ssh_port, taken), ca)
            record = ContainerState(
                name=container.name,
                kind=container.kind,
                root=str(container.root),
                ssh_port=server.port,
                sshd=Proc.of(server.pid),
                web_port=web_port,
                supervisor=kind,
                container=container.worker,
                instance=container.instance,
                instances=container.instances,
            )
            state.containers.append(record)
            write_state(paths.state_file, state)
            if kind == "systemd":
                _start_systemd(container, record)
                write_state(paths.state_file, state)
            host_lines.append(server.known_hosts_line())
        files.write_file(paths.known_hosts, "\n".join(host_lines) + "\n")
        runit = [c for c, _ in containers if supervisors.get(c.worker) != "systemd"]
        if runit:
            state.runsvdir = _start_runit(paths, runit)
            write_state(paths.state_file, state)
        api_port = previous.api_port if previous else None
        api_port = api_port or controlplane.previous_port(controlplane.directory_of(paths.root))
        _start_controlplane(paths, state, containers, project, _port(api_port, taken))
        write_state(paths.state_file, state)
        _wait_running(state)
        registry.write_registration(root, app.name, _registration(paths, state))
    except BaseException:
        _stop(state)
        paths.state_file.unlink(missing_ok=True)
        raise
    return state


def _outdated(app: AppDefinition, state: SandboxState, supervisors: dict[str, str],
              counts: dict[str, int] | None = None) -> bool:
    """The app's definition (or the supervisors or instances asked for) differs from,
    or is newer than, what the sandbox runs."""
    if {c.worker: c.supervisor for c in state.containers} != supervisors:
        return True
    from pshctl.targets.instances import instance_name

    counts = counts or {}
    names = [instance_name(name, n, counts.get(name, 1))
             for name in ([app.name] if app.web else []) + list(app.workers)
             for n in range(counts.get(name, 1))]
    newer = False
    for file in app.files:  # the definition and what it includes
        try:
            newer = newer or file.stat().st_mtime > state.started_at
        except OSError:
            continue
    return newer or names != [c.name for c in state.containers]


def _containers(
    app: AppDefinition, paths: SandboxPaths, counts: dict[str, int]
) -> list[tuple[ContainerPaths, ContainerConfig]]:
    """Every container to run: one per instance of the web container and of each worker."""
    containers: list[tuple[ContainerPaths, ContainerConfig]] = []
    if app.web is not None:
        count = counts.get(app.name, 1)
        containers += [(paths.web(app.name, n, count), app.web) for n in range(count)]
    for name, config in app.workers.items():
        count = counts.get(name, 1)
        containers += [(paths.worker(name, n, count), config) for n in range(count)]
    if not containers:
        raise ConfigError(
            f"app '{app.name}' has neither web.commands.start nor workers: nothing to run",
            file=str(app.source),
        )
    return containers


def _client_key(paths: SandboxPaths) -> None:
    key = servers.generate_key(paths.client_key, comment=f"pshctl-sandbox@{socket.gethostname()}")
    files.write_file(paths.authorized_keys, key.with_suffix(".pub").read_text())


def _port(preferred: int | None, taken: set[int]) -> int:
    """The previous run's port when it is free, else any free one; never one in ``taken``."""
    port = preferred if preferred and preferred not in taken and _bindable(preferred) else 0
    while not port or port in taken:
        port = servers.free_port(HOST)
    taken.add(port)
    return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _start_sshd(
    paths: SandboxPaths, container: ContainerPaths, port: int, ca: Path
) -> servers.SshServer:
    extra = "\n".join(
        [
            f"ForceCommand {shlex.quote(str(container.login))}",
            "PermitUserEnvironment no",
            "X11Forwarding no",
            # Certificates signed by the emulated control plane log in too (key id logged).
            f"TrustedUserCAKeys {ca}",
            "",
        ]
    )
    return servers.SshServer.start(
        container.ssh_dir,
        authorized_keys=paths.authorized_keys,
        port=port,
        host=HOST,
        extra_config=extra,
        log_level="INFO",
    )


def _controlplane_ca(paths: SandboxPaths) -> Path:
    """The control plane's CA key (kept across `up`s); its public half for sshd."""
    directory = controlplane.directory_of(paths.root)
    servers.generate_key(controlplane.ca_key(directory), comment="pshctl-sandbox-ca")
    return controlplane.ca_key(directory).with_suffix(".pub").resolve()


def _start_controlplane(
    paths: SandboxPaths,
    state: SandboxState,
    containers: list[tuple[ContainerPaths, ContainerConfig]],
    project: str,
    port: int,
) -> None:
    ports = {c.name: c.ssh_port for c in state.containers}
    directory = controlplane.directory_of(paths.root)
    controlplane.prepare(
        directory, project=project, app=state.app, user=state.user, port=port,
        containers=[controlplane.Container(c.name, c.kind, ports[c.name], config.start_command,
                                           worker=c.worker, instance=c.instance)
                    for c, config in containers],
    )
    state.controlplane = Proc.of(controlplane.start(directory, port))
    state.api_port = port


def _start_runit(paths: SandboxPaths, containers: list[ContainerPaths]) -> Proc:
    if paths.scan_dir.exists():
        build.remove_tree(paths.scan_dir)
    files.make_dirs(paths.scan_dir)
    for container in containers:
        link = paths.scan_dir / _scan_name(container)
        link.symlink_to(container.service, target_is_directory=True)
    runit = servers.RunitServer.start(paths.scan_dir)
    proc = Proc.of(runit.pid)
    servers.wait_supervised([c.service for c in containers], timeout=15)
    return proc


def _start_systemd(container: ContainerPaths, record: ContainerState) -> None:
    """The container's own user manager, running ``app.service``."""
    manager = servers.SystemdServer.start(container.systemd_dir)
    record.manager, record.token = Proc.of(manager.pid), manager.token
    done = manager.systemctl("start", "--", f"{SERVICE_NAME}.service")
    if done.returncode != 0:
        raise OperationFailed(f"container {container.name}: systemctl --user start "
                              f"{SERVICE_NAME} failed: {done.stderr.strip()}")


def systemd_server(container: ContainerState) -> servers.SystemdServer:
    """The recorded user manager of a systemd container (it may have gone)."""
    paths = container.paths()
    return servers.SystemdServer(paths.systemd_dir, container.token or "",
                                 container.manager.pid if container.manager else 0)


def _scan_name(container: ContainerPaths) -> str:
    return "web" if container.kind == "web" else f"worker-{container.name}"


def _wait_running(state: SandboxState) -> None:
    """Give the services a moment to be up; one that keeps crashing is not an error."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if all(service_state(c).state == "run" for c in state.containers):
            return
        time.sleep(0.05)


def _registration(paths: SandboxPaths, state: SandboxState) -> dict[str, Any]:
    """The ``sandbox`` environment entry; top-level keys are the web container's. A
    scaled container's keys are its instance 0's, with ``instances`` listing each one."""
    groups: dict[str, list[ContainerState]] = {}
    for container in state.containers:
        groups.setdefault(container.worker, []).append(container)
    entries = {name: _entry(group) for name, group in groups.items()}
    top = next((c for c in state.containers if c.kind == "web"), state.containers[0])
    return {
        "host": HOST,
        "user": state.user,
        "identity_file": str(paths.client_key),
        "known_hosts": str(paths.known_hosts),
        "service_name": SERVICE_NAME,
        **entries[top.worker],
        "workers": {name: entries[name] for name, group in groups.items()
                    if group[0].kind == "worker"},
    }


def _entry(instances: list[ContainerState]) -> dict[str, Any]:
    entry = _endpoint(instances[0])
    if len(instances) > 1:
        entry["instances"] = [_endpoint(c) for c in instances]
    return entry


def _endpoint(container: ContainerState) -> dict[str, Any]:
    """How a container is reached. Its supervisor is left to pshctl's detection, as on
    the platform."""
    paths = container.paths()
    endpoint: dict[str, Any] = {"port": container.ssh_port, "log_dir": str(paths.log_dir)}
    if container.supervisor != "systemd":
        endpoint["service_dir"] = str(paths.svdir)
    return endpoint


# --- stopping ------------------------------------------------------------------------


def _stop(state: SandboxState) -> None:
    """Stop services, then runsvdir and its runsv, then every sshd with its sessions."""
    services = [c.paths().service for c in state.containers if c.supervisor != "systemd"]
    managers = [systemd_server(c) for c in state.containers
                if c.supervisor == "systemd" and c.token]
    alive = [m for m, c in zip(managers, [c for c in state.containers
                                          if c.supervisor == "systemd" and c.token],
                               strict=True) if c.manager is not None and c.manager.alive()]
    # Every service is asked to stop at once (runit's and systemd's alike), each gets
    # the grace; then the managers go, with whatever is left in their cgroups.
    for manager in alive:
        manager.stop_units()
    servers.stop_services(services, grace=build.KILL_AFTER)
    deadline = time.monotonic() + build.KILL_AFTER
    while alive and time.monotonic() < deadline and any(m.units_active() for m in alive):
        time.sleep(0.05)
    for manager in managers:
        manager.stop(grace=0)
    if state.runsvdir is not None and state.runsvdir.alive():
        runsv = servers.children_of(state.runsvdir.pid)
        servers.terminate(state.runsvdir.pid)
        for pid in runsv:
            servers.terminate(pid, timeout=2)
    for container in state.containers:
        if container.sshd.alive():
            for pid in servers.children_of(container.sshd.pid):
                servers.terminate(pid, timeout=2)
            servers.terminate(container.sshd.pid)
    if state.controlplane is not None and state.controlplane.alive():
        servers.terminate(state.controlplane.pid)


# --- locking -------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(paths: SandboxPaths) -> Iterator[None]:
    registry.make_state_dir(paths.root)
    try:
        lock_fd = files.open_append(paths.lock_file)
    except OSError as exc:
        raise registry.state_dir_error(paths.root, exc.strerror or str(exc)) from None
    with os.fdopen(lock_fd, "a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationTimeout(
                        f"another `pshctl sandbox` command holds {paths.lock_file}"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
