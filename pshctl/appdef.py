"""The application definition: its workers and what each one effectively gets.

Reads ``.platform.app.yaml`` and ``.platform/applications.yaml`` (``!include`` tags resolved
by :mod:`pshctl.includes`) and applies Platform.sh's inheritance rule (docs/reference: "Work
with workers"): the top-level ``size``, ``relationships``, ``access``, ``disk``, ``mounts``
and ``variables`` are inherited by every worker unless the worker sets that key, in which case
the worker's value replaces the top-level one whole (``mounts: {}`` means no mounts).
``hooks``, ``crons`` and ``web`` belong to the web container only. Every problem is reported
as ``file:line: ...``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pshctl.errors import ConfigError, NameNotFound, UsageError
from pshctl.includes import resolve_includes
from pshctl.yamlutil import LineDict, line_of, load_file

APP_FILE = ".platform.app.yaml"
APPLICATIONS_FILE = ".platform/applications.yaml"
PROJECT_DIR = ".platform"

# In the order `workers show` lists them.
INHERITABLE = ("size", "disk", "access", "mounts", "relationships", "variables")
SIZES = ("AUTO", "S", "M", "L", "XL", "2XL", "4XL")

# Worker and app names end up in SSH user names and `sv` arguments: keep them plain.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

Kind = Literal["worker", "web"]


@dataclass(frozen=True)
class ContainerConfig:
    """The effective configuration of one container: a worker, or the web container."""

    name: str
    kind: Kind
    size: str | None = None
    disk: int | None = None
    access: dict[str, Any] | None = None
    mounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    relationships: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    inherited: frozenset[str] = frozenset()  # effective keys that came from the top level
    own: frozenset[str] = frozenset()  # keys set on the container itself
    line: int = 1
    file: str = APP_FILE

    @property
    def start_command(self) -> str:
        return self.commands.get("start", "")

    @property
    def env(self) -> dict[str, str]:
        """``variables.env`` as environment variables; non-strings JSON-encoded."""
        return {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in self.variables.get("env", {}).items()
        }

    def source_of(self, key: str) -> Literal["own", "inherited", "default"]:
        if key in self.own:
            return "own"
        return "inherited" if key in self.inherited else "default"

    def effective(self) -> dict[str, Any]:
        """The configuration alone, without where each key came from."""
        return {
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "disk": self.disk,
            "access": self.access,
            "mounts": self.mounts,
            "relationships": self.relationships,
            "variables": self.variables,
            "commands": self.commands,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            **self.effective(),
            "env": self.env,
            "inherited": sorted(self.inherited),
            "own": sorted(self.own),
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True)
class AppDefinition:
    """One application: its name, its workers in file order, its web container."""

    name: str
    type: str | None
    root: Path  # the app's source directory
    source: Path  # the file it was read from
    workers: dict[str, ContainerConfig]
    web: ContainerConfig | None = None
    line: int = 1
    included: tuple[Path, ...] = ()  # files its `!include` tags brought in

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the definition was read from: edit one and the app changed."""
        return (self.source, *self.included)

    def worker(self, name: str) -> ContainerConfig:
        try:
            return self.workers[name]
        except KeyError:
            raise NameNotFound("worker", name, self.workers) from None


# --- finding and loading -------------------------------------------------------------


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that holds a Platform.sh project.

    A directory with ``.platform/`` (the repository root of a Platform.sh project) wins
    over one that only has ``.platform.app.yaml``, so that running from inside one app of
    a multi-app project still finds the whole project.
    """
    start = Path(start).resolve()
    first_app_dir: Path | None = None
    for directory in (start, *start.parents):
        if (directory / PROJECT_DIR).is_dir() and _has_apps(directory):
            return directory
        if first_app_dir is None and (directory / APP_FILE).is_file():
            first_app_dir = directory
    return first_app_dir


def _has_apps(directory: Path) -> bool:
    return (directory / APPLICATIONS_FILE).is_file() or any(_app_files(directory))


def _app_files(project_root: Path) -> list[Path]:
    """``.platform.app.yaml`` at the root and one directory down (one per app)."""
    found = [project_root / APP_FILE] if (project_root / APP_FILE).is_file() else []
    try:
        children = sorted(p for p in project_root.iterdir() if p.is_dir())
    except OSError:
        return found
    for child in children:
        if not child.name.startswith(".") and (child / APP_FILE).is_file():
            found.append(child / APP_FILE)
    return found


def load_apps(project_root: Path) -> dict[str, AppDefinition]:
    """Every app of the project, by name, in the order they are found."""
    root = Path(project_root)
    apps: dict[str, AppDefinition] = {}
    for app in [*_load_applications_file(root), *_load_app_files(root)]:
        if app.name in apps:
            first = apps[app.name]
            raise ConfigError(
                f"app '{app.name}' is defined twice (also in {_display(root, first.source)}"
                f":{first.line})",
                file=_display(root, app.source),
                line=app.line,
            )
        apps[app.name] = app
    if not apps:
        raise ConfigError(
            f"no app definition in {root} ({APP_FILE} or {APPLICATIONS_FILE})",
            hint="run pshctl from inside a Platform.sh project",
        )
    return apps


def load_app(
    project_root: Path, name: str | None = None, *, cwd: Path | None = None
) -> AppDefinition:
    """One app: ``name``, else the only one, else the one whose directory holds ``cwd``.

    NameNotFound lists the valid names.
    """
    apps = load_apps(project_root)
    if name is not None:
        if name not in apps:
            raise NameNotFound("app", name, apps)
        return apps[name]
    if len(apps) == 1:
        return next(iter(apps.values()))
    around = _app_around(apps.values(), Path(project_root), cwd)
    if around is not None:
        return around
    raise UsageError(
        "this project has several apps; choose one with -A/--app or PSHCTL_APP",
        hint=f"apps: {', '.join(apps)}",
    )


def _app_around(
    apps: Iterable[AppDefinition], project_root: Path, cwd: Path | None
) -> AppDefinition | None:
    """The app with the deepest source directory (below the project root) holding ``cwd``."""
    if cwd is None:
        return None
    here = Path(cwd).resolve()
    holding = [
        app for app in apps
        if app.root.resolve() != project_root.resolve() and here.is_relative_to(app.root.resolve())
    ]
    return max(holding, key=lambda app: len(app.root.resolve().parts), default=None)


def _display(project_root: Path, path: Path) -> str:
    """A file name for messages: relative to the project root when it is inside it."""
    if path.is_relative_to(project_root):
        return os.path.relpath(path, project_root)
    return str(path)


def _load_app_files(root: Path) -> list[AppDefinition]:
    apps = []
    for path in _app_files(root):
        file = _display(root, path)
        data = load_file(path, display=file, includes=True)
        read: list[Path] = []
        data = resolve_includes(
            data, file=file, source=path, app_root=path.parent, project_root=root, read=read
        )
        if not isinstance(data, dict):
            raise ConfigError("the app definition must be a mapping", file=file, line=1)
        apps.append(parse_app(data, file=file, root=path.parent, source=path, included=read))
    return apps


def _load_applications_file(root: Path) -> list[AppDefinition]:
    path = root / APPLICATIONS_FILE
    if not path.is_file():
        return []
    file = _display(root, path)
    data = load_file(path, display=file, includes=True)
    if data is None:
        return []
    entries = _entries(data, file)
    apps = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError("each app must be a mapping", file=file, line=line_of(data))
        app_root = root / _source_root(entry, file)
        # After source.root is known: include paths are relative to the app's directory.
        read: list[Path] = []
        resolve_includes(
            entry, file=file, source=path, app_root=app_root, project_root=root, read=read
        )
        apps.append(parse_app(entry, file=file, root=app_root, source=path, included=read))
    return apps


def _entries(data: Any, file: str) -> list[Any]:
    """applications.yaml is a list of apps (a mapping of name -> app is accepted too)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        entries = []
        for name, entry in data.items():
            if isinstance(entry, LineDict) and "name" not in entry:
                entry["name"] = name
                entry.key_lines["name"] = line_of(data, name) or 1
            entries.append(entry)
        return entries
    raise ConfigError("must be a list of apps", file=file, line=1)


def _source_root(entry: Mapping[str, Any], file: str) -> str:
    source = entry.get("source")
    if source is None:
        return "."
    _expect(isinstance(source, dict), "'source' must be a mapping", file, line_of(entry, "source"))
    root = source.get("root", ".")
    _expect(
        isinstance(root, str) and not Path(root).is_absolute() and ".." not in Path(root).parts,
        "source.root must be a relative path inside the project",
        file,
        line_of(source, "root"),
    )
    return root or "."


# --- parsing one app -----------------------------------------------------------------


def parse_app(data: Mapping[str, Any], *, file: str, root: Path, source: Path,
              included: Sequence[Path] = ()) -> AppDefinition:
    """Build an :class:`AppDefinition` from one app's mapping (already loaded, its
    ``!include`` tags resolved from the files ``included``)."""
    line = line_of(data) or 1
    _expect("name" in data, "the app's 'name' is required", file, line)
    name = data["name"]
    _expect(
        isinstance(name, str) and bool(_NAME.match(name)),
        f"app name {name!r} must be letters, digits, '-' or '_'",
        file,
        line_of(data, "name"),
    )
    name = str(name)
    app_type = data.get("type")
    _expect(
        app_type is None or isinstance(app_type, str),
        "'type' must be a string",
        file,
        line_of(data, "type"),
    )
    top = _top_level(data, file)
    workers = _workers(data, top, file)
    web = _web(data, top, name, file)
    return AppDefinition(
        name=name, type=app_type, root=root, source=source, workers=workers, web=web,
        line=line, included=tuple(included),
    )


def _top_level(data: Mapping[str, Any], file: str) -> dict[str, Any]:
    """The inheritable keys set at the top level, validated."""
    return {
        key: _validate(key, data[key], file, line_of(data, key), "")
        for key in INHERITABLE
        if key in data
    }


def _workers(data: Mapping[str, Any], top: dict[str, Any], file: str) -> dict[str, ContainerConfig]:
    section = data.get("workers")
    if section is None:
        return {}
    at = line_of(data, "workers")
    _expect(isinstance(section, dict), "'workers' must be a mapping", file, at)
    workers = {}
    for name, body in section.items():
        line = line_of(section, name) or 1
        _expect(
            isinstance(name, str) and bool(_NAME.match(name)),
            f"worker name {name!r} must be letters, digits, '-' or '_'",
            file,
            line,
        )
        where = f"worker '{name}': "
        _expect(isinstance(body, dict), f"{where}must be a mapping", file, line)
        commands = _commands(body, file, where, line)
        _expect(bool(commands.get("start", "").strip()), f"{where}commands.start is required",
                file, line)
        workers[name] = _container(name, "worker", body, top, commands, file, line)
    return workers


def _web(
    data: Mapping[str, Any], top: dict[str, Any], app_name: str, file: str
) -> ContainerConfig | None:
    """The web container, when ``web.commands.start`` is set."""
    body = data.get("web")
    if body is None:
        return None
    line = line_of(data, "web") or 1
    _expect(isinstance(body, dict), "'web' must be a mapping", file, line)
    commands = _commands(body, file, "web: ", line)
    if not commands.get("start", "").strip():
        return None
    return _container(app_name, "web", body, top, commands, file, line)


def _container(
    name: str,
    kind: Kind,
    body: Mapping[str, Any],
    top: dict[str, Any],
    commands: dict[str, str],
    file: str,
    line: int,
) -> ContainerConfig:
    where = f"{kind} '{name}': " if kind == "worker" else "web: "
    own = {
        key: _validate(key, body[key], file, line_of(body, key), where)
        for key in INHERITABLE
        if key in body
    }
    inherited = {key: value for key, value in top.items() if key not in own}
    effective = {**inherited, **own}
    return ContainerConfig(
        name=name,
        kind=kind,
        size=effective.get("size"),
        disk=effective.get("disk"),
        access=effective.get("access"),
        mounts=effective.get("mounts", {}),
        relationships=effective.get("relationships", {}),
        variables=effective.get("variables", {}),
        commands=commands,
        inherited=frozenset(inherited),
        own=frozenset(own),
        line=line,
        file=file,
    )


def _commands(body: Mapping[str, Any], file: str, where: str, line: int) -> dict[str, str]:
    commands = body.get("commands")
    if commands is None:
        return {}
    at = line_of(body, "commands") or line
    _expect(isinstance(commands, dict), f"{where}'commands' must be a mapping", file, at)
    for key, value in commands.items():
        _expect(
            isinstance(value, str),
            f"{where}commands.{key} must be a string",
            file,
            line_of(commands, key) or at,
        )
    return {str(key): value.strip() for key, value in commands.items()}


# --- the inheritable keys ------------------------------------------------------------


def _validate(key: str, value: Any, file: str, line: int | None, where: str) -> Any:
    """Check one inheritable key and return it as plain data (dicts, not LineDicts)."""
    check = _CHECKS[key]
    return check(value, lambda msg: ConfigError(f"{where}{msg}", file=file, line=line))


def _check_size(value: Any, fail: Any) -> str:
    if not isinstance(value, str) or value.upper() not in SIZES:
        raise fail(f"size must be one of {', '.join(SIZES)}, not {value!r}")
    return value.upper()


def _check_disk(value: Any, fail: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f"disk must be a whole number of MB, not {value!r}")
    return value


def _check_access(value: Any, fail: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail("access must be a mapping")
    return _plain(value)


def _mapping_of_mappings(problem: str) -> Any:
    """A check for a key whose value maps names to mappings (null: none)."""

    def check(value: Any, fail: Any) -> dict[str, dict[str, Any]]:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise fail(problem)
        return _plain(value)

    return check


_check_mounts = _mapping_of_mappings(
    "mounts must map each path to a mapping (source, source_path)")


def _check_relationships(value: Any, fail: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail("relationships must be a mapping of name to 'service:endpoint'")
    return {str(name): _relationship(name, target, fail) for name, target in value.items()}


def _relationship(name: Any, target: Any, fail: Any) -> str:
    """``'service:endpoint'``; the newer ``{service, endpoint}`` and null forms are folded in."""
    if isinstance(target, str):
        return target
    if target is None:
        return str(name)
    if isinstance(target, dict) and isinstance(target.get("service", name), str):
        service = target.get("service", name)
        endpoint = target.get("endpoint")
        return f"{service}:{endpoint}" if endpoint else service
    raise fail(f"relationship '{name}' must be 'service:endpoint'")


_check_variables = _mapping_of_mappings(
    "variables must map each prefix (env, php, ...) to a mapping")


_CHECKS = {
    "size": _check_size,
    "disk": _check_disk,
    "access": _check_access,
    "mounts": _check_mounts,
    "relationships": _check_relationships,
    "variables": _check_variables,
}


def _plain(value: Any) -> Any:
    """Deep copy into plain dicts and lists, so the model shares nothing with the parser."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _expect(condition: bool, message: str, file: str, line: int | None) -> None:
    if not condition:
        raise ConfigError(message, file=file, line=line)
