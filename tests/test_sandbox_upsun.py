"""The sandbox runs an Upsun app (`.upsun/config.yaml`) as it runs a Platform.sh one.

The example shop, rewritten in Upsun's format: the same containers (sshd, runsvdir, real
processes), the same commands; Upsun's `storage` mount shared by the app's containers, and
`commands.pre_start` run before `start`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, CliRunner
from tests.test_sandbox import _entry, _up, _wait_for, ssh, started

pytestmark = pytest.mark.integration
__all__ = ["started"]  # the fixture, used by name

UPSUN_SHOP = """\
applications:
  shop:
    type: "python:3.11"
    source:
      root: "/"
    variables:
      env:
        APP_ROLE: "none"
        JOBS_DIR: "var/jobs"
    mounts:
      "var/jobs":
        source: storage
        source_path: jobs
      "var/own":
        source: instance
        source_path: own
    web:
      commands:
        start: "python3 web.py"
    workers:
      queue:
        commands:
          pre_start: "echo prepared > var/own/pre_start"
          start: "python3 workers/queue_worker.py"
        variables:
          env:
            APP_ROLE: "worker"
            JOBS_DIR: "var/jobs"
            JOB_SECONDS: "1"
      mail:
        commands:
          start: "python3 workers/mail_worker.py"
        mounts: {}
        variables:
          env:
            APP_ROLE: "worker"
            MAIL_INTERVAL: "10"
"""


@pytest.fixture
def upsun_shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(REPO / "examples", root, ignore=shutil.ignore_patterns(
        "__pycache__", ".platform", ".platform.app.yaml"))
    (root / ".upsun").mkdir()
    (root / ".upsun" / "config.yaml").write_text(UPSUN_SHOP)
    return root


def test_an_upsun_app_runs_in_the_sandbox(
    cli: CliRunner, upsun_shop: Path, started: list[Path]
) -> None:
    status = _up(cli, upsun_shop, started)
    names = sorted(c["name"] for c in status["containers"])
    assert names == ["mail", "queue", "shop"]
    entry = _entry(upsun_shop)
    for worker in (None, "queue", "mail"):
        assert ssh(entry, worker, "sv status app").stdout.startswith("run: app: (pid ")
    # pre_start ran before start, in the container's own (instance) mount.
    _wait_for(lambda: ssh(entry, "queue", "cat var/own/pre_start").stdout == "prepared\n")
    # `storage` is shared by the app's containers; `mounts: {}` means none.
    assert ssh(entry, None, "echo hello > var/jobs/note").returncode == 0
    assert ssh(entry, "queue", "cat var/jobs/note").stdout == "hello\n"
    assert ssh(entry, "mail", "test -e var/jobs").returncode != 0
    # `instance` is each container's own.
    assert ssh(entry, None, "test -e var/own/pre_start").returncode != 0
    # pshctl's own commands work on it as on a Platform.sh app.
    result = cli("status", "--json", "-e", "sandbox", cwd=upsun_shop)
    assert result.exit_code == 0, result
