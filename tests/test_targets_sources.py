"""The order of the target sources: configured, sandbox, the platform's API, the CLI.

The isolation fixture points the API at a closed local port, so a source that asked it
would fail loudly: these tests show which source answered without any server.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from pshctl.context import Selection, resolve_context
from pshctl.errors import ApiError, ExitCode
from pshctl.targets import SOURCES, Target, resolve_targets

APP = "name: app\nworkers:\n  queue: {commands: {start: q}}\n"
CONFIG = """\
project: abcdef123
region: eu-3.platform.sh
environments:
  main:
    ssh_url: abcdef123-main-x--app@ssh.eu-3.platform.sh
    identity_file: /keys/mine
  staging:
    host: 10.0.0.5
    workers:
      queue: {port: 2223}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".platform.app.yaml").write_text(APP)
    (tmp_path / ".pshctl.yaml").write_text(CONFIG)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return tmp_path


def targets(project: Path, env: str, *workers: str) -> list[Target]:
    return resolve_targets(resolve_context(Selection(environment=env), cwd=project), workers)


def test_the_order_is_documented_in_one_place() -> None:
    assert [s.__module__.rsplit(".", 1)[1] + "." + s.__name__ for s in SOURCES] == [
        "configured.resolve_explicit", "configured.resolve_platform", "api.resolve",
        "cli.resolve"]


def test_what_is_written_wins_over_the_api(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSHCTL_TOKEN", "a-token")
    [app, queue] = resolve_targets(
        resolve_context(Selection(environment="main"), cwd=project), ["queue"],
        app_container=True)
    assert (app.origin, queue.origin) == ("config", "config")
    assert queue.destination == "abcdef123-main-x--app--queue@ssh.eu-3.platform.sh"
    [explicit] = targets(project, "staging", "queue")
    assert explicit.origin == "config" and explicit.port == 2223


def test_with_a_token_an_unconfigured_environment_asks_the_api(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PSHCTL_TOKEN", "a-token")
    refused = re.escape("cannot reach the API at http://127.0.0.1:9")
    with pytest.raises(ApiError, match=refused) as info:
        targets(project, "feature-x", "queue")
    assert info.value.exit_code == ExitCode.CONNECTION
    assert "a-token" not in f"{info.value} {info.value.hint}"


def test_without_a_token_the_cli_is_asked(project: Path) -> None:
    cli = project / "bin" / "upsun"
    cli.write_text('#!/bin/sh\n[ "$1" = auth:token ] && exit 1\n'
                   'printf "abcdef123-dev-y--app@ssh.eu-3.platform.sh\\n"\n')
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    [queue] = targets(project, "dev", "queue")
    assert queue.origin == "cli"
    assert queue.destination == "abcdef123-dev-y--app--queue@ssh.eu-3.platform.sh"


def test_without_token_project_or_cli_the_error_says_what_would_help(project: Path) -> None:
    with pytest.raises(Exception, match="unknown environment 'dev'") as info:
        targets(project, "dev", "queue")
    assert "API token" in (getattr(info.value, "hint", "") or "")


def test_a_fresh_cache_answers_without_a_token(project: Path) -> None:
    """A warm run needs no credential at all: the cache has the links."""
    from pshctl.platform.cache import EnvironmentCache
    from pshctl.platform.resources import EnvironmentInfo

    EnvironmentCache("http://127.0.0.1:9/api", "abcdef123").save([EnvironmentInfo.from_json({
        "id": "dev", "name": "dev", "machine_name": "dev-1", "status": "active",
        "type": "development", "_links": {
            "pf:ssh:app": {"href": "ssh://abcdef123-dev-1--app@ssh.eu-3.platform.sh"},
            "pf:ssh:app--queue": {"href": "ssh://abcdef123-dev-1--app--queue@ssh.eu-3.platform.sh"},
        }})])
    [queue] = targets(project, "dev", "queue")
    assert queue.origin == "api" and queue.identity_file is None  # no certificate anywhere
    assert queue.destination == "abcdef123-dev-1--app--queue@ssh.eu-3.platform.sh"
    assert (queue.name, queue.instance, queue.instances) == ("queue", 0, 1)


def test_the_api_gives_one_target_per_instance_link(project: Path) -> None:
    """pf:ssh:<container>:<N> links: one target each, named queue.N, in natural order;
    -I narrows to one, and one that is not linked is a name error listing those that are."""
    from pshctl.errors import InstanceNotFound
    from pshctl.platform.cache import EnvironmentCache
    from pshctl.platform.resources import EnvironmentInfo

    host = "ssh.eu-3.platform.sh"
    links = {"pf:ssh:app": {"href": f"ssh://p-dev-1--app@{host}"}}
    for n in (10, 2, 0):  # out of order, and 10 after 2
        links[f"pf:ssh:app--queue:{n}"] = {"href": f"ssh://p-dev-1--app--queue.{n}@{host}"}
    EnvironmentCache("http://127.0.0.1:9/api", "abcdef123").save([EnvironmentInfo.from_json({
        "id": "dev", "name": "dev", "machine_name": "dev-1", "status": "active",
        "type": "development", "_links": links})])
    found = targets(project, "dev", "queue")
    assert [(t.name, t.instance, t.instances, t.container) for t in found] == [
        ("queue.0", 0, 3, "queue"), ("queue.2", 2, 3, "queue"), ("queue.10", 10, 3, "queue")]
    assert [t.user for t in found] == [f"p-dev-1--app--queue.{n}" for n in (0, 2, 10)]
    context = resolve_context(Selection(environment="dev"), cwd=project)
    [two] = resolve_targets(context, ["queue"], instance=2)
    assert two.user == "p-dev-1--app--queue.2"
    assert resolve_targets(context, ["queue.10"]) == [found[2]]
    with pytest.raises(InstanceNotFound) as missing:
        resolve_targets(context, ["queue"], instance=5)
    assert missing.value.message == ("instance 5 of queue does not exist; available "
                                     "instances: 0, 2, 10")
    [app] = resolve_targets(context, [])  # unscaled: one target, no .0
    assert (app.name, app.instance, app.instances) == ("app", 0, 1)
