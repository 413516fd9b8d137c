"""Which supervisor runs a service, found out in the first status read.

The first :meth:`Auto.status` on a session sends one command line that asks every
driver at once (``sv status ...`` and ``systemctl --user show ...``, each answer
fenced by a marker line); each driver reads its own part, and per service the driver
that knows the service wins: one whose process runs, else systemd before runit
(recent runtimes may keep a runit ``sv`` around). Later calls go straight to the
driver found, so detection costs no extra connection and no extra round trip.

A service neither driver knows is reported with both drivers' words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pshctl.supervisor import (
    AUTO,
    ProgressSink,
    Runner,
    ServiceProblem,
    ServiceState,
    Step,
    StopReport,
)
from pshctl.supervisor.driver import COMMAND_TIMEOUT, PollingDriver
from pshctl.supervisor.runit import Runit
from pshctl.supervisor.systemd import Systemd

MARK = "@@pshctl-probe"
_FENCE = re.compile(rf"^{MARK} (?P<name>\w+)(?: (?P<code>\d+))?$")


@dataclass
class _Answer:
    exit_status: int
    stdout: str
    stderr: str = ""


def preferred_drivers() -> list[PollingDriver]:
    """Every driver, in the order a tie is decided."""
    return [Systemd(), Runit()]


def probe_script(drivers: Sequence[PollingDriver], services: Sequence[str]) -> str:
    """One command line asking every driver about ``services``."""
    parts = [
        f"echo '{MARK} {d.name}'; ( {d.probe(services)} ) 2>&1; echo \"{MARK} {d.name} $?\""
        for d in drivers
    ]
    return "; ".join(parts)


def split_answers(text: str) -> dict[str, _Answer]:
    """Each driver's fenced part of the probe's output."""
    answers: dict[str, _Answer] = {}
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence is None:
            if name is not None:
                lines.append(line)
            continue
        if fence["code"] is None:
            name, lines = fence["name"], []
        elif name is not None and name == fence["name"]:
            answers[name] = _Answer(int(fence["code"]), "\n".join(lines) + "\n")
            name = None
    return answers


def choose(candidates: Sequence[tuple[PollingDriver, ServiceState]]) -> tuple[
        PollingDriver | None, ServiceState]:
    """The driver that supervises the service, with its state; else None and a problem."""
    known = [(d, s) for d, s in candidates if s.problem is None]
    if known:
        running = [(d, s) for d, s in known if s.running]
        return (running or known)[0]
    service = candidates[0][1].service
    missing = all(s.problem == "missing" for _, s in candidates)
    words = "; ".join(f"{d.name}: {s.message}" for d, s in candidates)
    what = "neither runit nor systemd knows this service" if missing else "not supervised"
    return None, ServiceState(service, problem="missing" if missing else "unsupervised",
                              message=f"{what} ({words})",
                              raw="\n".join(s.raw for _, s in candidates))


class Auto:
    """Detects the supervisor per service, then acts through the driver found."""

    name = AUTO

    def __init__(self, drivers: Sequence[PollingDriver] | None = None) -> None:
        self.drivers = list(drivers) if drivers is not None else preferred_drivers()
        self.found: dict[str, PollingDriver] = {}

    def status(self, runner: Runner, services: Sequence[str]) -> list[ServiceState]:
        if services and all(s in self.found for s in services):
            return self._known(runner, services)
        return self.detect(runner, services)

    def detect(self, runner: Runner, services: Sequence[str]) -> list[ServiceState]:
        result = runner.run(probe_script(self.drivers, services), timeout=COMMAND_TIMEOUT)
        answers = split_answers((result.stdout or "") + (result.stderr or ""))
        said = (result.stdout or "") + (result.stderr or "")
        per_driver = {
            d.name: d.parse(answers.get(d.name) or _Answer(result.exit_status, said), services)
            for d in self.drivers
        }
        states = []
        for index, service in enumerate(services):
            driver, state = choose([(d, per_driver[d.name][index]) for d in self.drivers])
            if driver is not None:
                self.found[service] = driver
            states.append(state)
        return states

    def _known(self, runner: Runner, services: Sequence[str]) -> list[ServiceState]:
        """Each driver asked once about its own services, answers kept in order."""
        by_driver: dict[str, list[str]] = {}
        for service in services:
            by_driver.setdefault(self.found[service].name, []).append(service)
        answers: dict[str, ServiceState] = {}
        for group in by_driver.values():
            driver = self.found[group[0]]
            answers.update(zip(group, driver.status(runner, group), strict=True))
        return [answers[s] for s in services]

    def driver(self, runner: Runner, service: str) -> PollingDriver:
        """The driver of ``service``, detecting it first if need be."""
        if service not in self.found:
            state = self.detect(runner, [service])[0]
            if service not in self.found:
                raise ServiceProblem(state)
        return self.found[service]

    def stop(self, runner: Runner, service: str, grace: float, *,
             progress: ProgressSink | None = None) -> StopReport:
        return self.driver(runner, service).stop(runner, service, grace, progress=progress)

    def start(self, runner: Runner, service: str, wait: float) -> ServiceState:
        return self.driver(runner, service).start(runner, service, wait)

    def plan(self, action: str, service: str, *, grace: float, wait: float) -> list[Step]:
        if action == "status":
            return [Step.of(probe_script(self.drivers, [service]),
                            "finds the supervisor and reads the state")]
        steps = []
        for driver in self.drivers:
            for step in driver.plan(action, service, grace=grace, wait=wait):
                when = f"on {driver.name}" + (f", {step.when}" if step.when else "")
                steps.append(Step(step.argv, when, step.script))
        return steps
