"""One command on one worker, against OpenSSH's own client on the same sshd, same run.

    .venv/bin/python bench/bench_ssh.py [--rounds 20]

- ``pshctl ssh --worker W -- sv status S`` against ``ssh host sv status S``;
- ``pshctl status W`` against the same ``ssh host sv status S`` (what it runs remotely);
- for reference, the same command from a fabric script (``Connection.run``, strict host
  keys): what a hand-written Python runbook on the usual library costs.

Both clients connect anew each time, as a user's commands do; OpenSSH uses its default key
exchange (sntrup761x25519 on OpenSSH 9). The remote shell does not read ~/.bashrc.
Goals (issue 15): both <= 1.0x OpenSSH.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from common import (
    bed,
    compile_sources,
    fmt_ms,
    load,
    median,
    paired,
    pshctl_argv,
    run_ok,
    time_row,
)

from tests.testbed import PROMPT, TestBed

# A runbook as people write it with fabric, trusting only the bed's known host key.
FABRIC_SCRIPT = """
import sys, paramiko
from fabric import Connection
host, port, user, key, known_hosts, command = sys.argv[1:]
with Connection(host, user=user, port=int(port),
                connect_kwargs={"key_filename": key, "look_for_keys": False,
                                "allow_agent": False}) as c:
    c.client.load_host_keys(known_hosts)
    c.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    sys.stdout.write(c.run(command, hide=True).stdout)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="bench-ssh-") as tmp, bed(Path(tmp)) as b:
        run(b, Path(tmp), args.rounds)
    return 0


def run(b: TestBed, tmp: Path, rounds: int) -> None:
    b.add_service("w1", PROMPT)
    root = b.project(["w1"], tmp / "project")
    service = str(b.service_root / "w1")
    expect = b.sv("status", "w1").split(":", 1)[0]  # "run"

    def ssh() -> None:
        out = run_ok(b.ssh_argv("sv", "status", service), stdout=subprocess.PIPE).stdout
        assert out.decode().startswith(expect), out

    def pshctl_ssh() -> None:
        out = run_ok(pshctl_argv("ssh", "-e", "test", "--worker", "w1", "--", "sv", "status",
                                 service), cwd=root, stdout=subprocess.PIPE).stdout
        assert out.decode().startswith(expect), out

    def pshctl_status() -> None:
        run_ok(pshctl_argv("status", "-e", "test", "w1"), cwd=root)

    def fabric() -> None:
        run_ok([sys.executable, "-c", FABRIC_SCRIPT, b.host, str(b.port), b.user,
                str(b.client_key), str(b.known_hosts), f"sv status {service}"])

    print(f"{load()}; {rounds} paired rounds, medians")
    times = {name: median(t) for name, t in paired(rounds, {
        "ssh": ssh, "pshctl ssh": pshctl_ssh, "pshctl status": pshctl_status,
        "fabric": fabric}).items()}
    for name, seconds in times.items():
        print(f"  {name:<16} {seconds * 1000:7.1f} ms")
    time_row("ssh --worker W -- sv status S", times["pshctl ssh"], "OpenSSH ssh",
             times["ssh"], most=1.0, fmt=fmt_ms)
    time_row("status W", times["pshctl status"], "OpenSSH ssh sv status", times["ssh"],
             most=1.0, fmt=fmt_ms)
    time_row("(fabric script: sv status)", times["fabric"], "OpenSSH ssh", times["ssh"],
             most=None, fmt=fmt_ms)


if __name__ == "__main__":
    sys.exit(main())
