"""Which project, environment and app a command acts on.

Precedence, as the Platform.sh CLI finds them:

- project: flag > ``PSHCTL_PROJECT`` > ``PLATFORM_PROJECT`` > the CLI's local project file
  (``id:`` of ``.upsun/local/project.yaml`` or ``.platform/local/project.yaml``, the one of
  the product read first) > project config file > user config file;
- environment: flag > ``PSHCTL_ENVIRONMENT`` > ``PLATFORM_BRANCH`` > ``default_environment``
  of the project config file > of the user config file > the current git branch;
- app: flag > ``PSHCTL_APP`` > ``PLATFORM_APPLICATION_NAME`` > the only app of the project.

This module is imported by the CLI at start-up: it imports nothing heavy at module level.
"""

from __future__ import annotations

import os
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
    # Where the environment came from when it was not given as a flag: "PSHCTL_ENVIRONMENT",
    # "default_environment in .pshctl.yaml", "the git branch"; None for -e.
    environment_source: str | None = None
    refresh: bool = False  # what the platform's API said is not taken from the cache
    # What resolving found out for this context (the API's answer, its client), so that
    # resolving twice in one run asks once, and a new context starts afresh.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def resolve_context(selection: Selection, cwd: Path | None = None) -> Context:
    """Find the project around ``cwd`` and settle project, environment and app."""
    from pshctl.settings import load_settings

    root = project_root(cwd)
    settings = load_settings(root)
    root, app = resolve_app(selection, cwd, product=settings.product)
    environment, source = resolve_environment(selection, root, settings)
    return Context(
        root=root,
        project=resolve_project(selection, root, settings, product=app.product),
        environment=environment,
        app=app,
        settings=settings,
        environment_source=source,
        refresh=selection.refresh,
    )


def resolve_app(selection: Selection, cwd: Path | None = None, *,
                product: str | None = None) -> tuple[Path, AppDefinition]:
    """The project root and the selected app; all that `pshctl workers` needs.

    ``product``: the ``product:`` setting (read from the config files when None).
    """
    from pshctl.appdef import load_app

    here = current_directory(cwd)
    root = project_root(here)
    return root, load_app(root, _first(selection.app, *_env(APP_VARS)), cwd=here,
                          product=product)


def current_directory(cwd: Path | None = None) -> Path:
    """``cwd``, or the process's working directory: a clear error when it is gone."""
    if cwd is not None:
        return Path(cwd)
    try:
        return Path.cwd()
    except OSError as exc:
        raise ConfigError(f"cannot use the current directory: {exc.strerror or exc}",
                          hint="cd to the project's repository and try again") from None


def project_root(cwd: Path | None = None) -> Path:
    """The project root at or above ``cwd``; the "no app here" error names what was sought."""
    from pshctl.appdef import find_project_root, no_app_here

    start = current_directory(cwd)
    root = find_project_root(start)
    if root is None:
        raise no_app_here(start)
    return root


def resolve_project(selection: Selection, root: Path, settings: Settings, *,
                    product: str | None = None) -> str | None:
    return _first(selection.project, *_env(PROJECT_VARS), local_project_id(root, product),
                  settings.project)


def resolve_environment(selection: Selection, root: Path,
                        settings: Settings | None = None) -> tuple[str, str | None]:
    """The environment, and where it came from (None: the flag)."""
    given = _first(selection.environment)
    if given is not None:
        return given, None
    for name in ENVIRONMENT_VARS:
        value = _first(os.environ.get(name))
        if value is not None:
            return value, name
    if settings is not None and settings.default_environment:
        where = _home_relative(settings.default_environment_file or "a config file")
        return settings.default_environment, f"default_environment in {where}"
    branch = git_branch(root)
    if branch is not None:
        return branch, "the git branch"
    raise UsageError(
        "no environment given and no git branch to default to",
        hint="choose one with -e/--environment or PSHCTL_ENVIRONMENT, or set "
        "default_environment in .pshctl.yaml",
    )


def _home_relative(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "~" and path.startswith(home + os.sep) else path


def local_project_id(root: Path, product: str | None = None) -> str | None:
    """The ``id:`` the Upsun or Platform.sh CLI records when a checkout is linked
    (``.upsun/local/project.yaml``, ``.platform/local/project.yaml``); ``product``'s first."""
    from pshctl.appdef.layout import LOCAL_PROJECT_FILES

    order = sorted(LOCAL_PROJECT_FILES, key=lambda p: p != product)
    for name in (LOCAL_PROJECT_FILES[p] for p in order):
        value = _local_id(root, name)
        if value is not None:
            return value
    return None


def _local_id(root: Path, name: str) -> str | None:
    path = root / name
    if not path.is_file():
        return None
    from pshctl.yamlutil import line_of, load_file

    data = load_file(path, display=name)
    if not isinstance(data, dict) or "id" not in data:
        return None
    value = data["id"]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("'id' must be a string", file=name, line=line_of(data, "id"))
    return value.strip()


def git_branch(root: Path) -> str | None:
    """The checked-out branch, or None (not a repository, detached HEAD, no git)."""
    import subprocess  # here: a Tab press that never asks git does not pay for it

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
