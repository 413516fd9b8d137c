"""One destination whose services are supervised by runit and by systemd at once: pshctl
finds out per service, in one round trip, and `supervisor:` in the config overrides it."""

from __future__ import annotations

import pytest

from tests.helpers import CliRunner
from tests.testbed import CRASHES, EXITS, IGNORES_TERM, PROMPT, TestBed

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("testbed", ["systemd"], indirect=True)]


def _by_name(document: dict) -> dict[str, dict]:
    return {w["name"]: w for w in document["workers"]}


def test_status_and_restart_find_each_services_supervisor(
    testbed: TestBed, cli: CliRunner
) -> None:
    testbed.add_services({"old": PROMPT, "stubborn": IGNORES_TERM}, supervisor="runit")
    testbed.add_services({"new": PROMPT, "loop": CRASHES})
    root = testbed.project(["old", "stubborn", "new", "loop"])
    logins = testbed.sshd.accepted_logins()
    status = cli("status", "--json", "-e", "test", cwd=root)
    assert testbed.sshd.accepted_logins() - logins == 1  # one destination, one connection
    workers = _by_name(status.json)
    assert {n: w["supervisor"] for n, w in workers.items()} == {
        "old": "runit", "stubborn": "runit", "new": "systemd", "loop": "systemd"}
    assert workers["old"]["restarts"] is None and workers["new"]["restarts"] == 0
    assert workers["new"]["pid"] == testbed.pid("new")

    result = cli("restart", "old", "stubborn", "new", "--grace", "1", "--verify", "1",
                 "--json", "-e", "test", cwd=root)
    assert result.exit_code == 0, result
    done = _by_name(result.json)
    assert [done[n]["stop"] for n in ("old", "stubborn", "new")] == ["exited", "killed",
                                                                      "exited"]
    for name in ("old", "stubborn", "new"):
        assert done[name]["new_pid"] == testbed.pid(name) != done[name]["old_pid"]


def test_the_supervisor_key_overrides_detection(testbed: TestBed, cli: CliRunner) -> None:
    testbed.add_service("new", PROMPT)
    root = testbed.project(["new"], overrides={"new": {"supervisor": "runit"}})
    status = cli("status", "--json", "-e", "test", cwd=root)
    (worker,) = status.json["workers"]
    assert worker["state"] == "unsupervised" and worker["supervisor"] == "runit"
    assert "unable to change to service directory" in worker["error"]
    plan = cli("restart", "new", "--dry-run", "-e", "test", cwd=root)
    assert "sv down" in plan.stdout and "systemctl" not in plan.stdout

    explicit = testbed.project(["new"], testbed.root / "explicit",
                               overrides={"new": {"supervisor": "systemd"}})
    result = cli("restart", "new", "--verify", "1", "--json", "-e", "test", cwd=explicit)
    assert result.exit_code == 0, result


def test_a_worker_that_exits_at_once_on_both(testbed: TestBed, cli: CliRunner) -> None:
    # Not awaited as running: a service that exits at once may never be sampled running
    # (runsv restarts it once a second); `looping` below waits for what the test means.
    testbed.add_service("gone", EXITS, supervisor="runit", wait=False)
    testbed.add_service("gone2", EXITS, wait=False)
    root = testbed.project(["gone", "gone2"])

    def looping() -> bool:
        workers = _by_name(cli("status", "--json", "-e", "test", cwd=root).json)
        return workers["gone2"]["restarts"] >= 1 and all(
            w["state"] in ("crash-looping", "starting") for w in workers.values())

    _until(looping, "both to be seen crash-looping")
    result = cli("restart", "gone", "gone2", "--grace", "1", "--verify", "1", "--json",
                 "-e", "test", cwd=root)
    assert result.exit_code == 1, result
    assert [w["state"] for w in result.json["workers"]] == ["crash-looping"] * 2
    assert all("did not stay up" in w["error"] or "restarted by the supervisor" in w["error"]
               for w in result.json["workers"])


def _until(check, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
