"""Instances of scaled containers: declared in config files, named, selected, batched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pshctl.context import Selection, resolve_context
from pshctl.errors import ConfigError, ExitCode, InstanceNotFound, NameNotFound
from pshctl.lifecycle import rolling_batches
from pshctl.outcome import Outcome, Results, labelled
from pshctl.targets import Target, resolve_targets
from pshctl.targets.instances import split_name

APP = """\
name: app
workers:
  queue: {commands: {start: run-queue}}
  mail: {commands: {start: run-mail}}
"""


def project(tmp_path: Path, config: dict) -> Path:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(json.dumps(config))
    return tmp_path


def resolved(root: Path, *workers: str, env: str = "self", **kwargs) -> list[Target]:
    context = resolve_context(Selection(environment=env), cwd=root)
    return resolve_targets(context, workers, **kwargs)


SELF_HOSTED = {"environments": {"self": {
    "host": "10.0.0.5", "port": 2222, "user": "deploy",
    "workers": {
        # Three units of one systemd template on one host.
        "queue": {"instances": 3, "service_name": "queue@{instance}",
                  "log_dir": "/srv/queue/{instance}/log"},
        "mail": {},
    },
}}}


# --- declaring instances ----------------------------------------------------------------


def test_a_count_gives_one_target_per_instance_numbered_in_every_key(tmp_path: Path) -> None:
    root = project(tmp_path, SELF_HOSTED)
    queue = resolved(root, "queue")
    assert [t.name for t in queue] == ["queue.0", "queue.1", "queue.2"]
    assert [t.instance for t in queue] == [0, 1, 2]
    assert {t.worker for t in queue} == {"queue"} and {t.instances for t in queue} == {3}
    assert [t.service_name for t in queue] == ["queue@0", "queue@1", "queue@2"]
    assert queue[2].log_dir == "/srv/queue/2/log"
    assert {(t.host, t.port, t.user) for t in queue} == {("10.0.0.5", 2222, "deploy")}


def test_a_worker_with_one_instance_looks_as_before(tmp_path: Path) -> None:
    [mail] = resolved(project(tmp_path, SELF_HOSTED), "mail")
    assert (mail.name, mail.worker, mail.instance, mail.instances) == ("mail", "mail", 0, 1)
    assert mail.container == "mail"


def test_a_list_gives_each_instance_its_own_endpoint(tmp_path: Path) -> None:
    config = {"environments": {"self": {"host": "10.0.0.5", "user": "deploy", "workers": {
        "queue": {"port": 22, "instances": [{"host": "10.0.0.6"}, {"host": "10.0.0.7",
                                                                     "port": 2201}]},
        "mail": {}}}}}
    queue = resolved(project(tmp_path, config), "queue")
    assert [(t.name, t.host, t.port) for t in queue] == [
        ("queue.0", "10.0.0.6", 22), ("queue.1", "10.0.0.7", 2201)]


def test_instances_that_reach_the_same_container_are_refused(tmp_path: Path) -> None:
    config = {"environments": {"self": {"host": "h", "workers": {"queue": {"instances": 2},
                                                                "mail": {}}}}}
    with pytest.raises(ConfigError) as raised:
        resolved(project(tmp_path, config), "queue")
    assert "2 instances, but some reach the same container" in raised.value.message
    assert "{instance}" in (raised.value.hint or "")


def test_the_environments_instances_are_the_app_containers_not_inherited(
        tmp_path: Path) -> None:
    config = {"environments": {"self": {"host": "web-{instance}", "instances": 2,
                                        "workers": {"queue": {"host": "q"}, "mail": {}}}}}
    root = project(tmp_path, config)
    assert [t.name for t in resolved(root)] == ["app.0", "app.1"]
    assert [t.host for t in resolved(root)] == ["web-0", "web-1"]
    assert [t.container for t in resolved(root)] == ["app", "app"]
    [queue] = resolved(root, "queue")
    assert queue.name == "queue"


def test_a_platform_environment_gives_each_instance_its_own_ssh_url(tmp_path: Path) -> None:
    config = {"environments": {"main": {
        "ssh_url": "abc-main-x--app@ssh.eu-3.platform.sh",
        "workers": {"queue": {"instances": [
            {"ssh_url": "abc-main-x--app--queue.0@ssh.eu-3.platform.sh"},
            {"ssh_url": "abc-main-x--app--queue.1@ssh.eu-3.platform.sh"}]}}}}}
    root = project(tmp_path, config)
    queue = resolved(root, "queue", env="main")
    assert [t.user for t in queue] == ["abc-main-x--app--queue.0", "abc-main-x--app--queue.1"]
    [mail] = resolved(root, "mail", env="main")
    assert mail.user == "abc-main-x--app--mail"  # the Platform.sh rule, no instance guessed


@pytest.mark.parametrize(("value", "message"), [
    (0, "must be a number of instances (1-64)"),
    (65, "must be a number of instances (1-64)"),
    (True, "must be a number of instances"),
    ("3", "must be a number of instances"),
    ([], "must be a number of instances"),
    (["x"], "instance 0: must be a mapping"),
    ([{"hots": "x"}], "instance 0: unknown key 'hots'"),
    ([{"host": "a b"}], "instance 0: host"),
    ([{"instances": 2}], "instance 0: unknown key 'instances'"),
])
def test_bad_instances_are_file_line_errors(tmp_path: Path, value: object,
                                            message: str) -> None:
    config = {"environments": {"self": {"host": "h", "workers": {"queue": {
        "instances": value}}}}}
    with pytest.raises(ConfigError) as raised:
        resolved(project(tmp_path, config), "queue")
    assert message in raised.value.message
    assert raised.value.message.startswith(".pshctl.yaml:")
    assert raised.value.exit_code == ExitCode.CONFIG


def test_a_placeholder_is_checked_as_the_names_it_becomes(tmp_path: Path) -> None:
    config = {"environments": {"self": {"host": "h", "workers": {"queue": {
        "instances": 2, "host": "q-{instance};x"}}}}}
    with pytest.raises(ConfigError) as raised:
        resolved(project(tmp_path, config), "queue")
    assert "q-0;x" in raised.value.message


# --- choosing instances -------------------------------------------------------------------


def test_worker_dot_n_and_instance_narrow_to_one_instance(tmp_path: Path) -> None:
    root = project(tmp_path, SELF_HOSTED)
    assert [t.name for t in resolved(root, "queue.2")] == ["queue.2"]
    assert [t.name for t in resolved(root, "queue.2", "queue.0")] == ["queue.0", "queue.2"]
    assert [t.name for t in resolved(root, "queue", instance=1)] == ["queue.1"]
    assert [t.name for t in resolved(root, "queue.1", "queue")] == [
        "queue.0", "queue.1", "queue.2"]  # the whole worker was asked for too
    assert [t.name for t in resolved(root, "mail", instance=0)] == ["mail"]


def test_an_instance_that_does_not_exist_lists_those_that_do(tmp_path: Path) -> None:
    root = project(tmp_path, SELF_HOSTED)
    for asked in ({"workers": ["queue"], "instance": 5}, {"workers": ["queue.5"]}):
        with pytest.raises(InstanceNotFound) as raised:
            resolved(root, *asked["workers"], instance=asked.get("instance"))
        assert raised.value.message == ("instance 5 of queue does not exist; available "
                                        "instances: 0, 1, 2")
        assert raised.value.exit_code == ExitCode.CONFIG
    with pytest.raises(InstanceNotFound, match=r"instance 1 of mail does not exist; "
                       r"available instances: 0$"):
        resolved(root, all_workers=True, instance=1)


def test_an_unknown_worker_with_a_number_is_still_an_unknown_worker(tmp_path: Path) -> None:
    with pytest.raises(NameNotFound) as raised:
        resolved(project(tmp_path, SELF_HOSTED), "queu.1")
    assert raised.value.kind == "worker"


def test_split_name() -> None:
    workers = ["queue", "a.b", "mail"]
    assert split_name("queue.2", workers) == ("queue", 2)
    assert split_name("queue", workers) == ("queue", None)
    assert split_name("a.b", workers) == ("a.b", None)  # a worker's own name wins
    assert split_name("nope.1", workers) == ("nope.1", None)
    assert split_name("queue.", workers) == ("queue.", None)


# --- rolling batches ------------------------------------------------------------------


def _target(name: str, worker: str, instance: int, instances: int) -> Target:
    return Target(name=name, worker=worker, host="h", instance=instance, instances=instances)


QUEUE = [_target(f"queue.{n}", "queue", n, 3) for n in range(3)]
MAIL = _target("mail", "mail", 0, 1)


def names(batches: list[list[Target]]) -> list[list[str]]:
    return [[t.name for t in batch] for batch in batches]


def test_batches_never_hold_every_instance_of_a_worker() -> None:
    assert names(rolling_batches(QUEUE, 1, lambda t: t)) == [["queue.0"], ["queue.1"],
                                                             ["queue.2"]]
    assert names(rolling_batches([*QUEUE, MAIL], 3, lambda t: t)) == [
        ["queue.0", "queue.1", "mail"], ["queue.2"]]
    assert names(rolling_batches(QUEUE, 10, lambda t: t)) == [["queue.0", "queue.1"],
                                                              ["queue.2"]]
    # Two of three asked for: both may go at once, the third still runs.
    assert names(rolling_batches(QUEUE[:2], 2, lambda t: t)) == [["queue.0", "queue.1"]]
    assert names(rolling_batches([MAIL], 5, lambda t: t)) == [["mail"]]


def test_every_item_is_in_exactly_one_batch_in_order_of_its_worker() -> None:
    two = [_target(f"w{w}.{n}", f"w{w}", n, 2) for w in range(4) for n in range(2)]
    for size in range(1, 9):
        batches = rolling_batches(two, size, lambda t: t)
        flat = [t for batch in batches for t in batch]
        assert sorted(t.name for t in flat) == sorted(t.name for t in two)
        for batch in batches:
            assert len(batch) <= size
            workers = [t.worker for t in batch]
            assert all(workers.count(w) < 2 for w in workers), names(batches)


# --- results per worker ---------------------------------------------------------------


def test_outcomes_are_labelled_and_grouped_per_worker() -> None:
    from pshctl.errors import OperationFailed

    outcomes = labelled([Outcome("queue.0", 1), Outcome("queue.1", None, OperationFailed("x")),
                         Outcome("mail", 1)], [*QUEUE[:2], MAIL])
    results = Results(outcomes)
    assert [(o.worker, o.instance) for o in results] == [("queue", 0), ("queue", 1),
                                                         ("mail", 0)]
    groups = results.by_worker()
    assert [(g.worker, g.ok, len(g.items)) for g in groups] == [("queue", False, 2),
                                                               ("mail", True, 1)]
    assert [o.name for o in results.of("queue")] == ["queue.0", "queue.1"]
    assert results["queue.1"].to_dict()["instance"] == 1
    with pytest.raises(OperationFailed, match=r"failed on 1 of 2 worker\(s\) \(1 of 3 "
                       r"instances\): queue.1: x"):
        results.raise_on_failure()
