"""The sandbox's container build, without starting any process."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pshctl.appdef import load_app
from pshctl.errors import ConfigError
from pshctl.sandbox import build
from pshctl.sandbox.layout import SandboxPaths
from pshctl.sandbox.results import runit_state
from tests.helpers import REPO

APP = """\
name: shop
type: python:3.11
variables:
    env:
        SHARED: top
        PLATFORM_APPLICATION_NAME: not-this
mounts:
    "/var/files":
        source: service
        service: files
        source_path: files
    scratch:
        source: local
        source_path: scratch
workers:
    inherits:
        commands:
            start: run-me
    alone:
        commands:
            start: run-me
        variables:
            env:
                "odd-name.x": "it's \\"quoted\\" $HOME"
        mounts: {}
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "var" / "files").mkdir(parents=True)
    (root / "var" / "files" / "from-git.txt").write_text("hidden by the mount\n")
    (root / ".git").mkdir()
    (root / "main.py").write_text("print('hi')\n")
    (root / ".platform.app.yaml").write_text(APP)
    return root


def _build(app_dir: Path, tmp_path: Path, worker: str) -> tuple[SandboxPaths, dict[str, str]]:
    app = load_app(app_dir)
    paths = SandboxPaths(tmp_path / "state" / "shop-x")
    container = paths.worker(worker)
    config = app.worker(worker)
    env = build.container_env(app, config, container, project="p1")
    build.build_container(paths, container, config, env, app.root)
    return paths, env


def test_env_has_app_variables_and_platform_names_win(app_dir: Path, tmp_path: Path) -> None:
    paths, env = _build(app_dir, tmp_path, "inherits")
    app_path = str(paths.worker("inherits").app_dir)
    assert env["SHARED"] == "top"
    assert env["PLATFORM_APPLICATION_NAME"] == "shop"
    assert env["PLATFORM_PROJECT"] == "p1"
    assert env["PLATFORM_BRANCH"] == env["PLATFORM_ENVIRONMENT"] == "sandbox"
    assert env["PLATFORM_APP_DIR"] == env["HOME"] == app_path
    assert "PORT" not in env


def test_overridden_variables_replace_the_top_level_whole(app_dir: Path, tmp_path: Path) -> None:
    _, env = _build(app_dir, tmp_path, "alone")
    assert "SHARED" not in env
    assert env["odd-name.x"] == 'it\'s "quoted" $HOME'


def test_code_copy_is_read_only_and_mounts_are_links(app_dir: Path, tmp_path: Path) -> None:
    paths, _ = _build(app_dir, tmp_path, "inherits")
    app = paths.worker("inherits").app_dir
    assert (app / "main.py").read_text() == "print('hi')\n"
    assert not (app / ".git").exists()
    assert not stat.S_IMODE((app / "main.py").stat().st_mode) & 0o222
    assert not stat.S_IMODE(app.stat().st_mode) & 0o222
    files = app / "var" / "files"
    assert files.is_symlink() and files.resolve() == paths.shared("files") / "files"
    assert not (files / "from-git.txt").exists()  # the mount hides the source's content
    scratch = app / "scratch"
    assert scratch.resolve() == paths.worker("inherits").mounts_dir / "scratch"
    assert os.access(scratch.resolve(), os.W_OK)


def test_no_mounts_means_no_writable_place(app_dir: Path, tmp_path: Path) -> None:
    paths, _ = _build(app_dir, tmp_path, "alone")
    app = paths.worker("alone").app_dir
    links = [p for p in app.rglob("*") if p.is_symlink()]
    assert links == []
    assert (app / "var" / "files" / "from-git.txt").exists()  # plain source, read-only


def test_rebuild_replaces_the_read_only_copy(app_dir: Path, tmp_path: Path) -> None:
    _build(app_dir, tmp_path, "inherits")
    (app_dir / "main.py").write_text("print('v2')\n")
    paths, _ = _build(app_dir, tmp_path, "inherits")
    assert (paths.worker("inherits").app_dir / "main.py").read_text() == "print('v2')\n"
    build.remove_tree(paths.root)
    assert not paths.root.exists()


def test_run_script_passes_values_through_unchanged(app_dir: Path, tmp_path: Path) -> None:
    paths, env = _build(app_dir, tmp_path, "alone")
    run = (paths.worker("alone").service / "run").read_text()
    # Replace the final exec's command by `env` to see what the process would get.
    script = run.replace("-c run-me", "-c 'env -0'").replace("exec >>", ": ")
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    got = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    assert got["odd-name.x"] == env["odd-name.x"]
    assert {k for k in got if k not in env} <= {"PWD", "SHLVL", "_", "OLDPWD"}


def test_mount_outside_the_app_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / ".platform.app.yaml").write_text(
        "name: bad\nmounts:\n  '../up': {source: local, source_path: up}\n"
        "workers:\n  w:\n    commands: {start: x}\n"
    )
    with pytest.raises(ConfigError, match="leaves the app directory"):
        _build(root, tmp_path, "w")


def test_service_state_without_runsv(tmp_path: Path) -> None:
    assert runit_state(tmp_path).state == "none"
    (tmp_path / "run").write_text("#!/bin/sh\n")
    assert runit_state(tmp_path).state == "unsupervised"


def test_example_app_uses_inheritance() -> None:
    app = load_app(REPO / "examples")
    assert app.web is not None and app.web.start_command
    assert set(app.workers) == {"queue", "mail"}
    assert "mounts" in app.workers["queue"].inherited
    assert app.workers["mail"].mounts == {}
    assert shutil.which("python3")


def test_login_without_a_terminal_reads_commands_quietly(app_dir: Path, tmp_path: Path) -> None:
    paths, _env = _build(app_dir, tmp_path, "inherits")
    container = paths.worker("inherits")
    clean = {k: v for k, v in os.environ.items() if k != "SSH_ORIGINAL_COMMAND"}
    result = subprocess.run(
        [str(container.login)], input="pwd; exit 4\n", capture_output=True, text=True,
        env=clean, timeout=30, check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        4, f"{container.app_dir}\n", ""
    )


UPSUN_APP = """\
applications:
  shop:
    mounts:
      shared: {source: storage, source_path: s}
      own: {source: instance, source_path: o}
      alias: {source: local, source_path: a}
      scratch: {source: temporary, source_path: t}
      net: {source: service, service: files, source_path: n}
    workers:
      w:
        commands:
          pre_start: echo before
          start: run-me
"""


def test_upsun_mount_sources(tmp_path: Path) -> None:
    root = tmp_path / "up"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(UPSUN_APP)
    paths, _ = _build(root, tmp_path, "w")
    container = paths.worker("w")
    app = container.app_dir
    assert (app / "shared").resolve() == paths.root / build.STORAGE / "s"
    assert (app / "own").resolve() == container.mounts_dir / "o"
    assert (app / "alias").resolve() == container.mounts_dir / "a"
    assert (app / "scratch").resolve() == container.root / "tmp" / "t"
    assert (app / "net").resolve() == paths.shared("files") / "n"


def test_pre_start_runs_before_start(tmp_path: Path) -> None:
    root = tmp_path / "up"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(UPSUN_APP)
    paths, _ = _build(root, tmp_path, "w")
    run = (paths.worker("w").service / "run").read_text()
    assert run.index("-c 'echo before'") < run.index("exec env -i")


@pytest.mark.parametrize("service", ["../../escape", "a/b", ".."])
def test_mount_service_name_stays_in_the_state_directory(tmp_path: Path, service: str) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / ".platform.app.yaml").write_text(
        f"name: bad\nmounts:\n  'm': {{source: service, service: '{service}'}}\n"
        "workers:\n  w:\n    commands: {start: x}\n"
    )
    with pytest.raises(ConfigError, match="must be a plain"):
        _build(root, tmp_path, "w")
