"""The test bed: a real OpenSSH sshd on 127.0.0.1, real runsvdirs and, when asked for,
a real ``systemd --user`` (with its journald), per test.

A pytest plugin (``pytest_plugins = ["tests.testbed"]``) and a plain module that
``bench/`` scripts import. Everything it starts is stopped by PID (the user manager by
its cgroup) at the end, also when the test fails.

    bed = TestBed.start(tmp_path)                      # or supervisor="systemd"
    bed.add_service("queue", "exec sleep 100000")
    root = bed.project(["queue"])      # .platform.app.yaml + .pshctl.yaml, environment "test"
    # pshctl -e test status   (from `root`)
    bed.stop()

The ``testbed`` fixture gives a runit bed; parametrise it indirectly to run a test on
both supervisors: ``@pytest.mark.parametrize("testbed", SUPERVISORS, indirect=True)``.
A service is reached as ``<root>/service/<name>`` (runit's service directory) with the
service name ``<name>``: runit uses the directory, systemd the unit ``<name>.service``,
and pshctl's detection finds which one runs it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pshctl.sandbox.servers import (
    RunitServer,
    SshServer,
    SystemdServer,
    find_program,
    generate_key,
    login_name,
    make_service,
    wait_supervised,
)
from tests.helpers import wait_until

SUPERVISORS = ("runit", "systemd")

# Ready-made run scripts (the process is exec'd, so its pid is the service's pid).
PROMPT = "exec sleep 100000\n"  # exits at once on SIGTERM
IGNORES_TERM = "trap '' TERM\nexec sleep 100000\n"  # only SIGKILL stops it
CRASHES = "sleep 0.3\necho 'crashing' >&2\nexit 1\n"  # dies right after starting
EXITS = "exit 0\n"  # ends at once, every time it is started


def slow_stop(seconds: float, *, ready: bool = False) -> str:
    """A worker that drains for ``seconds`` after SIGTERM, then exits 0 (``ready``: it
    prints "ready" once both traps are set). Its child ignores TERM, so that the shell's
    trap is what ends the wait on both supervisors: systemd signals every process of the
    unit at once, and a child that died first would let the shell end before its trap ran.
    So "ready" comes from the child, after its own trap: from the shell, it could come
    before a loaded machine had run the child's first line (a worker that then "exited
    0.0s" on a stop)."""
    ready_line = "echo ready; " if ready else ""
    return (
        f"trap 'kill -KILL $child 2>/dev/null; sleep {seconds}; exit 0' TERM\n"
        f"(trap '' TERM; {ready_line}exec sleep 100000) &\n"
        "child=$!\nwait $child\n"
    )

# A test bed unit: restarted like runsv restarts a service (after 1 s, for ever), and
# no stop timeout of its own, so a kill after --grace can only come from pshctl.
UNIT = """[Unit]
Description=pshctl test bed: {name}
StartLimitIntervalSec=0

[Service]
ExecStart={script}
Restart=always
RestartSec=1
TimeoutStopSec=infinity
"""

# sshd's ForceCommand on a bed with a user manager: run the command (or a login shell)
# inside the manager's mount namespace, where `systemctl --user` and `journalctl` reach
# it. Shell builtins only: a test may give the remote a PATH with nothing on it.
LOGIN = """#!/bin/sh
# pshctl test bed: log in next to the systemd user manager, when one runs.
pid=
if [ -r {pidfile} ]; then read -r pid < {pidfile}; fi
if [ -n "$pid" ] && [ -e "/proc/$pid/ns/mnt" ]; then
  set -- {nsenter} -t "$pid" -m --wd="$PWD" -- {env} XDG_RUNTIME_DIR=/run/user/{uid}
fi
if [ -n "${{SSH_ORIGINAL_COMMAND+set}}" ]; then
  exec "$@" "${{SHELL:-/bin/sh}}" -c "$SSH_ORIGINAL_COMMAND"
fi
exec "$@" "${{SHELL:-/bin/sh}}" -l
"""


@dataclass
class TestBed:
    """One sshd in ``root``; runit services are ``root/service/<name>``, systemd ones
    ``<name>.service`` units of one user manager in ``root/systemd``.

    runsvdir picks up a new service only every few seconds, but scans at once when it
    starts; so each batch of runit services gets its own runsvdir over a scan directory
    of symlinks, and is running as soon as ``add_services`` returns.
    """

    __test__ = False  # not a test class, despite the name

    root: Path
    sshd: SshServer
    client_key: Path
    known_hosts: Path
    user: str = field(default_factory=login_name)
    supervisor: str = "runit"  # what add_service(s) uses unless told otherwise
    runits: list[RunitServer] = field(default_factory=list)
    systemd: SystemdServer | None = None
    kinds: dict[str, str] = field(default_factory=dict)  # service -> its supervisor

    @classmethod
    def start(cls, root: Path, *, sshd_config: str = "", supervisor: str = "runit",
              remote_env: Mapping[str, str] | None = None) -> TestBed:
        """With ``supervisor="systemd"`` the bed also runs a user manager (root only).

        ``remote_env``: variables every remote command gets, in sshd's one SetEnv line (sshd
        takes only the first SetEnv of its config: put none in ``sshd_config``).
        """
        root = root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        client_key = generate_key(root / "client" / "id_ed25519", comment="pshctl-test")
        authorized = root / "authorized_keys"
        authorized.write_text(client_key.with_suffix(".pub").read_text())
        # Remote shells get a home of their own: never the machine's ~/.bashrc or ~/.profile.
        home = root / "home"
        home.mkdir(exist_ok=True)
        # And a TMPDIR of their own (where pshctl's leases live), gone with the bed.
        (root / "tmp").mkdir(mode=0o700, exist_ok=True)
        variables = {"HOME": str(home), "TMPDIR": str(root / "tmp"), **(remote_env or {})}
        sshd_config = "SetEnv " + " ".join(f"{k}={v}" for k, v in variables.items()) + \
            "\n" + sshd_config
        if supervisor == "systemd":
            sshd_config += f"ForceCommand {_write_login(root)}\n"
        sshd = SshServer.start(root / "sshd", authorized_keys=authorized, extra_config=sshd_config)
        (root / "service").mkdir(exist_ok=True)
        known_hosts = root / "known_hosts"
        known_hosts.write_text(sshd.known_hosts_line() + "\n")
        bed = cls(root, sshd, client_key, known_hosts, supervisor=supervisor)
        if supervisor == "systemd":
            try:
                bed.systemd = SystemdServer.start(root / "systemd")
            except BaseException:
                bed.stop()
                raise
        return bed

    @property
    def host(self) -> str:
        return self.sshd.host

    @property
    def port(self) -> int:
        return self.sshd.port

    @property
    def home(self) -> Path:
        """$HOME of the remote shells (empty: no dot files of the machine are read)."""
        return self.root / "home"

    @property
    def service_root(self) -> Path:
        return self.root / "service"

    def log_dir(self, name: str) -> Path:
        return self.root / "log" / name

    def log_file(self, name: str, type: str = "app") -> Path:
        return self.log_dir(name) / f"{type}.log"

    def run_script(self, name: str) -> Path:
        """The script the service runs; rewrite it to change what the next start runs."""
        if self.kinds.get(name) == "systemd":
            return self.root / "systemd" / "scripts" / name
        return self.service_root / name / "run"

    def add_service(self, name: str, run_script: str = PROMPT, *,
                    supervisor: str | None = None, log: str = "file",
                    wait: bool = True) -> Path:
        """A service whose output goes to ``log_dir(name)/app.log``; running."""
        return self.add_services({name: run_script}, supervisor=supervisor, log=log,
                                 wait=wait)[0]

    def add_services(self, scripts: Mapping[str, str], *, supervisor: str | None = None,
                     log: str = "file", wait: bool = True) -> list[Path]:
        """Several services at once; returns once all run (``wait=False``: at once, for a
        service that exits at once, which a sample may never catch running).
        ``log="journal"`` leaves a systemd service's output to the journal instead of
        ``app.log``."""
        kind = supervisor or self.supervisor
        bodies = {name: self._script(name, script, log) for name, script in scripts.items()}
        if kind == "systemd":
            paths = self._add_units(bodies)
        else:
            paths = self._add_runit(bodies)
        self.kinds.update(dict.fromkeys(scripts, kind))
        if wait:
            self.wait_up(list(scripts))
        return paths

    def _script(self, name: str, script: str, log: str) -> str:
        log_dir = self.log_dir(name)
        log_dir.mkdir(parents=True, exist_ok=True)
        redirect = f"exec >>{shlex.quote(str(log_dir / 'app.log'))} 2>&1\n"
        return ("#!/bin/sh\n" + (redirect if log == "file" else "")
                + f"cd {shlex.quote(str(log_dir))}\n{script}")

    def _add_runit(self, bodies: Mapping[str, str]) -> list[Path]:
        scan = self.root / f"scan-{len(self.runits)}"
        scan.mkdir()
        paths = []
        for name, run in bodies.items():
            path = make_service(self.service_root / name, run)
            (scan / name).symlink_to(path)
            paths.append(path)
        self.runits.append(RunitServer.start(scan))
        wait_supervised(paths)
        return paths

    def _add_units(self, bodies: Mapping[str, str]) -> list[Path]:
        if self.systemd is None:
            raise RuntimeError("this bed runs no systemd user manager: "
                               "TestBed.start(..., supervisor='systemd')")
        scripts = self.root / "systemd" / "scripts"
        scripts.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, body in bodies.items():
            script = scripts / name
            script.write_text(body)
            script.chmod(0o755)
            paths.append(self.systemd.write_unit(f"{name}.service",
                                                 UNIT.format(name=name, script=script)))
        self.systemd.reload()
        done = self.systemd.systemctl("start", "--", *(f"{n}.service" for n in bodies))
        if done.returncode != 0:
            raise RuntimeError(f"systemctl --user start failed: {done.stderr}")
        return paths

    def wait_up(self, names: Sequence[str], timeout: float = 15.0) -> None:
        """Until each service has been started (a crashing one may be down again)."""
        for name in names:
            wait_until(lambda n=name: not self.is_down(n), f"{name} to run", timeout=timeout)

    # --- what a service is doing, seen from this machine (not through pshctl) -------

    def status_text(self, name: str) -> str:
        """The supervisor's own words: `sv status`, or systemd's unit properties."""
        if self.kinds.get(name) == "systemd":
            return self._show(name, "ActiveState", "SubState", "MainPID", "NRestarts")
        return self.sv("status", name)

    def _show(self, name: str, *keys: str) -> str:
        assert self.systemd is not None
        done = self._systemctl("show", f"--property={','.join(keys)}", "--", f"{name}.service")
        return " ".join(sorted(done.stdout.split()))

    def _systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.systemd is not None
        done = self.systemd.systemctl(*args)
        if done.returncode != 0:
            raise RuntimeError(f"systemctl --user {' '.join(args)}: {done.stderr.strip()}")
        return done

    def _props(self, name: str) -> dict[str, str]:
        text = self._show(name, "ActiveState", "SubState", "MainPID")
        return dict(word.split("=", 1) for word in text.split() if "=" in word)

    def pid(self, name: str) -> int | None:
        """The service's main pid (None when down)."""
        if self.kinds.get(name) == "systemd":
            return int(self._props(name).get("MainPID") or 0) or None
        text = self.sv("status", name)
        if text.startswith("run:") and "(pid " in text:
            return int(text.split("(pid ", 1)[1].split(")", 1)[0])
        return None

    def is_up(self, name: str) -> bool:
        """Running, and not being stopped."""
        if self.kinds.get(name) == "systemd":
            props = self._props(name)
            return (props.get("ActiveState"), props.get("SubState")) == ("active", "running")
        text = self.sv("status", name)
        return text.startswith("run:") and "want down" not in text

    def is_down(self, name: str) -> bool:
        if self.kinds.get(name) == "systemd":
            return self._props(name).get("ActiveState") in ("inactive", "failed")
        return self.sv("status", name).startswith("down:")

    def got_term(self, name: str) -> bool:
        """Sent SIGTERM and still running (a stop in progress)."""
        if self.kinds.get(name) == "systemd":
            return self._props(name).get("SubState") == "stop-sigterm"
        return "got TERM" in self.sv("status", name)

    def stopping(self, name: str) -> bool:
        """Asked to stop (by anyone) and not down yet, or down."""
        if self.kinds.get(name) == "systemd":
            return self._props(name).get("ActiveState") in ("deactivating", "inactive", "failed")
        text = self.sv("status", name)
        return "want down" in text or text.startswith("down:")

    def stop_service(self, name: str, *, wait: bool = True) -> None:
        """Stop it from outside pshctl (``wait``: until it is down)."""
        if self.kinds.get(name) == "systemd":
            self._systemctl("stop", *([] if wait else ["--no-block"]), "--", f"{name}.service")
        else:
            self.sv(*(["-w", "5", "stop"] if wait else ["down"]), name)

    def start_service(self, name: str) -> None:
        if self.kinds.get(name) == "systemd":
            self._systemctl("start", "--", f"{name}.service")
        else:
            self.sv("start", name)

    def sv(self, *args: str) -> str:
        """Run `sv` locally on a runit service (by name) and return its output."""
        sv = find_program("sv") or "sv"
        *verbs, name = args
        proc = subprocess.run(
            [sv, *verbs, str(self.service_root / name)],
            capture_output=True, text=True, timeout=30, check=False,
        )
        return proc.stdout + proc.stderr

    def environment_entry(
        self, workers: Sequence[str], overrides: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The config-file entry that targets this bed (see docs/configuration.md)."""
        entry: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "identity_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "service_dir": str(self.service_root),
            "service_name": "app",
            "log_dir": str(self.log_dir("app")),
            "workers": {
                name: {"service_name": name, "log_dir": str(self.log_dir(name))}
                for name in workers
            },
        }
        for name, values in (overrides or {}).items():
            entry["workers"].setdefault(name, {}).update(values)
        return entry

    def project(
        self,
        workers: Sequence[str],
        path: Path | None = None,
        *,
        env: str = "test",
        app: str = "app",
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        """An app dir whose workers are these services, reachable as environment ``env``.

        ``overrides`` changes a worker's endpoint, e.g. ``{"dead": {"port": 1}}``.
        """
        root = (path or self.root / "project").resolve()
        root.mkdir(parents=True, exist_ok=True)
        lines = [f"name: {app}", "type: 'python:3.11'", "disk: 256", "workers:"]
        for name in workers:
            lines += [f"    {name}:", "        commands:", f"            start: 'run-{name}'"]
        (root / ".platform.app.yaml").write_text("\n".join(lines) + "\n")
        config = {"environments": {env: self.environment_entry(workers, overrides)}}
        # JSON is valid YAML: no YAML writer needed.
        (root / ".pshctl.yaml").write_text(json.dumps(config, indent=2) + "\n")
        return root

    def ssh_argv(self, *command: str) -> list[str]:
        """OpenSSH's own client, pointed at this bed (a baseline for benches and checks)."""
        return [
            find_program("ssh") or "ssh",
            "-q",
            "-i", str(self.client_key),
            "-p", str(self.port),
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-F", "none",
            f"{self.user}@{self.host}",
            *command,
        ]

    def kill_sessions(self) -> list[int]:
        """Kill every per-connection sshd process (a dropped connection); keep the listener."""
        import signal

        killed = self.sshd.session_pids()
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return killed

    def stop(self) -> None:
        try:
            for runit in self.runits:
                runit.stop(grace=2)
            if self.systemd is not None:
                self.systemd.stop(grace=2)
        finally:
            self.sshd.stop()


def _write_login(root: Path) -> Path:
    login = root / "login"
    q = shlex.quote
    login.write_text(LOGIN.format(
        pidfile=q(str(root / "systemd" / "manager.pid")), uid=os.geteuid(),
        nsenter=q(find_program("nsenter") or "/usr/bin/nsenter"),
        env=q(find_program("env") or "/usr/bin/env"),
    ))
    login.chmod(0o755)
    return login


def _have_servers() -> bool:
    return all(find_program(p) for p in ("sshd", "runsvdir", "sv", "ssh-keygen"))


def _can_run_systemd() -> str | None:
    """Why a systemd test bed cannot run here, or None."""
    if os.geteuid() != 0:
        return "a systemd user manager needs root here (run the suite as root, as CI does)"
    missing = [p for p in ("systemctl", "nsenter", "unshare", "journalctl") if not find_program(p)]
    return f"missing: {', '.join(missing)}" if missing else None


@pytest.fixture
def testbed(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBed]:
    """A fresh sshd + runsvdir (and, parametrised with "systemd", a user manager) for
    one test, stopped by PID afterwards."""
    if not _have_servers():
        pytest.fail("sshd/runit missing: run `make test` (it installs them) or scripts/system-deps")
    supervisor = getattr(request, "param", "runit")
    if supervisor == "systemd" and (why := _can_run_systemd()):
        pytest.skip(why)
    bed = TestBed.start(tmp_path_factory.mktemp("bed"), supervisor=supervisor)
    try:
        yield bed
    finally:
        bed.stop()
