"""Restart of one prompt worker at the floor: pshctl vs the supervisor's own commands.

Run ``.venv/bin/python bench/bench_restart.py`` (root, for the systemd rows). Paired
runs in the same process, medians, ratios against the baseline measured alongside:

- runit: ``pshctl restart W --verify 0`` vs ``ssh 'sv stop S; sv start S'``
  (goal: <= 0.5x; ``sv``'s own waiting polls every 420 ms and looks first before runsv
  has acted, pshctl sends ``sv down``/``sv up`` and polls ``sv status`` itself);
- systemd: ``pshctl restart W --verify 0`` vs ``ssh 'systemctl --user restart U'``
  (a blocking restart job, systemd's own floor: for information);
- the first SIGTERM-to-down of a prompt worker as pshctl reports it (``stop_s``);
- the cost of the lease (pshctl/lease.py) a restart holds on the container: the same
  restart through the Python API, with the lease and without it (a connection that
  cannot open one), paired in one process (goal: <= 1.1x).

Both sides are the same worker on the same sshd, whose remote shell does not read
``~/.bashrc``; the ssh baseline pays one OpenSSH connection, pshctl its interpreter start,
one connection and its reads.
"""

from __future__ import annotations

import json
import os
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

ROUNDS = 9
# The remote shell must not read root's ~/.bashrc (pyenv's init there costs ~100 ms per
# remote command, for pshctl and for ssh alike): bash sources it for sshd only at shell
# level 1.
NO_BASHRC = "SetEnv SHLVL=1\n"


def seconds(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def paired(a: Callable[[], object], b: Callable[[], object], settle: Callable[[], object],
           rounds: int = ROUNDS) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` run alternately (one warm-up pair not counted), each
    after ``settle`` (not timed)."""
    for fn in (a, b):
        settle()
        fn()
    times_a, times_b = [], []
    for _ in range(rounds):
        settle()
        times_a.append(seconds(a))
        settle()
        times_b.append(seconds(b))
    return statistics.median(times_a), statistics.median(times_b)


# runsv starts a service no sooner than 1 s after its previous start: a restart of a
# worker that just started would measure that pause. Workers being restarted have run
# for a while; so does the bench's, before every timed restart (either side's).
SETTLED = 1.2


def settled(bed: TestBed, name: str) -> Callable[[], None]:
    def wait() -> None:
        pid, since = bed.pid(name), time.monotonic()
        while True:
            now = bed.pid(name)
            if now is not None and now != pid:
                pid, since = now, time.monotonic()
            if now is not None and time.monotonic() - since >= SETTLED:
                return
            time.sleep(0.05)

    return wait


def pshctl(root: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pshctl", *args, "-e", "test", "--json"],
                          cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pshctl {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    return json.loads(proc.stdout)


def ssh(bed: TestBed, command: str) -> None:
    proc = subprocess.run(bed.ssh_argv(command), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"ssh {command!r} failed:\n{proc.stderr}")


def bench(supervisor: str, baseline: Callable[[TestBed], str]) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory(prefix="pshctl-bench-") as tmp:
        bed = TestBed.start(Path(tmp), supervisor=supervisor, sshd_config=NO_BASHRC)
        try:
            bed.add_service("w", PROMPT)
            root = bed.project(["w"], Path(tmp) / "app")
            stops: list[float] = []

            def restart() -> None:
                (worker,) = pshctl(root, "restart", "w", "--verify", "0")["workers"]
                stops.append(worker["stop_s"])

            command = baseline(bed)
            ours, theirs = paired(restart, lambda: ssh(bed, command), settled(bed, "w"))
            leased, bare = lease_cost(root, settled(bed, "w"))
            return [(f"{supervisor}: pshctl restart --verify 0 vs ssh {command!r}",
                     ours, theirs),
                    (f"{supervisor}: SIGTERM to down, as pshctl reports it (stop_s)",
                     statistics.median(stops), float("nan")),
                    (f"{supervisor}: restart with the lease vs without (API)", leased, bare)]
        finally:
            bed.stop()


class _NoLease:
    """A session that offers only ``run``: lifecycle holds no lease on it."""

    def __init__(self, session: object) -> None:
        self._session = session

    def run(self, argv: object, *, timeout: float | None = None) -> object:
        return self._session.run(argv, timeout=timeout)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._session.close()  # type: ignore[attr-defined]

    def __enter__(self) -> _NoLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lease_cost(root: Path, settle: Callable[[], object]) -> tuple[float, float]:
    from pshctl import lifecycle
    from pshctl.api import open_environment

    env = open_environment("test", cwd=root)
    targets = env.targets(["w"])
    connect = env.connector()
    settings = lifecycle.Settings(verify=0)

    def restart(connector: lifecycle.Connector) -> None:
        results = lifecycle.act("restart", targets, settings, connector=connector)
        if results.failed:
            raise SystemExit(f"restart failed: {results.failed[0].message}")

    return paired(lambda: restart(connect), lambda: restart(lambda t: _NoLease(connect(t))),
                  settle)


def main() -> int:
    rows = bench("runit", lambda bed: f"sv stop {bed.service_root / 'w'}; "
                                      f"sv start {bed.service_root / 'w'}")
    if os.geteuid() == 0:
        rows += bench("systemd", lambda bed: "systemctl --user restart w.service")
    else:
        print("(systemd rows skipped: a user manager needs root here)")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'pshctl':>8}  {'baseline':>8}  ratio")
    for name, ours, theirs in rows:
        if theirs != theirs:  # nan: no baseline
            print(f"{name:<{width}}  {ours:8.3f}  {'':>8}")
        else:
            print(f"{name:<{width}}  {ours:8.3f}  {theirs:8.3f}  {ours / theirs:.2f}x")
    print(f"(medians of {ROUNDS} paired runs; {os.cpu_count()} CPUs; load "
          f"{os.getloadavg()[0]:.2f})")
    record_rows(rows)
    return 0


def record_rows(rows: list[tuple[str, float, float]]) -> None:
    """The rows of issue 15's table, for ``make bench`` (bench/run_all.py)."""
    from common import time_row

    for name, ours, theirs in rows:
        if name.startswith("runit: pshctl restart"):
            time_row("restart W --verify 0 (runit, prompt worker)", ours,
                     "ssh 'sv stop S; sv start S'", theirs, most=0.5)
        elif name.startswith("systemd: pshctl restart"):
            time_row("restart W --verify 0 (systemd, prompt worker)", ours,
                     "ssh 'systemctl --user restart U'", theirs, most=None)
        elif "with the lease" in name:
            time_row(f"restart W with its lease ({name.split(':')[0]})", ours,
                     "the same restart without a lease", theirs, most=1.1)


if __name__ == "__main__":
    sys.exit(main())
