"""Fan-out: many workers on separate SSH destinations, as the platform lays them out.

    .venv/bin/python bench/bench_fanout.py [--workers 200] [--restart 50] [--rounds 5]

Each worker is its own destination (its own address: 127.0.1.N), all served by one
stock sshd (MaxStartups 10:30:100, as shipped), so every worker costs a connection and
a handshake and sshd's limit on unauthenticated connections is what it is in production.
Run as root, the bench moves itself into a private network namespace whose loopback
answers on all of 127.0.0.0/8 (no traffic leaves it); elsewhere it says so and stops.

Measures, in turns and as medians:
- ``pshctl status`` of all N workers against ``pshctl status`` of one of them (goal: <= 3x);
- the same N ``sv status`` through parallel-ssh (an optional extra: ``pip install
  parallel-ssh``), at its default pool size and at the largest that loses no host to
  MaxStartups; pshctl against the fastest lossless one (goal: <= 0.5x);
- ``pshctl restart --all --verify 0`` of M workers against the restart of one (goal: <= 2x);
- SSH connections per worker (from sshd's log: exactly one) and sshd's MaxStartups drops.
The remote CPU that sshd and the commands used is measured through a cgroup (where the
handshake time goes on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    NO_BASHRC,
    CpuMeter,
    Row,
    compile_sources,
    fmt_s,
    load,
    median,
    paired,
    pshctl_argv,
    record,
    run_ok,
    time_row,
)

from pshctl.sandbox.servers import SshServer, generate_key
from tests.testbed import PROMPT, TestBed

NETNS_ENV = "PSHCTL_BENCH_NETNS"

PSSH_SCRIPT = r"""
import json, sys, time
from pssh.clients import ParallelSSHClient
spec = json.loads(sys.argv[1])
began = time.perf_counter()
client = ParallelSSHClient(spec["hosts"], port=spec["port"], user=spec["user"],
                           pkey=spec["key"], pool_size=spec["pool"], allow_agent=False)
output = client.run_command("%s", host_args=[(c,) for c in spec["commands"]],
                            stop_on_errors=False)
client.join(output)
ok = 0
for host_out in output:
    if host_out.exception is None and host_out.exit_code == 0:
        if "run:" in "".join(host_out.stdout or ()):
            ok += 1
print(json.dumps({"seconds": time.perf_counter() - began, "ok": ok}))
"""


def address(i: int) -> str:
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def in_namespace() -> bool:
    return os.environ.get(NETNS_ENV) == "1"


def enter_namespace() -> int | None:
    """Re-run this script in a private network namespace; None when that cannot be done."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        return None
    env = {**os.environ, NETNS_ENV: "1"}
    return subprocess.run([unshare, "--net", "--", sys.executable, *sys.argv], env=env,
                          check=False).returncode


def loopback_up() -> None:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)


def fanout_bed(root: Path, count: int) -> TestBed:
    """A test bed whose one sshd answers on every 127.x address of the namespace."""
    root.mkdir(parents=True, exist_ok=True)
    key = generate_key(root / "client" / "id_ed25519", comment="pshctl-bench")
    authorized = root / "authorized_keys"
    authorized.write_text(key.with_suffix(".pub").read_text())
    sshd = SshServer.start(root / "sshd", authorized_keys=authorized, host="0.0.0.0",
                           extra_config=NO_BASHRC)
    (root / "service").mkdir(exist_ok=True)
    _, keytype, blob = sshd.known_hosts_line().split()
    known_hosts = root / "known_hosts"
    known_hosts.write_text("".join(f"[{address(i)}]:{sshd.port} {keytype} {blob}\n"
                                   for i in range(count)))
    return TestBed(root, sshd, key, known_hosts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--restart", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not in_namespace():
        status = enter_namespace()
        if status is None:
            print("skipped: needs root and unshare(1) for a private network namespace")
            return 0
        return status
    loopback_up()
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        bed = fanout_bed(Path(tmp) / "bed", args.workers)
        meter = CpuMeter(bed.sshd.pid, "pshctl-bench-sshd")
        try:
            run(bed, Path(tmp), args, meter)
        finally:
            bed.stop()
            meter.close()
    return 0


def run(bed: TestBed, tmp: Path, args: argparse.Namespace, meter: CpuMeter) -> None:
    names = [f"w{i:03d}" for i in range(args.workers)]
    bed.add_services({n: PROMPT for n in names})
    hosts = {n: {"host": address(i)} for i, n in enumerate(names)}
    every = bed.project(names, tmp / "every", overrides=hosts)
    some = names[: args.restart]
    fewer = bed.project(some, tmp / "some", overrides={n: hosts[n] for n in some})
    print(f"{load()}; {args.workers} workers on {args.workers} destinations, one stock sshd; "
          f"{args.rounds} paired rounds, medians")

    def status(*only: str) -> None:
        out = run_ok(pshctl_argv("status", "-e", "test", "--json", *only), cwd=every,
                     stdout=subprocess.PIPE).stdout
        states = [w["state"] for w in json.loads(out)["workers"]]
        read = sum(state in ("up", "starting") for state in states)
        if read != (len(only) or len(names)):
            raise SystemExit(f"status lost workers: {states}")

    logins = bed.sshd.accepted_logins()
    cpu = meter.seconds()
    began = time.perf_counter()
    status()
    one_pass = time.perf_counter() - began
    per_worker = (bed.sshd.accepted_logins() - logins) / len(names)
    remote_cpu = meter.seconds() - cpu
    print(f"one status of {len(names)}: {one_pass:.2f} s wall, sshd and commands used "
          f"{remote_cpu:.2f} s CPU ({remote_cpu / len(names) * 1000:.1f} ms per connection, "
          f"{meter.how}); {per_worker:.2f} SSH connections per worker")

    times = paired(args.rounds, {"one": lambda: status(names[0]), "all": status})
    one, every_s = median(times["one"]), median(times["all"])
    time_row(f"status of {len(names)} separate workers vs of 1", every_s, "status of 1", one,
             most=3.0)

    pssh = parallel_ssh(bed, names, args.rounds)
    if pssh:
        lossless = [r for r in pssh if r["ok"] == len(names)]
        for r in pssh:
            print(f"parallel-ssh pool {r['pool']:>3}: {r['seconds']:.2f} s, "
                  f"{len(names) - r['ok']} of {len(names)} hosts lost")
        if lossless:
            best = min(lossless, key=lambda r: r["seconds"])
            time_row(f"status of {len(names)}: pshctl vs parallel-ssh", every_s,
                     f"parallel-ssh pool {best['pool']}", best["seconds"], most=0.5)
        else:
            record(Row(f"status of {len(names)}: pshctl vs parallel-ssh", fmt_s(every_s),
                       "parallel-ssh: no pool size lost no host", float("nan"), "<= 0.5x",
                       None))
    else:
        print("parallel-ssh is not installed (pip install parallel-ssh): its row is skipped")

    logins = bed.sshd.accepted_logins()

    def restart_one() -> None:
        run_ok(pshctl_argv("restart", "-e", "test", some[0], "--verify", "0"), cwd=fewer)

    def restart_all() -> None:
        run_ok(pshctl_argv("restart", "-e", "test", "--all", "--verify", "0"), cwd=fewer)

    times = paired(args.rounds, {"one": restart_one, "all": restart_all}, warmup=0)
    per_restart = (bed.sshd.accepted_logins() - logins) / (args.rounds * (len(some) + 1))
    time_row(f"restart --all of {len(some)} vs of 1 (--verify 0)", median(times["all"]),
             "restart of 1", median(times["one"]), most=2.0)
    drops = bed.sshd.log_file.read_text(errors="replace").count("drop connection")
    print(f"SSH connections per restarted worker: {per_restart:.2f}; "
          f"MaxStartups drops in the whole run: {drops}")
    if per_restart != 1:
        raise SystemExit("expected exactly one SSH connection per restarted worker")


def parallel_ssh(bed: TestBed, names: list[str], rounds: int) -> list[dict[str, float]]:
    """parallel-ssh's N ``sv status``, at its default pool and at a lossless one."""
    probe = subprocess.run([sys.executable, "-c", "import pssh.clients"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        return []
    results = []
    for pool in (100, 10):  # its default, and the most a stock sshd takes unauthenticated
        spec = {"hosts": [address(i) for i in range(len(names))], "port": bed.port,
                "user": bed.user, "key": str(bed.client_key), "pool": pool,
                "commands": [f"sv status {bed.service_root / n}" for n in names]}
        runs = []
        for _ in range(max(1, rounds // 2)):
            proc = run_ok([sys.executable, "-c", PSSH_SCRIPT, json.dumps(spec)],
                          stdout=subprocess.PIPE)
            runs.append(json.loads(proc.stdout))
        results.append({"pool": pool, "seconds": median([r["seconds"] for r in runs]),
                        "ok": min(r["ok"] for r in runs)})
    return results


if __name__ == "__main__":
    sys.exit(main())
