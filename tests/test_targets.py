"""Target resolution: explicit environments, the sandbox, and Platform.sh SSH URLs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pshctl.context import Selection, resolve_context
from pshctl.errors import ConfigError, ExitCode, NameNotFound
from pshctl.sandbox.registry import write_registration
from pshctl.targets import (
    Target,
    compose_ssh_url,
    parse_ssh_url,
    resolve_targets,
    worker_ssh_url,
)

APP = """\
name: app
workers:
  queue: {commands: {start: run-queue}}
  mail: {commands: {start: run-mail}}
"""

CONFIG = """\
project: abcdef123
region: eu-3.platform.sh
environments:
  staging:
    host: 10.0.0.5
    port: 2222
    user: deploy
    service_dir: /etc/service
    workers:
      queue: {port: 2223, service_dir: /srv/queue/service, log_dir: /srv/queue/log}
      mail: {}
  main:
    ssh_url: abcdef123-main-bvxea6i--app@ssh.eu-3.platform.sh
  composed:
    machine_name: composed-x1y2z3
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def no_platform_cli(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    empty = tmp_path_factory.mktemp("empty-path")
    monkeypatch.setenv("PATH", str(empty))
    return empty


def targets(project: Path, env: str, *workers: str, **kwargs: bool) -> list[Target]:
    context = resolve_context(Selection(environment=env), cwd=project)
    return resolve_targets(context, workers, **kwargs)


# --- the --<worker> rule ---------------------------------------------------------------


def test_worker_url_appends_worker_to_the_user_part() -> None:
    app_url = "abcdef123-main-bvxea6i--app@ssh.eu-3.platform.sh"
    assert worker_ssh_url(app_url, "queue") == (
        "abcdef123-main-bvxea6i--app--queue@ssh.eu-3.platform.sh"
    )
    assert worker_ssh_url("ssh://u@h.example", "w") == "ssh://u--w@h.example"
    with pytest.raises(ConfigError):
        worker_ssh_url("ssh.eu-3.platform.sh", "queue")


def test_compose_and_parse() -> None:
    assert compose_ssh_url("abc", "main-x1", "app", "eu-3.platform.sh") == (
        "abc-main-x1--app@ssh.eu-3.platform.sh"
    )
    bare_region = compose_ssh_url("abc", "main-x1", "app", "us-2")
    assert bare_region == "abc-main-x1--app@ssh.us-2.platform.sh"
    assert parse_ssh_url("u@h") == ("u", "h", None)
    assert parse_ssh_url("ssh://u@h:2200") == ("u", "h", 2200)
    assert parse_ssh_url("h") == (None, "h", None)


def test_platform_sh_targets_from_ssh_url(project: Path) -> None:
    app, queue = targets(project, "main", "queue", app_container=True)
    assert app == Target(
        name="app", worker=None, host="ssh.eu-3.platform.sh",
        user="abcdef123-main-bvxea6i--app", environment="main",
    )
    assert queue.destination == "abcdef123-main-bvxea6i--app--queue@ssh.eu-3.platform.sh"
    # Platform.sh defaults: sv's own service directory, service "app", logs in /var/log.
    assert (queue.service_dir, queue.service_name, queue.log_dir) == (None, "app", "/var/log")
    assert queue.service == "app"


def test_platform_sh_composed_from_machine_name(project: Path, no_platform_cli: Path) -> None:
    [mail] = targets(project, "composed", "mail")
    assert mail.destination == "abcdef123-composed-x1y2z3--app--mail@ssh.eu-3.platform.sh"


def fake_cli(directory: Path, name: str, script: str) -> Path:
    """A stand-in CLI that is not logged in: it has no access token to lend pshctl."""
    path = directory / name
    path.write_text(f'#!/bin/sh\n[ "$1" = auth:token ] && exit 1\n{script}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_platform_cli_asked_only_when_needed(project: Path, no_platform_cli: Path) -> None:
    calls = no_platform_cli / "calls"
    fake_cli(no_platform_cli, "platform",
             f'echo "$@" >> {calls}; printf "abcdef123-dev-q1w2e3--app@ssh.eu-3.platform.sh"')
    app, queue = targets(project, "dev", "queue", app_container=True)
    assert app.destination == "abcdef123-dev-q1w2e3--app@ssh.eu-3.platform.sh"
    assert queue.destination == "abcdef123-dev-q1w2e3--app--queue@ssh.eu-3.platform.sh"
    assert calls.read_text() == "ssh --pipe -p abcdef123 -e dev -A app\n"  # once
    targets(project, "main", "queue")
    targets(project, "staging", "queue")
    assert calls.read_text().count("\n") == 1


def test_upsun_cli_works_too(project: Path, no_platform_cli: Path) -> None:
    fake_cli(no_platform_cli, "upsun", 'printf "p-e--app@ssh.ca-1.platform.sh\\n"')
    [app] = targets(project, "dev")
    assert app.destination == "p-e--app@ssh.ca-1.platform.sh"


def test_platform_cli_failure_is_a_config_error(project: Path, no_platform_cli: Path) -> None:
    fake_cli(no_platform_cli, "platform", 'echo "Environment not found: dev" >&2; exit 1')
    with pytest.raises(ConfigError, match="Environment not found: dev"):
        targets(project, "dev")


def test_unknown_environment_lists_valid_names(tmp_path: Path, no_platform_cli: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(CONFIG.replace("project: abcdef123\n", ""))
    with pytest.raises(NameNotFound) as info:
        targets(tmp_path, "stagign", "queue")
    assert "did you mean 'staging'?" in str(info.value)
    assert info.value.exit_code == ExitCode.CONFIG
    assert "composed, main, staging" in (info.value.hint or "")


def test_platform_sh_missing_region(tmp_path: Path, no_platform_cli: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text("project: p\nenvironments:\n  e: {machine_name: e-1}\n")
    with pytest.raises(ConfigError, match="cannot work out the SSH address") as info:
        targets(tmp_path, "e")
    assert "region" in (info.value.hint or "")


# --- explicit environments -------------------------------------------------------------


def test_explicit_environment_workers_inherit_its_keys(project: Path) -> None:
    app, queue, mail = targets(project, "staging", "queue", "mail", app_container=True)
    assert app == Target(
        name="app", worker=None, host="10.0.0.5", user="deploy", port=2222,
        service_dir="/etc/service", environment="staging",
    )
    assert (queue.host, queue.user, queue.port) == ("10.0.0.5", "deploy", 2223)
    assert queue.service == "/srv/queue/service/app"
    assert queue.log_dir == "/srv/queue/log"
    assert (mail.port, mail.service_dir, mail.log_dir) == (2222, "/etc/service", "/var/log")


def test_selection_rules(project: Path) -> None:
    assert [t.name for t in targets(project, "staging")] == ["app"]
    assert [t.name for t in targets(project, "staging", all_workers=True)] == ["queue", "mail"]
    assert [t.name for t in targets(project, "staging", "mail", "queue", "mail")] == [
        "mail", "queue",
    ]
    everything = targets(project, "staging", all_workers=True, app_container=True)
    assert [t.worker for t in everything] == [None, "queue", "mail"]


def test_unknown_worker(project: Path) -> None:
    with pytest.raises(NameNotFound) as info:
        targets(project, "staging", "qeue")
    assert str(info.value) == "unknown worker 'qeue'; did you mean 'queue'?"
    assert info.value.hint == "valid worker names: mail, queue"


def test_explicit_environment_without_the_worker(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(
        "environments:\n  box:\n    host: h\n    workers:\n      queue: {}\n"
    )
    expected = r"'box' \(\.pshctl\.yaml:2\) has no entry for worker 'mail'"
    with pytest.raises(ConfigError, match=expected):
        targets(tmp_path, "box", "mail")


# --- the sandbox -----------------------------------------------------------------------


def test_sandbox_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSHCTL_STATE_DIR", str(tmp_path / "state"))
    project = tmp_path / "project"
    project.mkdir()
    (project / ".platform.app.yaml").write_text(APP)
    with pytest.raises(ConfigError, match="no sandbox is set up") as info:
        targets(project, "sandbox")
    assert "pshctl sandbox up" in (info.value.hint or "")
    write_registration(project, "app", {
        "host": "127.0.0.1", "port": 40022, "user": os.environ.get("USER", "me"),
        "known_hosts": "/tmp/kh", "service_dir": "/tmp/svc",
        "workers": {"queue": {"service_name": "queue"}, "mail": {"service_name": "mail"}},
        "pid": 1234,  # bookkeeping of the sandbox itself: ignored
    })
    [queue] = targets(project, "sandbox", "queue")
    assert (queue.host, queue.port, queue.known_hosts) == ("127.0.0.1", 40022, "/tmp/kh")
    assert queue.service == "/tmp/svc/queue"


def test_configured_sandbox_wins_over_registration(project: Path) -> None:
    (project / ".pshctl.yaml").write_text(
        "environments:\n  sandbox: {host: box, workers: {queue: {}}}\n"
    )
    [queue] = targets(project, "sandbox", "queue")
    assert queue.host == "box"


# --- explicit entries, whole -----------------------------------------------------------

MIXED = """\
environments:
  urls:
    ssh_url: ssh://u@h.example:2200
    workers:
      queue: {ssh_url: ssh://q@qh.example}
      mail: {host: mh, log_dir: /l, supervisor: systemd, service_name: mailer}
  partial:
    workers:
      queue: {host: qh}
      mail: {port: 2}
"""


def test_explicit_entries_whole(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(MIXED)
    app, queue, mail = targets(tmp_path, "urls", "queue", "mail", app_container=True)
    assert app == Target(name="app", worker=None, host="h.example", user="u", port=2200,
                         environment="urls")
    assert queue == Target(name="queue", worker="queue", host="qh.example", user="q",
                           environment="urls")
    # A worker's own host: nothing of the environment's ssh_url is taken for it.
    assert mail == Target(name="mail", worker="mail", host="mh", log_dir="/l",
                          supervisor="systemd", service_name="mailer", environment="urls")
    (queue,) = targets(tmp_path, "partial", "queue")
    assert queue == Target(name="queue", worker="queue", host="qh", environment="partial")


def test_explicit_entries_name_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(MIXED)
    with pytest.raises(ConfigError) as info:
        targets(tmp_path, "partial", "mail")
    assert str(info.value) == "environment 'partial': no host for worker 'mail'"
    assert info.value.hint == "defined at .pshctl.yaml:7"
    with pytest.raises(ConfigError) as info:
        targets(tmp_path, "partial", app_container=True)
    assert str(info.value) == "environment 'partial': no host for the app container"
    (tmp_path / ".pshctl.yaml").write_text(
        "environments:\n  box:\n    host: h\n    workers:\n      queue: {}\n")
    with pytest.raises(ConfigError) as info:
        targets(tmp_path, "box", "mail")
    assert str(info.value) == "environment 'box' (.pshctl.yaml:2) has no entry for worker 'mail'"
    assert info.value.hint == "add it under environments.box.workers (configured workers: queue)"
    (tmp_path / ".pshctl.yaml").write_text("environments:\n  box:\n    host: h\n")
    with pytest.raises(ConfigError) as info:
        targets(tmp_path, "box", "mail")
    assert info.value.hint == "add it under environments.box.workers (configured workers: none)"


def test_composed_urls() -> None:
    assert compose_ssh_url("p1", "main-x", "app", "eu-3") == "p1-main-x--app@ssh.eu-3.platform.sh"
    assert compose_ssh_url("p1", "main-x", "web", "ca-1.platform.sh") == (
        "p1-main-x--web@ssh.ca-1.platform.sh")


def test_entries_made_in_code_have_no_origin_to_name(tmp_path: Path) -> None:
    from pshctl.settings import EnvironmentEntry
    from pshctl.targets.configured import explicit_targets

    context = resolve_context(Selection(environment="e"), cwd=_app(tmp_path))
    bare = EnvironmentEntry("e", keys={"host": "h"}, workers={"a": {}, "b": {}})
    with pytest.raises(ConfigError) as info:
        explicit_targets(context, bare, ["q"], with_app=False)
    assert str(info.value) == "environment 'e' has no entry for worker 'q'"
    assert info.value.hint == "add it under environments.e.workers (configured workers: a, b)"
    hostless = EnvironmentEntry("e", workers={"q": {"port": 2}})
    with pytest.raises(ConfigError) as info:
        explicit_targets(context, hostless, ["q"], with_app=False)
    assert (str(info.value), info.value.hint) == (
        "environment 'e': no host for worker 'q'", None)


def test_instances_that_are_one_container_are_refused_naming_which(tmp_path: Path) -> None:
    from pshctl.settings import EnvironmentEntry
    from pshctl.targets.configured import explicit_targets

    (_app(tmp_path) / ".pshctl.yaml").write_text(
        "environments:\n  box:\n    host: h\n    workers:\n      queue: {instances: 2}\n")
    with pytest.raises(ConfigError) as info:
        targets(tmp_path, "box", "queue")
    assert str(info.value) == ("environment 'box', worker 'queue' (.pshctl.yaml:2): 2 instances,"
                               " but some reach the same container (h, port 22, service app)")
    context = resolve_context(Selection(environment="e"), cwd=tmp_path)
    made_in_code = EnvironmentEntry("e", keys={"host": "h", "instances": 2})
    with pytest.raises(ConfigError) as info:
        explicit_targets(context, made_in_code, [], with_app=True)
    assert str(info.value) == ("environment 'e': 2 instances, but some reach the same container"
                               " (h, port 22, service app)")


def _app(root: Path) -> Path:
    (root / ".platform.app.yaml").write_text(APP)
    return root


def test_an_environments_own_region_wins(tmp_path: Path, no_platform_cli: Path) -> None:
    (_app(tmp_path) / ".pshctl.yaml").write_text(
        "project: p1\nregion: eu-3\nenvironments:\n"
        "  main: {machine_name: main-x, region: us-2}\n  dev: {machine_name: dev-y}\n")
    (main,) = targets(tmp_path, "main", app_container=True)
    assert (main.user, main.host) == ("p1-main-x--app", "ssh.us-2.platform.sh")
    (dev,) = targets(tmp_path, "dev", app_container=True)
    assert (dev.user, dev.host) == ("p1-dev-y--app", "ssh.eu-3.platform.sh")
