"""Which project, environment and app a command acts on.

Precedence, as the Platform.sh CLI finds them:

- project: flag > ``PSHCTL_PROJECT`` > ``PLATFORM_PROJECT`` > ``.platform/local/project.yaml``
  (``id:``) > project config file > user config file;
- environment: flag > ``PSHCTL_ENVIRONMENT`` > ``PLATFORM_BRANCH`` > the current git branch;
- app: flag > ``PSHCTL_APP`` > ``PLATFORM_APPLICATION_NAME`` > the only app of the project.

This module is imported by the CLI at start-up: it imports nothing heavy at module level.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from pshctl.appdef import AppDefinition
    from pshctl.settings import Settings

PROJECT_VARS = ("PSHCTL_PROJECT", "PLATFORM_PROJECT")
ENVIRONMENT_VARS = ("PSHCTL_ENVIRONMENT", "PLATFORM_BRANCH")
APP_VARS = ("PSHCTL_APP", "PLATFORM_APPLICATION_NAME")
LOCAL_PROJECT_FILE = ".platform/local/project.yaml"
GIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Selection:
    """What the user asked for on the command line (None = not given)."""

    project: str | None = None
    environment: str | None = None
    app: str | None = None
    refresh: bool = False  # --refresh: ask the platform's API, not its cache


@dataclass(frozen=True)
class Context:
    """A fully resolved place to act: project root, ids, the app and its settings."""

    root: Path
    project: str | None
    environment: str
    app: AppDefinition
    settings: Settings
    refresh: bool = False  # what the platform's API said is not taken from the cache
    # What resolving found out for this context (the API's answer, its client), so that
    # resolving twice in one run asks once, and a new context starts afresh.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def resolve_context(selection: Selection, cwd: Path | None = None) -> Context:
    """Find the project around ``cwd`` and settle project, environment and app."""
    from pshctl.settings import load_settings

    root, app = resolve_app(selection, cwd)
    settings = load_settings(root)
    return Context(
        root=root,
        project=resolve_project(selection, root, settings),
        environment=resolve_environment(selection, root),
        app=app,
        settings=settings,
        refresh=selection.refresh,
    )


def resolve_app(selection: Selection, cwd: Path | None = None) -> tuple[Path, AppDefinition]:
    """The project root and the selected app; all that `pshctl workers` needs."""
    from pshctl.appdef import load_app

    root = project_root(cwd)
    here = Path.cwd() if cwd is None else Path(cwd)
    return root, load_app(root, _first(selection.app, *_env(APP_VARS)), cwd=here)


def project_root(cwd: Path | None = None) -> Path:
    from pshctl.appdef import APP_FILE, APPLICATIONS_FILE, find_project_root

    start = Path.cwd() if cwd is None else Path(cwd)
    root = find_project_root(start)
    if root is None:
        raise ConfigError(
            f"no Platform.sh app here: no {APP_FILE} or {APPLICATIONS_FILE} "
            f"in {start} or any directory above it",
            hint="run pshctl from inside the app's repository",
        )
    return root


def resolve_project(selection: Selection, root: Path, settings: Settings) -> str | None:
    return _first(selection.project, *_env(PROJECT_VARS), local_project_id(root),
                  settings.project)


def resolve_environment(selection: Selection, root: Path) -> str:
    environment = _first(selection.environment, *_env(ENVIRONMENT_VARS))
    if environment is None:
        environment = git_branch(root)
    if environment is None:
        raise UsageError(
            "no environment given and no git branch to default to",
            hint="choose one with -e/--environment or PSHCTL_ENVIRONMENT",
        )
    return environment


def local_project_id(root: Path) -> str | None:
    """The ``id:`` the Platform.sh CLI records in ``.platform/local/project.yaml``."""
    path = root / LOCAL_PROJECT_FILE
    if not path.is_file():
        return None
    from pshctl.yamlutil import line_of, load_file

    data = load_file(path, display=LOCAL_PROJECT_FILE)
    if not isinstance(data, dict) or "id" not in data:
        return None
    value = data["id"]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("'id' must be a string", file=LOCAL_PROJECT_FILE,
                          line=line_of(data, "id"))
    return value.strip()


def git_branch(root: Path) -> str | None:
    """The checked-out branch, or None (not a repository, detached HEAD, no git)."""
    try:
        done = subprocess.run(
            ["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    branch = done.stdout.strip()
    return branch if done.returncode == 0 and branch else None


def _env(names: tuple[str, ...]) -> list[str | None]:
    return [os.environ.get(name) for name in names]


def _first(*values: str | None) -> str | None:
    """The first value that is set and not empty."""
    for value in values:
        if value is not None and value.strip():
            return value.strip()
    return None
