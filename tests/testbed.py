"""The test bed: a real OpenSSH sshd on 127.0.0.1 and a real runsvdir, per test.

A pytest plugin (``pytest_plugins = ["tests.testbed"]``) and a plain module that
``bench/`` scripts import. Everything it starts is stopped by PID at the end, also when
the test fails.

    bed = TestBed.start(tmp_path)
    bed.add_service("queue", "exec sleep 100000")
    root = bed.project(["queue"])      # .platform.app.yaml + .pshctl.yaml, environment "test"
    # pshctl -e test status   (from `root`)
    bed.stop()
"""

from __future__ import annotations

import json
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
    find_program,
    generate_key,
    login_name,
    make_service,
    wait_supervised,
)
from tests.helpers import wait_until

# Ready-made run scripts (the process is exec'd, so its pid is the service's pid).
PROMPT = "exec sleep 100000\n"  # exits at once on SIGTERM
IGNORES_TERM = "trap '' TERM\nexec sleep 100000\n"  # only SIGKILL stops it
CRASHES = "sleep 0.3\necho 'crashing' >&2\nexit 1\n"  # dies right after starting


@dataclass
class TestBed:
    """One sshd in ``root``; runit services are ``root/service/<name>``.

    runsvdir picks up a new service only every few seconds, but scans at once when it
    starts; so each batch of services gets its own runsvdir over a scan directory of
    symlinks, and is running as soon as ``add_services`` returns.
    """

    __test__ = False  # not a test class, despite the name

    root: Path
    sshd: SshServer
    client_key: Path
    known_hosts: Path
    user: str = field(default_factory=login_name)
    runits: list[RunitServer] = field(default_factory=list)

    @classmethod
    def start(cls, root: Path, *, sshd_config: str = "",
              remote_env: Mapping[str, str] | None = None) -> TestBed:
        """``remote_env``: variables every remote command gets, in sshd's one SetEnv line (sshd
        takes only the first SetEnv of its config: put none in ``sshd_config``)."""
        root = root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        client_key = generate_key(root / "client" / "id_ed25519", comment="pshctl-test")
        authorized = root / "authorized_keys"
        authorized.write_text(client_key.with_suffix(".pub").read_text())
        # Remote shells get a home of their own: never the machine's ~/.bashrc or ~/.profile.
        home = root / "home"
        home.mkdir(exist_ok=True)
        variables = {"HOME": str(home), **(remote_env or {})}
        set_env = "SetEnv " + " ".join(f"{k}={v}" for k, v in variables.items())
        sshd = SshServer.start(root / "sshd", authorized_keys=authorized,
                               extra_config=f"{set_env}\n{sshd_config}")
        (root / "service").mkdir(exist_ok=True)
        known_hosts = root / "known_hosts"
        known_hosts.write_text(sshd.known_hosts_line() + "\n")
        return cls(root, sshd, client_key, known_hosts)

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

    def add_service(self, name: str, run_script: str = PROMPT) -> Path:
        """A runit service whose output goes to ``log_dir(name)/app.log``; running."""
        return self.add_services({name: run_script})[0]

    def add_services(self, scripts: Mapping[str, str]) -> list[Path]:
        """Several services at once, under one new runsvdir; returns once all run."""
        scan = self.root / f"scan-{len(self.runits)}"
        scan.mkdir()
        paths = []
        for name, script in scripts.items():
            log_dir = self.log_dir(name)
            log_dir.mkdir(parents=True, exist_ok=True)
            run = (
                "#!/bin/sh\n"
                f"exec >>{shlex.quote(str(log_dir / 'app.log'))} 2>&1\n"
                f"cd {shlex.quote(str(log_dir))}\n"
                f"{script}"
            )
            path = make_service(self.service_root / name, run)
            (scan / name).symlink_to(path)
            paths.append(path)
        self.runits.append(RunitServer.start(scan))
        self.wait_up(list(scripts))
        return paths

    def wait_up(self, names: Sequence[str], timeout: float = 15.0) -> None:
        wait_supervised([self.service_root / n for n in names], timeout=timeout)
        for name in names:
            wait_until(lambda n=name: not self.sv("status", n).startswith("down:"),
                       f"{name} to run", timeout=timeout)

    def sv(self, *args: str) -> str:
        """Run `sv` locally on a service (by name) and return its output."""
        sv = find_program("sv") or "sv"
        *verbs, name = args
        proc = subprocess.run(
            [sv, *verbs, str(self.service_root / name)],
            capture_output=True, text=True, timeout=30, check=False,
        )
        return proc.stdout + proc.stderr

    def pid(self, name: str) -> int | None:
        """The service's pid as runit reports it locally (None when down)."""
        text = self.sv("status", name)
        if text.startswith("run:") and "(pid " in text:
            return int(text.split("(pid ", 1)[1].split(")", 1)[0])
        return None

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
        import os
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
        finally:
            self.sshd.stop()


def _have_servers() -> bool:
    return all(find_program(p) for p in ("sshd", "runsvdir", "sv", "ssh-keygen"))


@pytest.fixture
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBed]:
    """A fresh sshd + runsvdir for one test, stopped by PID afterwards."""
    if not _have_servers():
        pytest.fail("sshd/runit missing: run `make test` (it installs them) or scripts/system-deps")
    bed = TestBed.start(tmp_path_factory.mktemp("bed"))
    try:
        yield bed
    finally:
        bed.stop()
