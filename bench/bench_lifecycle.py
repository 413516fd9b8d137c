"""Benchmark of worker lifecycle commands against the test bed (real sshd + runit).

Reports ratios, not absolute pass/fail: run ``.venv/bin/python bench/bench_lifecycle.py``.

- restart of one worker that exits promptly on SIGTERM (``--verify 0``), vs the same
  `sv stop` + `sv start` through OpenSSH's ``ssh`` in the same run;
- ``pshctl status`` of 1 worker vs 50 workers (the 50 should cost little more);
- ``sv status`` through ``ssh`` as the baseline of a status;
- SSH connections opened per restarted worker, counted from the sshd log (must be 1);
- the same ``sv status`` from a fabric script (``Connection.run``, strict host keys) as a
  second baseline: what a hand-written Python runbook on the usual library costs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.testbed import PROMPT, TestBed  # noqa: E402

ROUNDS = 5


def timed(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Median wall time of ``fn`` in seconds."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def pshctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "pshctl", *args, "-e", "test"], cwd=root,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pshctl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def ssh(bed: TestBed, *command: str) -> str:
    proc = subprocess.run(bed.ssh_argv(*command), capture_output=True, text=True, check=False)
    return proc.stdout


# A runbook as people write it with fabric, but trusting only the bed's known host key
# (fabric's Connection would otherwise add any host key it is shown).
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


def fabric(bed: TestBed, command: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", FABRIC_SCRIPT, bed.host, str(bed.port), bed.user,
         str(bed.client_key), str(bed.known_hosts), command],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the fabric baseline failed:\n{proc.stderr}")
    return proc.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pshctl-bench-") as tmp:
        bed = TestBed.start(Path(tmp))
        try:
            run(bed, Path(tmp))
            print(f"(sshd log: {bed.sshd.log_file}; MaxStartups drops: "
                  f"{bed.sshd.log_file.read_text().count('drop connection')})")
        finally:
            bed.stop()


def run(bed: TestBed, tmp: Path) -> None:
    names = [f"w{i:02d}" for i in range(50)]
    bed.add_services({n: PROMPT for n in names})
    one = bed.project(names[:1], tmp / "one")
    many = bed.project(names, tmp / "many")
    service = str(bed.service_root / names[0])

    startup = timed(lambda: subprocess.run([sys.executable, "-m", "pshctl", "--version"],
                                           capture_output=True, check=False))
    ssh_status = timed(lambda: ssh(bed, "sv", "status", service))
    fabric_status = timed(lambda: fabric(bed, f"sv status {service}"))
    # One string: ssh hands it to the remote shell as a whole.
    ssh_restart = timed(lambda: ssh(bed, f"sv -w 15 stop {service}; sv -w 5 start {service}"))
    status_1 = timed(lambda: pshctl(one, "status"))
    status_50 = timed(lambda: pshctl(many, "status"))

    logins = bed.sshd.accepted_logins()
    restart_1 = timed(lambda: pshctl(one, "restart", names[0], "--verify", "0"))
    per_restart = (bed.sshd.accepted_logins() - logins) / ROUNDS

    logins = bed.sshd.accepted_logins()
    restart_10 = timed(lambda: pshctl(many, "restart", *names[:10], "--verify", "0"), rounds=3)
    per_worker_10 = (bed.sshd.accepted_logins() - logins) / (3 * 10)

    rows = [
        ("pshctl --version (interpreter + import)", startup, None),
        ("ssh sv status (baseline)", ssh_status, None),
        ("fabric script: sv status (baseline)", fabric_status, fabric_status / ssh_status),
        ("pshctl status, 1 worker", status_1, status_1 / ssh_status),
        ("pshctl status, 50 workers", status_50, status_50 / ssh_status),
        ("ssh sv stop && sv start (baseline)", ssh_restart, None),
        ("pshctl restart, 1 prompt worker", restart_1, restart_1 / ssh_restart),
        ("pshctl restart, 10 workers in parallel", restart_10, restart_10 / ssh_restart),
    ]
    print(f"{'measure':45} {'median':>9} {'vs ssh':>8}")
    for label, seconds, ratio in rows:
        shown = f"{ratio:7.2f}x" if ratio is not None else ""
        print(f"{label:45} {seconds * 1000:7.0f}ms {shown:>8}")
    print()
    print(f"pshctl status / fabric script:       {status_1 / fabric_status:.2f}x")
    print(f"status 50 workers / 1 worker:        {status_50 / status_1:.2f}x")
    print(f"restart 10 workers / 1 worker:       {restart_10 / restart_1:.2f}x")
    print(f"SSH connections per restart (1):     {per_restart:.2f}")
    print(f"SSH connections per worker (10):     {per_worker_10:.2f}")
    if per_restart != 1 or per_worker_10 != 1:
        raise SystemExit("expected exactly one SSH connection per restarted worker")


if __name__ == "__main__":
    main()
