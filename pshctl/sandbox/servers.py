"""Real server processes on this machine: OpenSSH's sshd, runit's runsvdir, and
``systemd --user`` managers (each with a journald).

The sandbox and the test bed both run them. Every process is started with a known PID
and stopped by that PID (a user manager and what it runs, by the cgroup made for it);
nothing here searches the process table by name.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pshctl import files
from pshctl.errors import ExitCode, PshctlError
from pshctl.sandbox.cgroups import Cgroup

# Which Debian package brings each program we drive.
PACKAGES = {
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "runsvdir": "runit",
    "runsv": "runit",
    "sv": "runit",
    "systemd": "systemd",
    "systemctl": "systemd",
    "journalctl": "systemd",
    "unshare": "util-linux",
    "nsenter": "util-linux",
}


class MissingProgram(PshctlError):
    """A system program the sandbox needs is not installed (a set-up error: exit 3)."""

    exit_code = ExitCode.CONFIG


def find_program(name: str) -> str | None:
    """``name`` on PATH, or in the sbin directories a user's PATH often lacks."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(directory) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_programs(*names: str) -> dict[str, str]:
    """Absolute paths of ``names``; one clear error naming every missing one."""
    found = {name: find_program(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        packages = sorted({PACKAGES.get(name, name) for name in missing})
        sudo = "" if os.geteuid() == 0 else "sudo "
        raise MissingProgram(
            f"missing system program(s): {', '.join(missing)}",
            hint=f"install them with: {sudo}apt-get install -y {' '.join(packages)}",
        )
    return {name: path for name, path in found.items() if path}


def login_name() -> str:
    """The account this process runs as (by uid, not $USER, which a caller may change)."""
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def generate_key(path: Path, comment: str = "pshctl") -> Path:
    """An ed25519 key pair without passphrase at ``path`` / ``path.pub`` (kept if present)."""
    if not path.exists():
        files.make_dirs(path.parent)
        keygen = require_programs("ssh-keygen")["ssh-keygen"]
        subprocess.run(
            [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    return path


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` runs and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pid: int | None, *, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
    """Send ``sig``, wait up to ``timeout`` s, then SIGKILL. Safe on a gone PID."""
    if not pid or not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.02)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            kids.append(int(entry.name))
    return kids


def _spawn(argv: list[str], log: Path | None = None,
           env: dict[str, str] | None = None) -> int:
    """Start a detached process (own session, no terminal) and return its PID."""
    out = os.fdopen(files.open_append(log), "ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            umask=0o022,  # what the servers and services create is never writable by others
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    return proc.pid


def _wait_listening(host: str, port: int, pid: int, log: Path, timeout: float = 10.0,
                    what: str = "sshd") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            _reap(pid)
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise PshctlError(f"{what} exited at start (log {log}):\n{tail.strip()}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.02)
    terminate(pid)
    raise PshctlError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s "
                      f"(log {log})")


@dataclass
class SshServer:
    """One OpenSSH sshd on a loopback port, with its own config, host key and log."""

    workdir: Path
    port: int
    pid: int
    host: str = "127.0.0.1"

    @property
    def config_file(self) -> Path:
        return self.workdir / "sshd_config"

    @property
    def log_file(self) -> Path:
        return self.workdir / "sshd.log"

    @property
    def host_key(self) -> Path:
        return self.workdir / "ssh_host_ed25519_key"

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        authorized_keys: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        extra_config: str = "",
        log_level: str = "VERBOSE",
    ) -> SshServer:
        """Write the config, make a host key if needed, start sshd and wait for it."""
        sshd = require_programs("sshd", "ssh-keygen")["sshd"]
        workdir = files.make_dirs(workdir.resolve())
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # root sshd's privsep dir
        server = cls(workdir=workdir, port=port or free_port(host), pid=0, host=host)
        generate_key(server.host_key, comment="pshctl-host")
        files.write_file(
            server.config_file, server._config(authorized_keys.resolve(), log_level) + extra_config
        )
        server.pid = _spawn(
            [sshd, "-D", "-e", "-f", str(server.config_file), "-E", str(server.log_file)],
            log=server.log_file,
        )
        files.write_file(workdir / "sshd.pid", f"{server.pid}\n")
        _wait_listening(host, server.port, server.pid, server.log_file)
        return server

    def _config(self, authorized_keys: Path, log_level: str) -> str:
        # StrictModes no: the keys live under temp or state dirs whose modes sshd
        # would otherwise judge; every path is absolute because sshd re-executes itself.
        return "\n".join(
            [
                f"Port {self.port}",
                f"ListenAddress {self.host}",
                f"HostKey {self.host_key}",
                f"PidFile {self.workdir / 'sshd.pidfile'}",
                f"AuthorizedKeysFile {authorized_keys}",
                "StrictModes no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                f"AllowUsers {login_name()}",
                "PrintMotd no",
                "PrintLastLog no",
                "Subsystem sftp internal-sftp",  # `pshctl cp`, as Platform.sh offers SFTP
                f"LogLevel {log_level}",
                "",
            ]
        )

    def known_hosts_line(self) -> str:
        """The line that makes an OpenSSH or paramiko client trust this server."""
        keytype, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        return f"{name} {keytype} {key}"

    def running(self) -> bool:
        return pid_alive(self.pid)

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes (children of the listener)."""
        return children_of(self.pid)

    def accepted_logins(self) -> int:
        """How many logins succeeded so far, read from the server's log."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return 0
        return text.count("Accepted publickey")

    def stop(self) -> None:
        for child in self.session_pids():
            terminate(child, timeout=2)
        terminate(self.pid)


@dataclass
class RunitServer:
    """runsvdir supervising every service directory in ``scan_dir``."""

    scan_dir: Path
    pid: int

    @classmethod
    def start(cls, scan_dir: Path) -> RunitServer:
        runsvdir = require_programs("runsvdir", "runsv", "sv")["runsvdir"]
        scan_dir = files.make_dirs(scan_dir.resolve())
        pid = _spawn([runsvdir, "-P", str(scan_dir)])
        files.write_file(scan_dir.parent / f"{scan_dir.name}.runsvdir.pid", f"{pid}\n")
        return cls(scan_dir=scan_dir, pid=pid)

    def running(self) -> bool:
        return pid_alive(self.pid)

    def stop(self, grace: float = 15.0) -> None:
        """Stop every service (TERM, then KILL after ``grace``), its runsv, then runsvdir."""
        services = sorted(p for p in self.scan_dir.iterdir() if (p / "run").exists())
        stop_services(services, grace=grace)
        runsv_pids = children_of(self.pid)
        # runsvdir acts on TERM only when it next wakes up (up to 5 s later); its
        # services are already stopped, so a KILL after a short grace loses nothing.
        terminate(self.pid, timeout=0.3)
        for pid in runsv_pids:
            terminate(pid, timeout=2)


def make_service(path: Path, run_script: str, *, finish_script: str | None = None) -> Path:
    """A runit service directory with ``run`` (and ``finish``) scripts, mode 755."""
    files.make_dirs(path)
    for name, body in (("run", run_script), ("finish", finish_script)):
        if body is not None:
            text = body if body.startswith("#!") else "#!/bin/sh\n" + body
            files.write_file(path / name, text, files.SCRIPT)
    return path


def service_supervised(path: Path) -> bool:
    """runsv runs for this service: its ``supervise/ok`` fifo has a reader."""
    try:
        fd = os.open(path / "supervise" / "ok", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


def wait_supervised(paths: list[Path], timeout: float = 15.0) -> None:
    """Wait until runsv runs for every service in ``paths``.

    runsvdir scans its directory at start, then only every few seconds: create the
    services before starting it when you can.
    """
    deadline = time.monotonic() + timeout
    pending = list(paths)
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if not service_supervised(p)]
        if pending:
            time.sleep(0.05)
    if pending:
        names = ", ".join(p.name for p in pending)
        raise PshctlError(f"runsvdir did not take service(s) {names} within {timeout:.0f} s")


def stop_services(services: list[Path], *, grace: float = 15.0) -> None:
    """``sv`` force-stop then exit, all services at once; each gets ``grace`` s after TERM."""
    sv = find_program("sv")
    live = [s for s in services if service_supervised(s)]
    if not sv or not live:
        return
    env = {**os.environ, "SVWAIT": str(int(max(grace, 1)))}
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [sv, "-w", str(int(max(grace, 1))), "force-stop", *map(str, live)],
            env=env, capture_output=True, timeout=grace + 10, check=False,
        )
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [sv, "exit", *map(str, live)], capture_output=True, timeout=10, check=False
        )


# --- systemd user managers ------------------------------------------------------------

JOURNALD_PATHS = ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
MANAGER_PATHS = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
# The targets a user manager needs to start units and to exit, and nothing else: the
# unit path is exactly the server's own directory, so no unit of this machine's
# /etc/systemd/user or /usr/lib/systemd/user (sockets, agents) ever starts.
BASE_UNITS = {
    "default.target": "[Unit]\nDescription=pshctl container\n",
    "basic.target": "[Unit]\nDescription=pshctl container: basic\n",
    "shutdown.target": "[Unit]\nDescription=pshctl container: shutdown\n"
                       "DefaultDependencies=no\nRefuseManualStart=yes\n",
    "exit.target": "[Unit]\nDescription=pshctl container: exit\nDefaultDependencies=no\n"
                   "Requires=systemd-exit.service\nAfter=systemd-exit.service\n",
    "systemd-exit.service": "[Unit]\nDescription=pshctl container: exit the manager\n"
                            "DefaultDependencies=no\nRequires=shutdown.target\n"
                            "After=shutdown.target\nSuccessAction=exit-force\n"
                            "[Service]\nType=oneshot\nExecStart=/bin/true\n",
}
# journald kept to this namespace: volatile storage on the private /run, no kernel log.
JOURNALD_CONF = (
    "[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\nReadKMsg=no\nForwardToSyslog=no\n"
    "ForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n"
)


class NeedsRoot(PshctlError):
    """A systemd user manager needs root here (cgroups, a mount namespace): exit 3."""

    exit_code = ExitCode.CONFIG


def _system_file(candidates: tuple[str, ...], name: str) -> str:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    raise MissingProgram(f"missing system program: {name}",
                         hint="install it with: apt-get install -y systemd")


def launcher_script(manager: SystemdServer, journald: str | None, systemd: str) -> str:
    """What runs inside the new mount namespace: a private /run (so nothing it creates
    lands on this machine's /run, and /run/systemd/system makes systemd believe it may
    run), journald in its own cgroup, then the manager in the delegated one."""
    q = shlex.quote
    uid = os.geteuid()
    into = "".join(f"echo $$ > {q(str(f))}\n" for f in manager.manager_cgroup.procs_files())
    into_journal = "".join(f"echo $$ > {q(str(f))}\n"
                           for f in manager.journal_cgroup.procs_files())
    lines = [
        "#!/bin/sh",
        "# pshctl: a systemd user manager in a private mount namespace. Generated.",
        "set -e",
        # -n: no /run/mount/utab written on the host's /run before the tmpfs hides it.
        "mount -n -t tmpfs -o mode=0755,size=64m pshctl-run /run",
        f"mkdir -p /run/systemd/system /run/systemd/journald.conf.d /run/user/{uid}",
        f"chmod 0700 /run/user/{uid}",
        f"printf %s {q(JOURNALD_CONF)} > /run/systemd/journald.conf.d/pshctl.conf",
    ]
    if journald:
        lines += [
            into_journal.rstrip("\n"),
            f"{q(journald)} </dev/null &",
            # The manager connects its services' output to journald's stdout socket.
            "i=0; while [ ! -S /run/systemd/journal/stdout ] && [ $i -lt 200 ]; do",
            "  sleep 0.02; i=$((i + 1)); done",
        ]
    lines += [
        into.rstrip("\n"),
        f"export XDG_RUNTIME_DIR=/run/user/{uid}",
        f"export SYSTEMD_UNIT_PATH={q(str(manager.unit_dir))}",
        f"exec {q(systemd)} --user",
        "",
    ]
    return "\n".join(lines)


@dataclass
class SystemdServer:
    """A real ``systemd --user`` (with its own journald) for one container.

    It runs in a private mount namespace (``unshare -m``) whose ``/run`` is a tmpfs of
    its own, in cgroups ``pshctl-<token>.slice/user@<uid>.service`` (the manager) and
    ``.../journal.scope`` (journald) made for it in every process-tracking hierarchy.
    The ``user@`` name is what journald reads a user unit's name from
    (``_SYSTEMD_USER_UNIT``). From outside, :attr:`runtime_dir` reaches its bus through
    ``/proc/<pid>/root``; a login enters its namespace with :meth:`enter_argv`.
    Stopping kills the whole cgroup and removes it, so nothing is left: no process, no
    cgroup, and no mount (the namespace goes with its last process).
    """

    workdir: Path
    token: str
    pid: int = 0
    journal: bool = True

    @property
    def slice(self) -> str:
        return f"pshctl-{self.token}.slice"

    @property
    def cgroup(self) -> Cgroup:
        return Cgroup(self.slice)

    @property
    def manager_cgroup(self) -> Cgroup:
        return Cgroup(f"{self.slice}/user@{os.geteuid()}.service")

    @property
    def journal_cgroup(self) -> Cgroup:
        return Cgroup(f"{self.slice}/journal.scope")

    @property
    def unit_dir(self) -> Path:
        return self.workdir / "units"

    @property
    def log_file(self) -> Path:
        return self.workdir / "manager.log"

    @property
    def runtime_dir(self) -> str:
        """The manager's ``XDG_RUNTIME_DIR`` as seen from outside its namespace."""
        return f"/proc/{self.pid}/root/run/user/{os.geteuid()}"

    @classmethod
    def start(cls, workdir: Path, *, token: str | None = None, journal: bool = True,
              units: dict[str, str] | None = None, timeout: float = 20.0) -> SystemdServer:
        """Start a manager whose unit path is ``workdir/units`` (``units`` written first)."""
        if os.geteuid() != 0:
            raise NeedsRoot(
                "a systemd user manager needs root on this machine (a delegated cgroup and "
                "a private mount namespace)",
                hint="run as root, or use the runit supervisor (the default)",
            )
        programs = require_programs("unshare", "nsenter", "systemctl")
        systemd = _system_file(MANAGER_PATHS, "systemd")
        journald = _system_file(JOURNALD_PATHS, "systemd-journald") if journal else None
        import secrets

        server = cls(workdir.resolve(), token or secrets.token_hex(4), journal=journal)
        files.make_dirs(server.unit_dir)
        for name, text in {**BASE_UNITS, **(units or {})}.items():
            server.write_unit(name, text)
        server.manager_cgroup.create()
        server.journal_cgroup.create()
        launcher = server.workdir / "launch"
        files.write_file(launcher, launcher_script(server, journald, systemd), files.SCRIPT)
        env = {"PATH": os.environ.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": str(server.workdir / "home"), "LANG": "C.UTF-8",
               "XDG_CONFIG_HOME": str(server.workdir / "config")}
        files.make_dirs(server.workdir / "home")
        try:
            server.pid = _spawn_env(
                [programs["unshare"], "-m", "--propagation", "private", str(launcher)],
                env, server.log_file)
            files.write_file(server.workdir / "manager.pid", f"{server.pid}\n")
            server._wait_ready(timeout)
        except BaseException:
            server.stop(grace=0)
            raise
        return server

    def write_unit(self, name: str, text: str) -> Path:
        return files.write_file(self.unit_dir / name, text)

    def env(self) -> dict[str, str]:
        return {**os.environ, "XDG_RUNTIME_DIR": self.runtime_dir}

    def systemctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """``systemctl --user ARGS`` against this manager, from outside its namespace."""
        systemctl = find_program("systemctl") or "systemctl"
        return subprocess.run([systemctl, "--user", *args], env=self.env(), text=True,
                              capture_output=True, timeout=timeout, check=False)

    def enter_argv(self) -> list[str]:
        """Prefix that runs a command inside the manager's namespace, set to talk to it."""
        return [find_program("nsenter") or "nsenter", "-t", str(self.pid), "-m", "--",
                "env", f"XDG_RUNTIME_DIR=/run/user/{os.geteuid()}"]

    def running(self) -> bool:
        return pid_alive(self.pid)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(self.pid):
                _reap(self.pid)
                tail = self.log_file.read_text(errors="replace")[-800:] \
                    if self.log_file.exists() else ""
                raise PshctlError(f"systemd --user exited at start (log {self.log_file}):\n"
                                  f"{tail.strip()}")
            if Path(self.runtime_dir, "systemd", "private").exists():
                # Not `is-system-running`: outside the namespace it sees no
                # /run/systemd/system and answers "offline".
                state = self.systemctl("show", "--property=SystemState", "--value").stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.05)
        raise PshctlError(f"systemd --user did not come up within {timeout:.0f} s "
                          f"(log {self.log_file})")

    def reload(self) -> None:
        done = self.systemctl("daemon-reload")
        if done.returncode != 0:
            raise PshctlError(f"systemctl --user daemon-reload failed: {done.stderr.strip()}")

    def units(self, suffix: str = ".service") -> list[str]:
        """The units written to its unit directory (not the base ones)."""
        return sorted(p.name for p in self.unit_dir.iterdir()
                      if p.name.endswith(suffix) and p.name not in BASE_UNITS)

    def stop(self, grace: float = 15.0) -> list[int]:
        """Stop every unit (SIGTERM, at most ``grace`` s), then kill whatever is left in
        the cgroup (manager and journald included) and remove the cgroups. Returns the
        pids that would not die (none, normally)."""
        if self.pid and pid_alive(self.pid) and grace > 0:
            self.stop_units()
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self.units_active():
                time.sleep(0.05)
        left = self.cgroup.kill()
        if self.pid:
            _reap(self.pid)
        self.cgroup.remove()
        return left

    def stop_units(self) -> None:
        """Ask every unit of its unit directory to stop (SIGTERM); returns at once."""
        units = self.units()
        if units:
            self.systemctl("stop", "--no-block", "--", *units)

    def units_active(self) -> bool:
        """Some unit of its unit directory still runs or stops."""
        units = self.units()
        if not units:
            return False
        shown = self.systemctl("show", "--property=ActiveState", "--value", "--", *units)
        if shown.returncode != 0:
            return False
        return any(word not in ("inactive", "failed") for word in shown.stdout.split())


def _spawn_env(argv: list[str], env: dict[str, str], log: Path) -> int:
    with os.fdopen(files.open_append(log), "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, env=env, umask=0o022)
    return proc.pid
