"""One app's mapping -> :class:`AppDefinition`, under one product's :class:`Rules`.

Both products describe an app with the same keys; they differ in which keys a worker may set
(the rest it inherits from the app, or cannot have at all), and in the mount sources they
know. Those differences are data (each product's ``RULES``), so this one parser serves both.

A key a worker sets replaces the app's whole: ``variables: {env: {A: x}}`` on a worker drops
every other app-level variable, and ``mounts: {}`` means no mounts. ``hooks``, ``crons`` and
``web`` belong to the web container and never reach a worker.

Values the platform would refuse are errors at their ``file:line``; values it documents as
advisory or that pshctl does not need to understand exactly (an unknown ``size``, an unknown
mount ``source``, a key of the other product) are warnings naming the container, so that one
odd value never hides the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pshctl.appdef.layout import ProductChoice
from pshctl.appdef.model import EMPTY, AppDefinition, ContainerConfig, Kind, Rules
from pshctl.errors import ConfigError
from pshctl.yamlutil import Include, line_of

# Names end up in SSH user names, host names (`<app>.internal`) and file names: a DNS label.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MAX_NAME = 63
SIZES = ("AUTO", "XS", "S", "M", "L", "XL", "2XL", "4XL")
PROFILES = ("HIGH_CPU", "BALANCED", "HIGH_MEMORY", "HIGHER_MEMORY")
LEGACY_MOUNT = re.compile(r"shared:files(?:/(?P<path>.*))?")
# The commands `workers show` lists first, in the order the platform runs them.
COMMANDS = ("pre_start", "start", "post_start")


def check_name(kind: str, name: Any, file: str, line: int | None) -> str:
    """An app or worker name: letters, digits, ``-``, ``_``; at most MAX_NAME characters."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(
            f"{kind} name {name!r} must be letters, digits, '-' or '_' "
            "(starting with a letter or digit)", file=file, line=line)
    if len(name) > MAX_NAME:
        raise ConfigError(f"{kind} name '{name[:24]}...' is {len(name)} characters long; "
                          f"at most {MAX_NAME} are allowed", file=file, line=line)
    return name


@dataclass
class _Where:
    """The file being parsed, its rules, and the warnings collected so far."""

    rules: Rules
    file: str
    warnings: list[str] = field(default_factory=list)

    def fail(self, message: str, line: int | None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line)

    def warn(self, message: str, line: int | None) -> None:
        at = f"{self.file}:{line}" if line else self.file
        text = f"{at}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)


def parse_app(
    data: Mapping[str, Any],
    *,
    name: str,
    rules: Rules,
    file: str,
    root: Path,
    source: Path,
    included: Sequence[Path] = (),
    choice: ProductChoice | None = None,
    warnings: Sequence[str] = (),
) -> AppDefinition:
    """Build an :class:`AppDefinition` from one app's mapping, its ``!include`` tags already
    resolved (from the files ``included``)."""
    where = _Where(rules, file, list(warnings))
    line = line_of(data) or 1
    app_type = data.get("type")
    if app_type is not None and not isinstance(app_type, str):
        raise where.fail("'type' must be a string", line_of(data, "type"))
    top = _keys(data, f"app '{name}': ", where, app_level=True)
    workers = _workers(data, top, where)
    web = _web(data, top, name, where)
    return AppDefinition(
        name=name, type=app_type, root=root, source=source, workers=workers, web=web,
        line=line, included=tuple(included), product=rules.product, choice=choice,
        warnings=tuple(where.warnings), file=file,
    )


def _workers(data: Mapping[str, Any], top: dict[str, Any], where: _Where
             ) -> dict[str, ContainerConfig]:
    section = data.get("workers")
    if section is None:
        return {}
    at = line_of(data, "workers")
    if not isinstance(section, dict):
        raise where.fail("'workers' must be a mapping of worker names", at)
    workers = {}
    for name, body in section.items():
        line = line_of(section, name) or at or 1
        check_name("worker", name, where.file, line)
        label = f"worker '{name}': "
        if not isinstance(body, dict):
            raise where.fail(f"{label}must be a mapping (with commands.start)", line)
        commands = _commands(body, where, label, line)
        if not commands.get("start", "").strip():
            raise where.fail(f"{label}commands.start is required", line)
        workers[name] = _container(name, "worker", body, top, commands, where, line)
    return workers


def _web(data: Mapping[str, Any], top: dict[str, Any], app_name: str, where: _Where
         ) -> ContainerConfig | None:
    """The web container, when ``web.commands.start`` is set."""
    body = data.get("web")
    if body is None:
        return None
    line = line_of(data, "web") or 1
    if not isinstance(body, dict):
        raise where.fail("'web' must be a mapping", line)
    commands = _commands(body, where, "web: ", line)
    if not commands.get("start", "").strip():
        return None
    return _container(app_name, "web", body, top, commands, where, line)


def _container(name: str, kind: Kind, body: Mapping[str, Any], top: dict[str, Any],
               commands: dict[str, str], where: _Where, line: int) -> ContainerConfig:
    label = f"worker '{name}': " if kind == "worker" else "web: "
    before = len(where.warnings)
    own = _keys(body, label, where, app_level=False)
    container_warnings = where.warnings[before:]
    inherited = {key: value for key, value in top.items() if key not in own}
    effective = {**inherited, **own}
    values: dict[str, Any] = {key: effective.get(key, EMPTY.get(key))
                              for key in where.rules.shown}
    return ContainerConfig(
        name=name, kind=kind, product=where.rules.product, **values, commands=commands,
        inherited=frozenset(inherited), own=frozenset(own),
        from_platform=frozenset(where.rules.from_platform),
        warnings=tuple(container_warnings), line=line, file=where.file,
    )


def _keys(body: Mapping[str, Any], label: str, where: _Where, *, app_level: bool
          ) -> dict[str, Any]:
    """The keys ``body`` sets that this product honours there, validated."""
    rules = where.rules
    settable = (*rules.per_container, *rules.app_wide) if app_level else rules.per_container
    out = {}
    for key in body:
        at = line_of(body, key)
        if key in settable:
            out[key] = _CHECKS[key](body[key], _Check(where, label, key, at))
        elif key in rules.app_wide:
            where.warn(f"{label}'{key}' cannot be set here; the app's applies ({rules.label})",
                       at)
        elif key in rules.not_used:
            where.warn(f"{label}'{key}' is not used on {rules.label}: {rules.not_used[key]}", at)
    return out


def _commands(body: Mapping[str, Any], where: _Where, label: str, line: int) -> dict[str, str]:
    commands = body.get("commands")
    if commands is None:
        return {}
    at = line_of(body, "commands") or line
    if not isinstance(commands, dict):
        raise where.fail(f"{label}'commands' must be a mapping", at)
    out = {}
    for key, value in commands.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise where.fail(f"{label}commands.{key} must be a string",
                             line_of(commands, key) or at)
        out[str(key)] = value.strip()
    return out


# --- the keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    """What a key check needs to report: where, and for which container."""

    where: _Where
    label: str
    key: str
    line: int | None

    def fail(self, message: str) -> ConfigError:
        return self.where.fail(f"{self.label}{message}", self.line)

    def warn(self, message: str) -> None:
        self.where.warn(f"{self.label}{message}", self.line)


def _check_size(value: Any, c: _Check) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise c.fail(f"size must be one of {', '.join(SIZES)}, not {value!r}")
    text = str(value).strip().upper()
    if text not in SIZES:
        c.warn(f"size {value!r} is not one of {', '.join(SIZES)}; shown as written")
        return str(value)
    return text


def _check_disk(value: Any, c: _Check) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise c.fail(f"disk must be a whole number of MB, not {value!r}")
    return value


def _check_mapping(value: Any, c: _Check) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise c.fail(f"{c.key} must be a mapping")
    return plain(value)


def _check_text(value: Any, c: _Check) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise c.fail(f"{c.key} must be a string, not {value!r}")
    return value


def _check_profile(value: Any, c: _Check) -> str | None:
    text = _check_text(value, c)
    if text is not None and text not in PROFILES:
        c.warn(f"container_profile {text!r} is not one of {', '.join(PROFILES)}")
    return text


def _check_mounts(value: Any, c: _Check) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise c.fail("mounts must map each path to a mapping (source, source_path)")
    out = {}
    for path, spec in value.items():
        if not isinstance(path, str) or not path.strip("/"):
            raise c.fail(f"mount path {path!r} must name a directory of the app")
        out[path] = _mount(path, spec, c)
    return out


def _mount(path: str, spec: Any, c: _Check) -> dict[str, Any]:
    if isinstance(spec, str):  # the older form, "shared:files/PATH"
        match = LEGACY_MOUNT.fullmatch(spec.strip())
        if match is None:
            raise c.fail(f"mount '{path}': {spec!r} is not a mount; write a mapping "
                         "(source, source_path) or the older 'shared:files/PATH'")
        return {"source": "local", "source_path": (match["path"] or "").strip("/")}
    if not isinstance(spec, dict):
        raise c.fail(f"mount '{path}' must be a mapping (source, source_path)")
    mount = plain(spec)
    sources = c.where.rules.mount_sources
    source = mount.get("source")
    if source is None:
        c.warn(f"mount '{path}' has no 'source' (one of {', '.join(sources)})")
    elif source not in sources:
        c.warn(f"mount '{path}': source {source!r} is not one of {', '.join(sources)}")
    return mount


def _check_relationships(value: Any, c: _Check) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise c.fail("relationships must be a mapping of name to 'service:endpoint'")
    return {str(name): _relationship(name, target, c) for name, target in value.items()}


def _relationship(name: Any, target: Any, c: _Check) -> str:
    """``'service:endpoint'``; the newer ``{service, endpoint}`` and null forms are folded in."""
    if isinstance(target, str):
        return target
    if target is None:
        return str(name)
    if isinstance(target, dict):
        service = target.get("service", name)
        endpoint = target.get("endpoint")
        if isinstance(service, str) and (endpoint is None or isinstance(endpoint, str)):
            return f"{service}:{endpoint}" if endpoint else service
    raise c.fail(f"relationship '{name}' must be 'service:endpoint'")


def _check_variables(value: Any, c: _Check) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise c.fail("variables must map each prefix (env, php, ...) to a mapping")
    out = {}
    for prefix, names in value.items():
        at = line_of(value, prefix) or c.line
        if not isinstance(prefix, str) or not (names is None or isinstance(names, dict)):
            raise c.where.fail(f"{c.label}variables must map each prefix (env, php, ...) "
                               "to a mapping", at)
        names = names or {}
        for variable in names:
            if not isinstance(variable, str):
                raise c.where.fail(f"{c.label}variables.{prefix}: the name {variable!r} must "
                                   "be a string (quote it)", line_of(names, variable) or at)
        out[prefix] = plain(names)
    return out


def _check_hosts(value: Any, c: _Check) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise c.fail("additional_hosts must map host names to IP addresses")
    return dict(value)


_CHECKS: dict[str, Callable[[Any, _Check], Any]] = {
    "size": _check_size,
    "disk": _check_disk,
    "resources": _check_mapping,
    "container_profile": _check_profile,
    "access": _check_mapping,
    "mounts": _check_mounts,
    "relationships": _check_relationships,
    "variables": _check_variables,
    "additional_hosts": _check_hosts,
    "firewall": _check_mapping,
    "timezone": _check_text,
}


def plain(value: Any) -> Any:
    """Deep copy into plain dicts and lists, so the model shares nothing with the parser.

    Only called on data whose size and depth :func:`pshctl.appdef.includes.check_bounds`
    has checked.
    """
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Include):  # `!archive`: its path, whichever form it was written in
        spec = value.spec
        return {"archive": spec.get("path") if isinstance(spec, dict) else spec}
    return value
