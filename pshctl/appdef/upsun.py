"""Upsun ("Upsun Flex"): the YAML files of ``.upsun/``.

Every first-level ``*.yaml`` file of ``.upsun/`` is read, in file-name order, and their
top-level keys merged: an app defined in two files is taken whole from the later one
(docs: learn/overview/yaml/yaml-structure.md, "Rules on YAML files"). Apps are the keys of
``applications:`` (keys starting with ``.`` hold YAML anchors, not apps); an app's directory
is its ``source.root`` (``/`` or none: the repository root). An app may be pulled in whole
with ``!include``, its path relative to ``.upsun/``.

Inheritance (docs: create-apps/workers.md, "Inheritance"; app-reference "Set in instance?"):
a worker inherits ``relationships``, ``access``, ``mounts``, ``variables``,
``container_profile``, ``firewall`` and ``additional_hosts`` unless it sets them;
``timezone`` is the app's. There is no ``size`` or ``disk``: CPU, memory and disk come from
``upsun resources:set``, which a worker inherits from the app unless they are set for it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from pshctl.appdef import layout
from pshctl.appdef.includes import include_document
from pshctl.appdef.layout import UPSUN_DIR, ProductChoice
from pshctl.appdef.loading import Broken, Loaded, build_app, display, included_app
from pshctl.appdef.model import AppDefinition, Rules
from pshctl.appdef.parse import check_name
from pshctl.errors import ConfigError
from pshctl.yamlutil import Include, line_of, load_file

_RESOURCES = "resources come from `upsun resources:set`"

RULES = Rules(
    product="upsun",
    per_container=("container_profile", "access", "mounts", "relationships", "variables",
                   "additional_hosts", "firewall"),
    app_wide=("timezone",),
    not_used={"size": _RESOURCES, "disk": _RESOURCES, "resources": _RESOURCES},
    from_platform={"resources": "set with `upsun resources:set`; a worker has the app's "
                                "unless set for it"},
    # `local` is kept as an alias of `instance`, `temporary` of `tmp` (docs: mounts.md,
    # learn/tutorials/migrating/from-fixed.md).
    mount_sources=("storage", "instance", "tmp", "temporary", "service", "local"),
    docs=(
        "sites/upsun/src/create-apps/workers.md",
        "sites/upsun/src/create-apps/app-reference/single-runtime-image.md",
        "sites/upsun/src/create-apps/app-reference/composable-image.md",
        "sites/upsun/src/create-apps/image-properties/mounts.md",
        "sites/upsun/src/learn/overview/yaml/yaml-structure.md",
        "sites/upsun/src/learn/overview/yaml/platform-yaml-tags.md",
        "sites/upsun/src/learn/tutorials/migrating/from-fixed.md",
    ),
)


def load(root: Path, choice: ProductChoice) -> Loaded:
    """Every app of ``.upsun/`` at ``root``; broken ones kept apart."""
    loaded = Loaded()
    try:
        files = layout.upsun_files(root)
    except ConfigError as exc:
        loaded.broken.append(Broken(None, None, exc, f"{UPSUN_DIR}/"))
        return loaded
    chosen: dict[str, _Chosen] = {}
    for path in files:
        _read_file(root, path, chosen, loaded)
    for name, (body, file, path, line, holders) in chosen.items():
        loaded.add(name, file, partial(_build, root, name, body, file, path, line, holders,
                                       choice))
    return loaded


# An app as its file defines it: body, file (as messages name it), path, line, and the
# file that included its whole `applications:` mapping, if any.
_Chosen = tuple[Any, str, Path, int, tuple[Path, ...]]


def _read_file(root: Path, path: Path, chosen: dict[str, _Chosen], loaded: Loaded) -> None:
    """Add the apps of one file to ``chosen``, replacing those of earlier files whole."""
    file, holder = display(root, path), path
    holders: tuple[Path, ...] = ()
    try:
        data = load_file(path, display=file, includes=True)
        if data is None:
            return
        if not isinstance(data, dict):
            raise ConfigError("must be a mapping with applications, services and routes",
                              file=file, line=1)
        apps, at = data.get("applications"), line_of(data, "applications")
        if isinstance(apps, Include):  # the apps are in another file
            apps, path, file = include_document(apps, base=root / UPSUN_DIR, project_root=root,
                                                read=[], chain=(path.resolve(),))
            holders, at = (holder,), 1
        if apps is None:
            return
        if not isinstance(apps, dict):
            raise ConfigError("'applications' must be a mapping of app names to apps",
                              file=file, line=at)
    except ConfigError as exc:
        loaded.broken.append(Broken(None, None, exc, file))
        return
    for name, body in apps.items():
        if isinstance(name, str) and name.startswith("."):
            continue  # an anchor holder, not an app
        if name in chosen and chosen[name][1] != file:
            loaded.notes.append(f"app '{name}' is defined in {chosen[name][1]} and in {file}; "
                                f"the one in {file} is used whole")
        chosen[name] = (body, file, path, line_of(apps, name) or 1, holders)


def _build(root: Path, name: Any, body: Any, file: str, path: Path, line: int,
           holders: tuple[Path, ...], choice: ProductChoice) -> AppDefinition:
    check_name("app", name, file, line)
    source = path
    included = list(holders)
    if isinstance(body, Include):
        body, source, file = included_app(body, root=root, base=root / UPSUN_DIR, holder=path,
                                          included=included)
        line = 1  # in the included file, for the error below
    if not isinstance(body, dict):
        raise ConfigError(f"app '{name}' must be a mapping", file=file, line=line)
    return build_app(body, rules=RULES, name=name, file=file, source=source, root=root,
                     default_root=root, choice=choice, included=included)
