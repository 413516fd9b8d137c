"""The application definition: its workers and what each one effectively gets.

Format-agnostic front of the two products' readers (:mod:`pshctl.appdef.upsun` for
``.upsun/``, :mod:`pshctl.appdef.platformsh` for ``.platform.app.yaml`` and
``.platform/applications.yaml``). :mod:`pshctl.appdef.layout` finds the project root and
chooses the product when a repository holds both; each app is read on its own, so one
broken app is reported for itself while the others load. Every problem is reported as
``file:line: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pshctl.appdef.layout import (
    APP_FILE,
    APPLICATIONS_FILE,
    LOOKED_FOR,
    PLATFORMSH,
    PRODUCTS,
    UPSUN,
    UPSUN_DIR,
    Product,
    ProductChoice,
    choose_product,
    find_project_root,
)
from pshctl.errors import ConfigError, NameNotFound, UsageError

if TYPE_CHECKING:
    from pshctl.appdef.model import KEYS, AppDefinition, ContainerConfig, Rules

# The model's names, imported when first asked for: a Tab press that needs only the
# layout's constants does not build the model's classes.
_FROM_MODEL = ("KEYS", "AppDefinition", "ContainerConfig", "Rules")

__all__ = [
    "APPLICATIONS_FILE",
    "APP_FILE",
    "KEYS",
    "LOOKED_FOR",
    "PLATFORMSH",
    "PRODUCTS",
    "UPSUN",
    "UPSUN_DIR",
    "AppDefinition",
    "ContainerConfig",
    "Product",
    "ProductChoice",
    "Project",
    "Rules",
    "find_project_root",
    "load_app",
    "load_apps",
    "load_project",
    "rules_for",
]


def rules_for(product: str) -> Rules:
    """The inheritance rules of ``product`` ("upsun" or "platformsh")."""
    if product == UPSUN:
        from pshctl.appdef.upsun import RULES
    else:
        from pshctl.appdef.platformsh import RULES
    return RULES


@dataclass(frozen=True)
class Project:
    """Every app of a project, the broken ones apart, and which product's files were read."""

    root: Path
    choice: ProductChoice
    apps: dict[str, AppDefinition]
    errors: dict[str, ConfigError]  # app name -> why it could not be read
    file_errors: tuple[ConfigError, ...]  # whole files not read (their apps unknown)
    warnings: tuple[str, ...]  # about the project: broken apps and files, merges

    def app(self, name: str) -> AppDefinition:
        """The app ``name``; its own error if it is broken; NameNotFound lists the valid
        names (after the error of a file that could not be read, which may define it)."""
        if name in self.apps:
            return self._with_notes(self.apps[name])
        if name in self.errors:
            raise self.errors[name]
        if self.file_errors:
            raise self.file_errors[0]
        raise NameNotFound("app", name, self.apps)

    def _with_notes(self, app: AppDefinition) -> AppDefinition:
        return replace(app, warnings=(*self.warnings, *app.warnings))

    def around(self, cwd: Path | None) -> AppDefinition:
        """The only app, else the one whose directory holds ``cwd`` most closely."""
        names = [*self.apps, *self.errors]
        if len(names) == 1 and not self.file_errors:
            return self.app(names[0])
        if not names and self.file_errors:
            raise self.file_errors[0]
        chosen = _app_around(self.apps.values(), cwd)
        if chosen is not None:
            return self._with_notes(chosen)
        if len(names) == 1:
            return self.app(names[0])
        raise UsageError(
            "this project has several apps; choose one with -A/--app or PSHCTL_APP",
            hint=f"apps: {', '.join(names)}",
        )


def load_project(project_root: Path, *, product: str | None = None) -> Project:
    """Read every app of the project at ``project_root``.

    ``product`` decides for a repository with both products' files; by default the
    ``product:`` key of the config files (see :func:`choose_product` for the whole rule).
    """
    root = Path(project_root)
    if product is None:
        product = _configured_product(root)
    choice = choose_product(root, product)
    if choice is None:
        raise no_app_here(root)
    if choice.product == UPSUN:
        from pshctl.appdef import upsun as reader
    else:
        from pshctl.appdef import platformsh as reader  # type: ignore[no-redef]
    loaded = reader.load(root, choice)
    apps: dict[str, AppDefinition] = {}
    errors: dict[str, ConfigError] = {}
    for app in loaded.apps:
        if app.name in apps:
            first = apps.pop(app.name)
            errors[app.name] = ConfigError(
                f"app '{app.name}' is defined twice (also in {first.file}:{first.line})",
                file=app.file, line=app.line)
        elif app.name not in errors:
            apps[app.name] = app
    for broken in loaded.broken:
        if broken.name is not None:
            errors.setdefault(broken.name, broken.error)
            apps.pop(broken.name, None)
    warnings = [*loaded.notes]
    warnings += [f"app '{name}' is not loaded: {error.message}" for name, error in errors.items()]
    file_errors = tuple(b.error for b in loaded.broken if b.name is None)
    warnings += [b.warning for b in loaded.broken if b.name is None]
    return Project(root, choice, apps, errors, file_errors, tuple(warnings))


def load_apps(project_root: Path, *, product: str | None = None) -> dict[str, AppDefinition]:
    """Every app of the project, by name; the first error if any app cannot be read."""
    project = load_project(project_root, product=product)
    if project.file_errors:
        raise project.file_errors[0]
    if project.errors:
        raise next(iter(project.errors.values()))
    return project.apps


def load_app(
    project_root: Path, name: str | None = None, *, cwd: Path | None = None,
    product: str | None = None,
) -> AppDefinition:
    """One app: ``name``, else the only one, else the one whose directory holds ``cwd``.

    Other apps' problems do not stop it: they are in the app's ``warnings``. NameNotFound
    lists the valid names.
    """
    project = load_project(project_root, product=product)
    if name is not None:
        return project.app(name)
    return project.around(cwd)


def no_app_here(start: Path) -> ConfigError:
    """The error for a directory with no app definition at or above it."""
    return ConfigError(
        f"no app definition here: none of {', '.join(LOOKED_FOR)} in {start} "
        "or any directory above it",
        hint="run pshctl from inside the project's repository (Upsun: .upsun/config.yaml; "
             "Platform.sh: .platform.app.yaml or .platform/applications.yaml)",
    )


def _app_around(apps: object, cwd: Path | None) -> AppDefinition | None:
    """The app whose directory holds ``cwd`` most closely, when exactly one does."""
    if cwd is None:
        return None
    try:
        here = Path(cwd).resolve()
    except (OSError, RuntimeError):
        return None
    holding = []
    for app in apps:  # type: ignore[attr-defined]
        try:
            directory = app.root.resolve()
        except (OSError, RuntimeError):
            continue
        if here.is_relative_to(directory):
            holding.append((len(directory.parts), app))
    if not holding:
        return None
    deepest = max(depth for depth, _ in holding)
    closest = [app for depth, app in holding if depth == deepest]
    return closest[0] if len(closest) == 1 else None


def _configured_product(root: Path) -> str | None:
    from pshctl.settings import load_settings

    return load_settings(root).product


def __getattr__(name: str) -> object:
    if name in _FROM_MODEL:
        from pshctl.appdef import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
