"""Tab completion: the scripts, the callbacks, and what a completion request imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pshctl.cli.complete import (
    complete_app,
    complete_environment,
    complete_worker,
    scan,
)
from tests.helpers import REPO, CliResult
from tools.devtools import COMPLETION_FILES

HEAVY = ("paramiko", "fabric", "invoke", "keyring", "yaml")

APP_YAML = """\
# The shop's app definition
name: shop
type: "python:3.11"
hooks:
    build: |
        workers:
          fake: {}
        echo not a worker
workers:
    queue:
        commands:
            start: |
                python3 queue.py
                # mail: not a worker either
    "mail":   # quoted on purpose
        size: S
        commands: {start: "python3 mail.py"}
    reports:
        commands:
            start: >-
                python3 reports.py
web:
    commands:
        start: python3 web.py
"""

APPLICATIONS_YAML = """\
- name: api
  type: "python:3.11"
  source:
    root: api
  workers:
    indexer:
      commands:
        start: python3 indexer.py
- name: admin
  source:
    root: admin
  workers:
    mailer:
      commands:
        start: python3 mailer.py
    queue:
      commands:
        start: python3 q.py
"""

PSHCTL_YAML = """\
project: abcdef123
ssh:
  connect_timeout: 10
environments:
  staging:
    host: 127.0.0.1
    workers:
      queue: {port: 2223}
  main:
    ssh_url: abcdef123-main-bvxea6i--shop@ssh.eu-3.platform.sh
"""


def project(tmp_path: Path, app_yaml: str = APP_YAML) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / ".platform.app.yaml").write_text(app_yaml)
    return root


def multi_app_project(tmp_path: Path) -> Path:
    root = tmp_path / "multi"
    (root / ".platform").mkdir(parents=True)
    (root / ".platform" / "applications.yaml").write_text(APPLICATIONS_YAML)
    for sub in ("api", "admin"):
        (root / sub / "src").mkdir(parents=True)
    return root


def complete_request(words: str, cwd: Path, *, importtime: bool = False,
                     **env: str) -> subprocess.CompletedProcess[str]:
    """What bash's completion function asks pshctl when Tab is pressed after ``words``."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return subprocess.run(
        [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "pshctl"],
        cwd=cwd,
        env={**os.environ, "_PSHCTL_COMPLETE": "complete_bash", "COMP_WORDS": words,
             "COMP_CWORD": str(cword), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def heavy_imports(stderr: str) -> set[str]:
    """Heavy top-level packages in a ``-X importtime`` trace."""
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in stderr.splitlines() if line.startswith("import time:") and "|" in line}
    assert "pshctl" in names, "the trace does not cover pshctl"
    return names & set(HEAVY)


def has_custom_completion(command: list[str], param_name: str) -> bool:
    """Whether a command's parameter was given a completion callback (by the lead)."""
    from typer import _click as click
    from typer.main import get_command

    from pshctl.cli import app

    cmd = get_command(app)
    ctx = click.Context(cmd, info_name="pshctl")
    for name in command:
        cmd = cmd.get_command(ctx, name)  # type: ignore[attr-defined]
        ctx = click.Context(cmd, info_name=name, parent=ctx)
    param = next(p for p in cmd.params if p.name == param_name)
    return getattr(param, "_custom_shell_complete", None) is not None


# --- the scripts ------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_the_checked_in_script(cli, shell: str) -> None:
    result: CliResult = cli("completion", shell)
    assert result.exit_code == 0, result
    assert result.stdout == (REPO / COMPLETION_FILES[shell]).read_text()
    assert "_PSHCTL_COMPLETE=complete_" + shell in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_is_what_the_completion_protocol_generates(cli, shell: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pshctl"], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "_PSHCTL_COMPLETE": f"source_{shell}"}, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # zsh gets one more line so that loading it from $fpath also answers the first Tab.
    assert cli("completion", shell).stdout.startswith(proc.stdout.strip())


def test_unknown_shell_is_a_usage_error(cli) -> None:
    result = cli("completion", "tcsh")
    assert result.exit_code == 2, result


# --- requests through the protocol --------------------------------------------------------


def test_command_names_are_completed(tmp_path: Path) -> None:
    proc = complete_request("pshctl wor", project(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["workers"]


def test_options_are_completed(tmp_path: Path) -> None:
    proc = complete_request("pshctl completion --", project(tmp_path))
    assert "--help" in proc.stdout.split()


def test_completion_request_imports_nothing_heavy(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".pshctl.yaml").write_text(PSHCTL_YAML)
    for words in ("pshctl ", "pshctl restart q", "pshctl -e st", "pshctl workers show "):
        proc = complete_request(words, root, importtime=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert not heavy_imports(proc.stderr), words


def test_callbacks_import_nothing_heavy(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".pshctl.yaml").write_text(PSHCTL_YAML)
    code = (
        "from pshctl.cli.complete import complete_worker, complete_environment, complete_app\n"
        "print(complete_worker(''), complete_environment(''), complete_app(''))\n"
    )
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "queue" in proc.stdout and "staging" in proc.stdout
    assert not heavy_imports(proc.stderr)


def test_worker_names_for_restart(tmp_path: Path) -> None:
    if not has_custom_completion(["restart"], "workers"):
        pytest.skip("restart's WORKER argument has no autocompletion=complete_worker yet")
    root = project(tmp_path)
    proc = complete_request("pshctl restart q", root)
    assert proc.stdout.split() == ["queue"]
    proc = complete_request("pshctl restart queue ", root)
    assert proc.stdout.split() == ["mail", "reports"]  # queue is already on the line


def test_environment_names_for_the_global_option(tmp_path: Path) -> None:
    if not has_custom_completion([], "environment"):
        pytest.skip("-e/--environment has no autocompletion=complete_environment yet")
    root = project(tmp_path)
    (root / ".pshctl.yaml").write_text(PSHCTL_YAML)
    assert complete_request("pshctl -e st", root).stdout.split() == ["staging"]


# --- the callbacks --------------------------------------------------------------------


def test_workers_of_the_app_from_a_subdirectory(tmp_path: Path, monkeypatch) -> None:
    root = project(tmp_path)
    (root / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "src" / "deep")
    assert complete_worker("") == ["queue", "mail", "reports"]
    assert complete_worker("re") == ["reports"]
    assert complete_worker("x") == []


def test_no_project_means_no_suggestions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert complete_worker("") == []
    assert complete_app("") == []


def test_unreadable_definition_offers_nothing(tmp_path: Path, monkeypatch) -> None:
    root = project(tmp_path, "workers: [this is\n  : not: {yaml\n\t\x00")
    monkeypatch.chdir(root)
    assert complete_worker("") == []


def test_applications_file_all_apps_unless_one_is_chosen(tmp_path: Path, monkeypatch) -> None:
    root = multi_app_project(tmp_path)
    monkeypatch.chdir(root)
    assert complete_app("") == ["api", "admin"]
    assert complete_worker("") == ["indexer", "mailer", "queue"]
    monkeypatch.setenv("PSHCTL_APP", "admin")
    assert complete_worker("") == ["mailer", "queue"]


def test_applications_file_app_of_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    root = multi_app_project(tmp_path)
    monkeypatch.chdir(root / "api" / "src")
    assert complete_worker("") == ["indexer"]


def test_app_option_on_the_command_line_is_honoured(tmp_path: Path, monkeypatch) -> None:
    from typer import _click as click
    from typer.main import get_command

    from pshctl.cli import app

    root = multi_app_project(tmp_path)
    monkeypatch.chdir(root)
    command = get_command(app)
    ctx = command.make_context("pshctl", ["-A", "api", "workers"], resilient_parsing=True)
    assert complete_worker("", ctx) == ["indexer"]
    assert isinstance(ctx, click.Context)


def test_app_files_one_directory_down(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "repo"
    (root / ".platform").mkdir(parents=True)
    for name, worker in (("front", "renderer"), ("back", "cron-runner")):
        (root / name).mkdir()
        (root / name / ".platform.app.yaml").write_text(
            f"name: {name}\nworkers:\n  {worker}:\n    commands:\n      start: x\n")
    monkeypatch.chdir(root / "back")
    assert complete_worker("") == ["cron-runner"]
    assert complete_app("") == ["back", "front"]


def test_environments_from_config_files_sandbox_and_git(
    tmp_path: Path, monkeypatch, isolation: Path
) -> None:
    from pshctl.sandbox.registry import write_registration

    root = project(tmp_path)
    (root / ".pshctl.yaml").write_text(PSHCTL_YAML)
    user = isolation / ".config" / "pshctl" / "config.yaml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("environments:\n  personal:\n    host: example.test\n  staging: {}\n")
    subprocess.run(["git", "init", "-q", "-b", "feature/x-1.2", str(root)], check=True)
    monkeypatch.chdir(root)
    assert complete_environment("") == ["staging", "main", "personal", "feature/x-1.2"]
    write_registration(root, "shop", {"host": "127.0.0.1", "port": 2222})
    assert complete_environment("") == ["staging", "main", "personal", "sandbox", "feature/x-1.2"]
    assert complete_environment("s") == ["staging", "sandbox"]


def test_environments_without_a_project(tmp_path: Path, monkeypatch, isolation: Path) -> None:
    user = isolation / ".config" / "pshctl" / "config.yaml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("environments:\n  personal: {host: example.test}\n")
    monkeypatch.chdir(tmp_path)
    assert complete_environment("") == ["personal"]


# --- the scanner ------------------------------------------------------------------------


def test_scanner_reads_keys_not_values() -> None:
    tree = scan(APP_YAML)
    workers = tree.child("workers")
    assert workers is not None
    assert workers.keys() == ["queue", "mail", "reports"]
    assert tree.child("name").value == "shop"  # type: ignore[union-attr]
    assert tree.child("type").value == "python:3.11"  # type: ignore[union-attr]


def test_scanner_list_at_the_same_indentation_as_its_key() -> None:
    tree = scan("apps:\n- name: a\n  workers:\n    w1: {}\n- name: b\nafter: 1\n")
    apps = tree.child("apps")
    assert apps is not None
    assert [item.child("name").value for item in apps.items()] == ["a", "b"]  # type: ignore[union-attr]
    assert tree.keys() == ["apps", "after"]


def test_log_types_for_logs_type(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert complete_request("pshctl logs --type ", root).stdout.split() == [
        "app", "access", "error", "cron", "deploy", "post-deploy", "php.access", "dns", "syslog"]
    assert complete_request("pshctl logs queue -t p", root).stdout.split() == [
        "post-deploy", "php.access"]


def test_app_names_for_the_app_option(tmp_path: Path) -> None:
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "applications.yaml").write_text(
        "- name: api\n  source: {root: api}\n- name: admin\n  source: {root: admin}\n")
    for where in ("pshctl -A ", "pshctl status -A "):
        assert complete_request(where, tmp_path).stdout.split() == ["api", "admin"], where
    assert complete_request("pshctl logs --app ad", tmp_path).stdout.split() == ["admin"]
