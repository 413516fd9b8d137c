"""Build one container on disk: code copy, mounts, environment, runit service, login.

What a container gets, as on Platform.sh:

* **Code**: a copy of the app source in ``app/`` (``.git``, virtualenvs and caches
  left out), made read-only. Running as root the modes do not stop writes (root ignores
  them); as an ordinary user they do.
* **Mounts**: each mount path in ``app/`` is a symlink to writable storage; there is no
  other writable place in ``app/``. Platform.sh's ``local`` (the default), Upsun's
  ``instance`` (``local`` is its alias) and ``tmp``/``temporary`` are the container's own
  (``mounts/<source_path>``, ``tmp/<source_path>``); ``service`` (network storage) is
  shared by every container of the sandbox that mounts the same service and
  ``source_path`` (``<state>/shared/<service>/<source_path>``), and so is Upsun's
  ``storage``, shared by the app's containers (``<state>/storage/<source_path>``; its
  ``service:`` naming another app is not followed, each app has its own sandbox).
  ``mounts: {}`` gives none.
* **Environment**: a clean one (``env -i``): ``PATH`` (the one ``sandbox up`` ran with),
  ``HOME`` = ``PLATFORM_APP_DIR``, ``LANG``, then ``variables.env.*`` named exactly as
  written, then ``PLATFORM_APPLICATION_NAME``, ``PLATFORM_PROJECT``, ``PLATFORM_BRANCH``
  and ``PLATFORM_ENVIRONMENT`` (``sandbox``), ``PLATFORM_ENVIRONMENT_TYPE``
  (``development``), ``PLATFORM_APP_DIR``; the web container also gets ``PORT``.
  The platform's names win over the app's variables, as on the platform.
* **Service** ``service/app``: ``run`` cds to ``app/``, appends stdout and stderr to
  ``log/app.log``, runs ``commands.pre_start`` when there is one (its failure is logged,
  not fatal), then execs ``bash -c START`` (bash execs the last command of its string, so
  the start command's process is the one runit signals). ``control/t`` gives
  runit the platform's stop rule: ``sv stop``/``restart`` send SIGTERM and, if the
  process still runs 15 s later, SIGKILL.
* **Or, on systemd**, the user unit ``app.service`` of the container's own user manager
  (``systemd/units/app.service``): the same start command and environment
  (``systemd/run``), restarted 1 s after it exits, for ever (as runsv does), stopped
  with SIGTERM to all its processes and SIGKILL 15 s later (``TimeoutStopSec=15``); its
  output is appended to ``log/app.log``, as on runit.
* **Login** (sshd's ``ForceCommand``): cd to ``app/``, the same environment on top of
  sshd's (``USER``, ``SSH_*``, ``TERM``...), plus ``SVDIR`` (so ``sv status app``
  works) and ``SVWAIT`` on runit, or ``XDG_RUNTIME_DIR`` on systemd, where the login
  also enters the user manager's mount namespace (its private ``/run``: its bus and its
  journal); then ``bash -c "$SSH_ORIGINAL_COMMAND"``, or an interactive ``bash -i``
  when no command was given, or the system's ``sftp-server`` for an SFTP request
  (``pshctl cp``; a forced command receives it as ``internal-sftp``).
  A container's ``/var/log`` is its ``log/``: ``/var/log/`` in the command is read as
  that directory (so what pshctl does on the platform, found through the emulated API,
  reads the sandbox's logs).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pshctl import files
from pshctl.defaults import SANDBOX_ENVIRONMENT
from pshctl.errors import ConfigError
from pshctl.sandbox.layout import SERVICE_NAME, ContainerPaths, SandboxPaths

if TYPE_CHECKING:
    from pshctl.appdef import AppDefinition, ContainerConfig

ENVIRONMENT = SANDBOX_ENVIRONMENT
KILL_AFTER = 15  # seconds between SIGTERM and SIGKILL, as on Platform.sh
SVWAIT = KILL_AFTER + 5  # `sv stop` in a login waits long enough to see the outcome
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Left out of the code copy: VCS data, virtualenvs and caches are not part of a build.
STORAGE = "storage"  # Upsun's `storage` mounts: <state>/storage, shared by the app's containers
IGNORED = (".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".pytest_cache")


@dataclass(frozen=True)
class Mount:
    path: str  # relative to the app directory
    storage: Path


def shell() -> str:
    """The shell start commands and logins run in (bash, as on the platform)."""
    return shutil.which("bash") or "/bin/sh"


def build_container(
    paths: SandboxPaths,
    container: ContainerPaths,
    config: ContainerConfig,
    env: Mapping[str, str],
    source: Path,
    supervisor: str = "runit",
) -> None:
    """(Re)write everything of one container except its mount storage and logs."""
    files.make_dirs(container.log_dir)
    mounts = resolve_mounts(paths, container, config)
    copy_code(source, container.app_dir, mounts, exclude=paths.root.parent)
    if supervisor == "systemd":
        if container.svdir.exists():  # a runit service left by an earlier `up`
            remove_tree(container.svdir)
        write_unit(container, config.start_command, env, pre_start=config.pre_start)
    else:
        write_service(container, config.start_command, env, pre_start=config.pre_start)
    files.touch(container.log_file)
    write_login(container, env, supervisor)


def resolve_mounts(
    paths: SandboxPaths, container: ContainerPaths, config: ContainerConfig
) -> list[Mount]:
    mounts = []
    for raw_path, spec in config.mounts.items():
        rel = _mount_path(raw_path, config)
        source = str(spec.get("source") or "local")
        source_path = str(spec.get("source_path") or rel).strip("/") or rel
        if source == "service":
            base = paths.shared(_service_name(spec.get("service") or "files", config))
        elif source == "storage":
            base = paths.root / STORAGE
        elif source in ("tmp", "temporary"):
            base = container.root / "tmp"
        else:
            base = container.mounts_dir
        mounts.append(Mount(rel, base / _safe(source_path, config)))
    return mounts


def _service_name(raw: object, config: ContainerConfig) -> str:
    """A ``source: service`` mount's storage is ``shared/<service>``: one plain name."""
    name = str(raw)
    if name in (".", "..") or any(c in name for c in "/\\\0") or not name.isprintable():
        raise ConfigError(
            f"{config.kind} '{config.name}': mount service {name[:80]!r} must be a plain "
            "name (no '/', not '.' or '..'): its storage stays inside the sandbox",
            file=config.file, line=config.line,
        )
    return name


def _mount_path(raw: str, config: ContainerConfig) -> str:
    rel = _safe(str(raw).strip("/"), config)
    if not rel:
        raise ConfigError(
            f"{config.kind} '{config.name}': a mount path cannot be the app directory itself",
            file=config.file, line=config.line,
        )
    return rel


def _safe(rel: str, config: ContainerConfig) -> str:
    parts = PurePosixPath(rel).parts
    if ".." in parts:
        raise ConfigError(
            f"{config.kind} '{config.name}': mount path '{rel}' leaves the app directory",
            file=config.file, line=config.line,
        )
    return str(PurePosixPath(*parts)) if parts else ""


def copy_code(
    source: Path, app_dir: Path, mounts: list[Mount], *, exclude: Path | None = None
) -> None:
    """A fresh read-only copy of ``source`` with each mount path linked to its storage.

    ``exclude`` (the sandbox's own state directory, should it live inside the source)
    and the mount paths' contents in the source are not copied.
    """
    remove_tree(app_dir)
    skip = {m.path for m in mounts}
    source = source.resolve()
    excluded = exclude.resolve() if exclude else None

    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = Path(directory).relative_to(source)
        return {
            n for n in names
            if n in IGNORED
            or (rel / n).as_posix() in skip
            or (excluded is not None and Path(directory, n) == excluded)
        }

    shutil.copytree(source, app_dir, symlinks=True, ignore=ignore)
    for mount in mounts:
        files.make_dirs(mount.storage)
        link = app_dir / mount.path
        files.make_dirs(link.parent, files.SCRIPT)  # in the code copy: read-only soon
        if link.is_symlink() or link.exists():
            remove_tree(link)
        link.symlink_to(mount.storage, target_is_directory=True)
    make_read_only(app_dir)


def make_read_only(top: Path) -> None:
    """Take the write bits off every file and directory under ``top`` (not via links)."""
    for directory, dirnames, filenames in os.walk(top, topdown=False):
        for name in [*dirnames, *filenames]:
            _chmod(Path(directory) / name, lambda m: m & ~0o222)
    _chmod(top, lambda m: m & ~0o222)


def remove_tree(path: Path) -> None:
    """Delete ``path`` even when :func:`make_read_only` went over it."""
    if path.is_symlink() or path.is_file():
        _chmod(path.parent, lambda m: m | stat.S_IWUSR)
        path.unlink()
        return
    if not path.exists():
        return
    _chmod(path, lambda m: m | stat.S_IWUSR | stat.S_IXUSR)
    for directory, dirnames, _ in os.walk(path):
        for name in dirnames:
            _chmod(Path(directory) / name, lambda m: m | stat.S_IWUSR | stat.S_IXUSR)
    shutil.rmtree(path)


def _chmod(path: Path, change: Any) -> None:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if stat.S_ISLNK(mode):
        return
    os.chmod(path, change(stat.S_IMODE(mode)))


# --- environment ---------------------------------------------------------------------


def container_env(
    app: AppDefinition,
    config: ContainerConfig,
    container: ContainerPaths,
    *,
    project: str,
    web_port: int | None = None,
) -> dict[str, str]:
    """The variables the container's process and logins see (see module docstring)."""
    app_dir = str(container.app_dir)
    env = {"PATH": os.environ.get("PATH") or DEFAULT_PATH, "HOME": app_dir, "LANG": "C.UTF-8"}
    for name, value in config.env.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ConfigError(
                f"{config.kind} '{config.name}': variables.env.{name!r} cannot be an "
                "environment variable (empty, or contains '=' or a NUL)",
                file=config.file, line=config.line,
            )
        env[name] = value
    env.update(
        PLATFORM_APPLICATION_NAME=app.name,
        PLATFORM_PROJECT=project,
        PLATFORM_BRANCH=ENVIRONMENT,
        PLATFORM_ENVIRONMENT=ENVIRONMENT,
        PLATFORM_ENVIRONMENT_TYPE="development",
        PLATFORM_APP_DIR=app_dir,
    )
    if web_port is not None:
        env["PORT"] = str(web_port)
    return env


def _env_words(env: Mapping[str, str]) -> str:
    return " ".join(shlex.quote(f"{name}={value}") for name, value in env.items())


# --- scripts -------------------------------------------------------------------------


def write_service(container: ContainerPaths, start: str, env: Mapping[str, str], *,
                  pre_start: str = "") -> None:
    """The runit service ``app``: run script and the TERM-then-KILL stop rule."""
    service = container.service
    files.make_dirs(service / "control")
    q = shlex.quote
    header = _header(container)
    log = f"exec >>{q(str(container.log_file))} 2>&1\n"
    _write_script(service / "run", _run_script(container, start, env, pre_start, log))
    _write_script(service / "control" / "t", _control_term(header))


def _header(container: ContainerPaths) -> str:
    return f"# pshctl sandbox: {container.kind} container '{container.name}'. Generated.\n"


def _run_script(container: ContainerPaths, start: str, env: Mapping[str, str],
                pre_start: str, redirect: str = "") -> str:
    """cd to the code, ``pre_start`` (logged if it fails), then exec the start command
    in the container's environment."""
    q = shlex.quote
    before = (f"env -i {_env_words(env)} {q(shell())} -c {q(pre_start)} "
              "|| echo \"pshctl sandbox: pre_start exited with status $?\"\n"
              if pre_start else "")
    return (
        "#!/bin/sh\n" + _header(container)
        + f"cd {q(str(container.app_dir))} || exit 111\n"
        + redirect
        + before
        + f"exec env -i {_env_words(env)} {q(shell())} -c {q(start)}\n"
    )


def _control_term(header: str) -> str:
    # runsv runs control/t on every TERM request (sv stop, restart, term) and sends the
    # TERM itself when the script exits non-zero. The script only arms a watchdog that
    # sends SIGKILL if that very process is still there KILL_AFTER seconds later, and
    # polls often so that it ends soon after the process does.
    ticks = KILL_AFTER * 5
    return (
        "#!/bin/sh\n" + header
        + "pid=$(cat supervise/pid 2>/dev/null)\n"
        + '[ -n "$pid" ] || exit 1\n'
        + "(\n"
        + "  i=0\n"
        + f'  while [ "$i" -lt {ticks} ]; do\n'
        + '    kill -0 "$pid" 2>/dev/null || exit 0\n'
        + "    sleep 0.2; i=$((i + 1))\n"
        + "  done\n"
        + '  kill -KILL "$pid" 2>/dev/null\n'
        + ") </dev/null >/dev/null 2>&1 &\n"
        + "exit 1\n"
    )


UNIT = """[Unit]
Description=pshctl sandbox: {kind} container '{name}'
StartLimitIntervalSec=0

[Service]
ExecStart={script}
Restart=always
RestartSec=1
TimeoutStopSec={kill_after}
StandardOutput=append:{log_file}
StandardError=inherit
SyslogIdentifier={name}
"""


def write_unit(container: ContainerPaths, start: str, env: Mapping[str, str], *,
               pre_start: str = "") -> None:
    """The systemd user unit ``app``: its run script and unit file (the unit appends
    the output to the log file itself)."""
    _write_script(container.unit_script, _run_script(container, start, env, pre_start))
    unit = container.systemd_dir / "units" / f"{SERVICE_NAME}.service"
    files.write_file(unit, UNIT.format(kind=container.kind, name=container.name,
                                script=_unit_word(container.unit_script, quote=True),
                                kill_after=KILL_AFTER,
                                log_file=_unit_word(container.log_file)))


def _unit_word(path: Path, *, quote: bool = False) -> str:
    """A path as a unit file value: ``%`` is a specifier there; ExecStart splits words."""
    text = str(path).replace("%", "%%")
    if quote:
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def write_login(container: ContainerPaths, env: Mapping[str, str],
                supervisor: str = "runit") -> None:
    """sshd's ForceCommand for this container."""
    q = shlex.quote
    app = q(str(container.app_dir))
    if supervisor == "systemd":
        login_env = {**env, "XDG_RUNTIME_DIR": f"/run/user/{os.geteuid()}"}
        pidfile = q(str(container.systemd_dir / "manager.pid"))
        nsenter = q(shutil.which("nsenter") or "/usr/bin/nsenter")
        enter = (
            f"pid=\nif [ -r {pidfile} ]; then read -r pid < {pidfile}; fi\n"
            'if [ -n "$pid" ] && [ -e "/proc/$pid/ns/mnt" ]; then\n'
            f'  set -- {nsenter} -t "$pid" -m --wd={app} --\n'
            "fi\n"
        )
    else:
        login_env = {**env, "SVDIR": str(container.svdir), "SVWAIT": str(SVWAIT)}
        enter = ""
    words = _env_words(login_env)
    sh = q(shell())
    script = (
        "#!/bin/sh\n"
        f"# pshctl sandbox: log-in to the {container.kind} container '{container.name}'.\n"
        f"cd {app} || exit 1\n"
        "set --\n"
        + enter
        + _sftp_line()
        + 'if [ -n "${SSH_ORIGINAL_COMMAND+set}" ]; then\n'
        f"{_var_log(container.log_dir)}"
        f'  exec "$@" env {words} {sh} -c "$SSH_ORIGINAL_COMMAND"\n'
        "fi\n"
        # Interactive on a terminal only: piped (`pshctl ssh < script`), `-i` would print
        # prompts and job-control warnings between the script's output.
        f'if [ -t 0 ]; then exec "$@" env {words} {sh} -i; fi\n'
        f'exec "$@" env {words} {sh}\n'
    )
    _write_script(container.login, script)


SFTP_SERVERS = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server",
                "/usr/lib/sftp-server", "/usr/libexec/sftp-server")


def _sftp_line() -> str:
    """A forced command also receives subsystem requests, as ``internal-sftp``: serve
    SFTP (``pshctl cp``) with the system's sftp-server, as the platform does."""
    found = next((p for p in SFTP_SERVERS if os.access(p, os.X_OK)), None)
    if found is None:
        return ""
    return (f'if [ "${{SSH_ORIGINAL_COMMAND-}}" = internal-sftp ]; then exec "$@" '
            f"{shlex.quote(found)}; fi\n")


def _var_log(log_dir: Path) -> str:
    """Script lines that read ``/var/log/`` in the command as the container's log dir.

    Only a directory whose name needs no quoting (nor escaping in sed) is substituted:
    it is spliced into the command text as it is.
    """
    where = str(log_dir)
    if not re.fullmatch(r"[A-Za-z0-9._/+@:-]+", where):
        return ""
    return (
        '  case "$SSH_ORIGINAL_COMMAND" in *"/var/log/"*)\n'
        "    SSH_ORIGINAL_COMMAND=$(printf '%s\\n' \"$SSH_ORIGINAL_COMMAND\" | "
        f"sed 's#/var/log/#{where}/#g');;\n"
        "  esac\n"
    )


def _write_script(path: Path, body: str) -> None:
    files.write_file(path, body, files.SCRIPT)
