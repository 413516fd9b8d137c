"""Project, environment and app resolution: flag > PSHCTL_* > PLATFORM_* > files > default."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pshctl.context import Selection, git_branch, resolve_app, resolve_context
from pshctl.errors import ConfigError, NameNotFound, UsageError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\nworkers:\n  queue: {commands: {start: run}}\n"
    )
    return tmp_path


def git_init(root: Path, branch: str) -> None:
    subprocess.run(["git", "init", "-q", "-b", branch, str(root)], check=True)


def test_everything_from_flags(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSHCTL_PROJECT", "env-project")
    monkeypatch.setenv("PSHCTL_ENVIRONMENT", "env-environment")
    context = resolve_context(Selection("flag-project", "flag-env", "app"), cwd=project)
    assert context.root == project.resolve()
    assert (context.project, context.environment, context.app.name) == (
        "flag-project", "flag-env", "app",
    )


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"PSHCTL_PROJECT": "a", "PLATFORM_PROJECT": "b"}, "a"),
        ({"PLATFORM_PROJECT": "b"}, "b"),
        ({"PSHCTL_PROJECT": "", "PLATFORM_PROJECT": "b"}, "b"),  # empty means unset
        ({}, "local-id"),
    ],
)
def test_project_precedence(
    project: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    (project / ".platform" / "local").mkdir(parents=True)
    (project / ".platform" / "local" / "project.yaml").write_text("id: local-id\nhost: x\n")
    (project / ".pshctl.yaml").write_text("project: config-id\n")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert resolve_context(Selection(environment="e"), cwd=project).project == expected


def test_project_from_config_files(project: Path) -> None:
    (project / ".pshctl.yaml").write_text("project: config-id\n")
    assert resolve_context(Selection(environment="e"), cwd=project).project == "config-id"
    (project / ".pshctl.yaml").unlink()
    assert resolve_context(Selection(environment="e"), cwd=project).project is None


def test_environment_precedence(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(project, "feature-x")
    assert resolve_context(Selection(), cwd=project).environment == "feature-x"
    monkeypatch.setenv("PLATFORM_BRANCH", "platform-branch")
    assert resolve_context(Selection(), cwd=project).environment == "platform-branch"
    monkeypatch.setenv("PSHCTL_ENVIRONMENT", "pshctl-env")
    assert resolve_context(Selection(), cwd=project).environment == "pshctl-env"
    assert resolve_context(Selection(environment="flag"), cwd=project).environment == "flag"


def test_git_branch_from_a_subdirectory_and_without_commits(project: Path) -> None:
    git_init(project, "main")
    (project / "src").mkdir()
    assert git_branch(project / "src") == "main"


def test_no_environment_at_all(project: Path) -> None:
    assert git_branch(project) is None  # GIT_CEILING_DIRECTORIES keeps outer repos away
    with pytest.raises(UsageError, match="no environment given"):
        resolve_context(Selection(), cwd=project)


def test_app_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "applications.yaml").write_text("- name: one\n- name: two\n")
    with pytest.raises(UsageError, match="several apps"):
        resolve_app(Selection(), cwd=tmp_path)
    monkeypatch.setenv("PLATFORM_APPLICATION_NAME", "one")
    assert resolve_app(Selection(), cwd=tmp_path)[1].name == "one"
    monkeypatch.setenv("PSHCTL_APP", "two")
    assert resolve_app(Selection(), cwd=tmp_path)[1].name == "two"
    assert resolve_app(Selection(app="one"), cwd=tmp_path)[1].name == "one"
    with pytest.raises(NameNotFound, match="did you mean 'two'"):
        resolve_app(Selection(app="tow"), cwd=tmp_path)


def test_found_from_a_subdirectory(project: Path) -> None:
    (project / "a" / "b").mkdir(parents=True)
    root, app = resolve_app(Selection(), cwd=project / "a" / "b")
    assert root == project.resolve()
    assert app.name == "app"


def test_outside_any_project(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no app definition here: none of \.upsun/\*\.yaml, "
                       r"\.platform/applications\.yaml, \.platform\.app\.yaml in "):
        resolve_app(Selection(), cwd=tmp_path)


def test_bad_local_project_file(project: Path) -> None:
    (project / ".platform" / "local").mkdir(parents=True)
    (project / ".platform" / "local" / "project.yaml").write_text("id: [\n")
    with pytest.raises(ConfigError, match=r"^\.platform/local/project\.yaml:2: invalid YAML"):
        resolve_context(Selection(environment="e"), cwd=project)


def _source(project: Path, selection: Selection | None = None) -> tuple[str, str | None]:
    context = resolve_context(selection or Selection(), cwd=project)
    return context.environment, context.environment_source


def test_each_environment_says_where_it_came_from(project: Path, isolation: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(project, "feature-x")
    assert _source(project) == ("feature-x", "the git branch")
    user_file = isolation / ".config" / "pshctl" / "config.yaml"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text("default_environment: staging\n")
    assert _source(project) == ("staging",
                                "default_environment in ~/.config/pshctl/config.yaml")
    (project / ".pshctl.yaml").write_text("default_environment: main\n")
    assert _source(project) == ("main", "default_environment in .pshctl.yaml")
    monkeypatch.setenv("PLATFORM_BRANCH", "platform-branch")
    assert _source(project) == ("platform-branch", "PLATFORM_BRANCH")
    monkeypatch.setenv("PSHCTL_ENVIRONMENT", "pshctl-env")
    assert _source(project) == ("pshctl-env", "PSHCTL_ENVIRONMENT")
    assert _source(project, Selection(environment="flag")) == ("flag", None)


def test_a_default_environment_needs_no_git_branch(project: Path) -> None:
    (project / ".pshctl.yaml").write_text("default_environment: main\n")
    assert _source(project) == ("main", "default_environment in .pshctl.yaml")


@pytest.mark.parametrize("value", ["''", "'two words'", "'-e'", "[main]", "3", '"a\\tb"'])
def test_a_default_environment_that_is_no_name_is_a_located_error(project: Path,
                                                                  value: str) -> None:
    (project / ".pshctl.yaml").write_text(f"project: x\ndefault_environment: {value}\n")
    with pytest.raises(ConfigError, match=r"^\.pshctl\.yaml:2: 'default_environment' must be "
                       r"an environment name"):
        resolve_context(Selection(), cwd=project)


def test_no_environment_at_all_names_default_environment(project: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_context(Selection(), cwd=project)
    assert "default_environment in .pshctl.yaml" in (caught.value.hint or "")


def test_the_linked_cli_project_file_read_whole(project: Path) -> None:
    from pshctl.context import local_project_id

    assert local_project_id(project) is None
    platform = project / ".platform" / "local"
    platform.mkdir(parents=True)
    (platform / "project.yaml").write_text("host: eu-3.platform.sh\n")
    assert local_project_id(project) is None  # no id: not linked
    (platform / "project.yaml").write_text("id: '  p1abc  '\n")
    assert local_project_id(project) == "p1abc"
    upsun = project / ".upsun" / "local"
    upsun.mkdir(parents=True)
    (upsun / "project.yaml").write_text("id: u2def\n")
    # Each product's own file first; Upsun's when no product is named.
    assert local_project_id(project, "platformsh") == "p1abc"
    assert local_project_id(project, "upsun") == "u2def"
    assert local_project_id(project) == "u2def"
    (upsun / "project.yaml").write_text("- id\n")
    assert local_project_id(project, "upsun") == "p1abc"  # not a mapping: not linked
    for bad in ("id: ''\n", "id: 12\n", "id: '   '\n"):
        (upsun / "project.yaml").write_text("other: 1\n" + bad)
        with pytest.raises(ConfigError) as caught:
            local_project_id(project, "upsun")
        assert str(caught.value) == ".upsun/local/project.yaml:2: 'id' must be a string"


def test_no_environment_says_how_to_choose_one(project: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_context(Selection(environment="   "), cwd=project)
    assert str(caught.value) == "no environment given and no git branch to default to"
    assert caught.value.hint == ("choose one with -e/--environment or PSHCTL_ENVIRONMENT, or "
                                 "set default_environment in .pshctl.yaml")


def test_values_are_trimmed_and_blank_ones_skipped(project: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSHCTL_ENVIRONMENT", "  ")
    monkeypatch.setenv("PLATFORM_BRANCH", " main ")
    monkeypatch.setenv("PSHCTL_PROJECT", "")
    monkeypatch.setenv("PLATFORM_PROJECT", " pp ")
    context = resolve_context(Selection(environment=None), cwd=project)
    assert (context.environment, context.environment_source) == ("main", "PLATFORM_BRANCH")
    assert context.project == "pp"
    assert resolve_context(Selection(" flag ", " e "), cwd=project).project == "flag"
    assert resolve_context(Selection(environment=" e "), cwd=project).environment == "e"


def test_a_default_environment_from_an_unnamed_file_or_outside_home(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pshctl.context import resolve_environment
    from pshctl.settings import Settings

    elsewhere = Settings(default_environment="main", default_environment_file="/etc/x.yaml")
    assert resolve_environment(Selection(), project, elsewhere) == (
        "main", "default_environment in /etc/x.yaml")
    unnamed = Settings(default_environment="main")
    assert resolve_environment(Selection(), project, unnamed) == (
        "main", "default_environment in a config file")
    monkeypatch.setenv("HOME", str(project))
    homed = Settings(default_environment="m", default_environment_file=f"{project}/c.yaml")
    assert resolve_environment(Selection(), project, homed) == (
        "m", "default_environment in ~/c.yaml")
    prefix = Settings(default_environment="m", default_environment_file=f"{project}x/c.yaml")
    assert resolve_environment(Selection(), project, prefix)[1] == (
        f"default_environment in {project}x/c.yaml")


def test_git_branch_is_none_on_a_detached_head_or_without_git(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(project, "main")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    subprocess.run(["git", "-C", str(project), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True)
    assert git_branch(project) == "main"
    subprocess.run(["git", "-C", str(project), "checkout", "-q", "--detach"], check=True)
    assert git_branch(project) is None
    monkeypatch.setenv("PATH", str(project / "no-bin"))
    assert git_branch(project) is None


def test_a_vanished_working_directory_is_a_clear_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pshctl.context import current_directory

    assert current_directory(tmp_path) == tmp_path
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(ConfigError) as caught:
        current_directory()
    assert str(caught.value) == ("cannot use the current directory: No such file or "
                                 "directory")
    assert caught.value.hint == "cd to the project's repository and try again"


def test_the_context_keeps_the_settings_read_and_the_refresh_asked_for(project: Path) -> None:
    (project / ".pshctl.yaml").write_text("region: eu-5\n")
    context = resolve_context(Selection(environment="e", refresh=True), cwd=project)
    assert context.settings.region == "eu-5"
    assert context.refresh is True
    assert resolve_context(Selection(environment="e"), cwd=project).refresh is False


def test_outside_any_project_names_the_directory_searched_from(tmp_path: Path) -> None:
    from pshctl.context import project_root

    with pytest.raises(ConfigError) as caught:
        project_root(tmp_path)
    assert str(caught.value).endswith(f" in {tmp_path.resolve()} or any directory above it")


def test_in_a_project_of_several_apps_the_app_is_the_directorys(tmp_path: Path) -> None:
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "applications.yaml").write_text(
        "- {name: one, source: {root: one}}\n- {name: two, source: {root: two}}\n")
    (tmp_path / "two" / "src").mkdir(parents=True)
    root, app = resolve_app(Selection(), cwd=tmp_path / "two" / "src")
    assert (root, app.name) == (tmp_path.resolve(), "two")


def test_the_product_given_decides_which_definitions_are_read(tmp_path: Path) -> None:
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text("applications:\n  u: {}\n")
    (tmp_path / ".platform.app.yaml").write_text("name: p\n")
    assert resolve_app(Selection(), cwd=tmp_path)[1].name == "u"  # Upsun by default
    assert resolve_app(Selection(), cwd=tmp_path, product="platformsh")[1].name == "p"


def test_the_linked_project_of_the_apps_own_product_comes_first(project: Path) -> None:
    for product_dir, project_id in ((".upsun", "u-id"), (".platform", "p-id")):
        (project / product_dir / "local").mkdir(parents=True)
        (project / product_dir / "local" / "project.yaml").write_text(f"id: {project_id}\n")
    context = resolve_context(Selection(environment="e"), cwd=project)
    assert (context.app.product, context.project) == ("platformsh", "p-id")


def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    git = bin_dir / "git"
    git.write_text(f"#!/bin/sh\n{script}\n")
    git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_failing_git_gives_no_branch_whatever_it_printed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch, "echo main; exit 128")
    assert git_branch(tmp_path) is None


def test_a_git_that_hangs_gives_no_branch_after_the_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import pshctl.context

    monkeypatch.setattr(pshctl.context, "GIT_TIMEOUT", 0.2)
    fake_git(tmp_path, monkeypatch, "sleep 3; echo main")
    started = time.monotonic()
    assert git_branch(tmp_path) is None
    assert time.monotonic() - started < 2
