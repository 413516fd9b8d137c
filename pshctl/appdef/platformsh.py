"""Platform.sh ("Upsun Fixed"): ``.platform.app.yaml`` and ``.platform/applications.yaml``.

- ``.platform.app.yaml`` at the repository root and one directory below it: one app each,
  named by its ``name`` key, its directory the file's own unless ``source.root`` (relative to
  the repository root) says otherwise;
- ``.platform/applications.yaml``: a list of apps, or a mapping of name -> app (keys starting
  with ``.`` are not apps: they hold YAML anchors such as ``.common: &common``); each app's
  directory is its ``source.root`` (``/`` or none: the repository root). An entry may be a
  whole app pulled in with ``!include``, its path relative to ``.platform/``.

Inheritance (docs: create-apps/workers.md, "Inheritance"; app-reference "Set in instance?";
create-apps/flexible-resources.md): a worker inherits ``size``, ``disk``, ``resources``,
``access``, ``mounts``, ``relationships``, ``variables`` and ``additional_hosts`` unless it
sets them; ``timezone`` and ``firewall`` are the app's and cannot be set per worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pshctl.appdef import layout
from pshctl.appdef.layout import APPLICATIONS_FILE, PLATFORM_DIR, ProductChoice
from pshctl.appdef.loading import Broken, Loaded, build_app, display, included_app
from pshctl.appdef.model import AppDefinition, Rules
from pshctl.appdef.parse import check_name
from pshctl.errors import ConfigError
from pshctl.yamlutil import Include, line_of, load_file

RULES = Rules(
    product="platformsh",
    per_container=("size", "disk", "resources", "access", "mounts", "relationships",
                   "variables", "additional_hosts"),
    app_wide=("firewall", "timezone"),
    not_used={},
    from_platform={},
    mount_sources=("local", "service", "tmp", "instance"),
    docs=(
        "sites/platform/src/create-apps/workers.md",
        "sites/platform/src/create-apps/app-reference/single-runtime-image.md",
        "sites/platform/src/create-apps/app-reference/composable-image.md",
        "sites/platform/src/create-apps/flexible-resources.md",
        "sites/platform/src/create-apps/image-properties/size.md",
        "sites/platform/src/create-apps/image-properties/mounts.md",
        "sites/platform/src/create-apps/multi-app/project-structure.md",
    ),
)


def load(root: Path, choice: ProductChoice) -> Loaded:
    """Every app of the Platform.sh definitions at ``root``; broken ones kept apart."""
    loaded = Loaded()
    if layout.applications_file(root) is not None:
        _applications_file(root, choice, loaded)
    for path in layout.app_files(root):
        _app_file(root, path, choice, loaded)
    return loaded


# --- .platform.app.yaml ----------------------------------------------------------------


def _app_file(root: Path, path: Path, choice: ProductChoice, loaded: Loaded) -> None:
    file = display(root, path)
    try:
        data = load_file(path, display=file, includes=True)
        if isinstance(data, dict) and _is_wrapped(data):
            entries = list(_mapping_entries(data["applications"]))
            for _, entry, line in entries:
                if not isinstance(entry, dict):
                    raise ConfigError("each app must be a mapping", file=file, line=line)
        else:
            if not isinstance(data, dict):
                raise ConfigError("the app definition must be a mapping", file=file, line=1)
            entries = [(_name_of(data, file), data, line_of(data, "name") or 1)]
    except ConfigError as exc:
        loaded.broken.append(Broken(None, None, exc, file))
        return
    for name, entry, line in entries:
        loaded.add(name, file, partial(_app_file_entry, root, path, file, name, entry, line,
                                       choice))


def _app_file_entry(root: Path, path: Path, file: str, name: Any, entry: Any, line: int,
                    choice: ProductChoice) -> AppDefinition:
    return _build(entry, name=check_name("app", name, file, line), file=file, source=path,
                  root=root, default_root=path.parent, choice=choice, included=[])


def _name_of(data: dict[str, Any], file: str) -> str:
    if "name" not in data:
        raise ConfigError("the app's 'name' is required", file=file, line=line_of(data) or 1)
    return check_name("app", data["name"], file, line_of(data, "name"))


def _is_wrapped(data: dict[str, Any]) -> bool:
    """``applications: {name: app}`` in a Platform.sh file, as some of its docs now show."""
    return ("applications" in data and "name" not in data and "type" not in data
            and isinstance(data["applications"], dict))


# --- .platform/applications.yaml -------------------------------------------------------


def _applications_file(root: Path, choice: ProductChoice, loaded: Loaded) -> None:
    path = root / APPLICATIONS_FILE
    where = _Listing(APPLICATIONS_FILE, path, ())
    try:
        data = load_file(path, display=where.file, includes=True)
        if isinstance(data, Include):  # the whole list is in another file
            holders: list[Path] = []
            data, source, file = _included(data, root, path, holders)
            where = _Listing(file, source, tuple(holders))
        entries = list(_entries(data, where.file))
    except ConfigError as exc:
        loaded.broken.append(Broken(None, None, exc, where.file))
        return
    for name, entry, line in entries:
        guess = entry.get("name") if name is None and isinstance(entry, dict) else name
        loaded.add(guess, where.file, partial(_applications_entry, root, where, name, entry,
                                              line, choice))


@dataclass(frozen=True)
class _Listing:
    """The file that lists the apps: applications.yaml, or the file it includes whole."""

    file: str  # as messages name it
    source: Path
    holders: tuple[Path, ...]  # applications.yaml, when it includes the listing


def _entries(data: Any, file: str) -> Iterator[tuple[str | None, Any, int]]:
    """(name when the layout gives it, entry, line) for each app of applications.yaml."""
    if data is None:
        return
    if isinstance(data, list):
        # A list's items have no lines; the line is only used for an item that is not a
        # mapping (an include reports its problems at its tag).
        for entry in data:
            yield None, entry, 1
        return
    if isinstance(data, dict):
        yield from _mapping_entries(data["applications"] if _is_wrapped(data) else data)
        return
    raise ConfigError("must be a list of apps, or a mapping of app names to apps",
                      file=file, line=1)


def _mapping_entries(section: dict[Any, Any]) -> Iterator[tuple[str, Any, int]]:
    for name, entry in section.items():
        if isinstance(name, str) and name.startswith("."):
            continue  # an anchor holder, not an app
        yield name, entry, line_of(section, name) or 1


def _applications_entry(root: Path, where: _Listing, name: str | None, entry: Any, line: int,
                        choice: ProductChoice) -> AppDefinition:
    file, source, at = where.file, where.source, line
    included = list(where.holders)
    if isinstance(entry, Include):
        entry, source, file = _included(entry, root, source, included)
        at = 1  # in the included file: not a mapping, so it has no line of its own
    if not isinstance(entry, dict):
        raise ConfigError("each app must be a mapping", file=file, line=at)
    if name is None or "name" in entry:
        name = _name_of(entry, file)
    else:
        name = check_name("app", name, where.file, line)
    return _build(entry, name=name, file=file, source=source, root=root, default_root=root,
                  choice=choice, included=included)


def _included(tag: Include, root: Path, path: Path, included: list[Path]
              ) -> tuple[Any, Path, str]:
    """A whole app pulled into applications.yaml: relative to ``.platform/``."""
    return included_app(tag, root=root, base=root / PLATFORM_DIR, holder=path,
                        included=included)


# --- one app ---------------------------------------------------------------------------


def _build(data: Any, *, name: str, file: str, source: Path, root: Path, default_root: Path,
           choice: ProductChoice, included: list[Path]) -> AppDefinition:
    return build_app(data, rules=RULES, name=name, file=file, source=source, root=root,
                     default_root=default_root, choice=choice, included=included)
