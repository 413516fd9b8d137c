"""The platform's ``!include`` tag in app definitions, and the bounds on what it brings in.

The loader leaves each tag as a :class:`~pshctl.yamlutil.Include`; :func:`resolve_includes`
replaces it once the app's directory is known (its ``source.root``, so it cannot be done
while parsing):

- ``type: string``: the file's text, as a multi-line string would give it;
- ``type: binary``: the file's bytes, base64-encoded;
- ``type: yaml`` (the default, and what ``!include FILE`` means): the file parsed, with its
  own includes resolved.

Paths are relative to the app's directory, in included files too, and must stay inside the
project. Mappings and lists read from an included YAML file take the line of the ``!include``
that brought them in (once its bounds are checked, at the file's own lines), so every line
number in an app's data still refers to its definition file: a problem found later (a bad
``disk`` in an included worker) is reported at the tag. Problems met while including (a
missing file, a YAML error in an included file) name the file that has them.

A whole app pulled into ``.platform/applications.yaml`` or ``.upsun/*.yaml`` with
``!include`` is read by :func:`include_document` instead: relative to that file's directory,
and the app then counts as defined in the included file.

Repository files are not trusted: :data:`MAX_NESTING` includes deep, :data:`MAX_FILES` files
and :data:`MAX_NODES` values per app (aliases counted as often as they are used), and
:data:`~pshctl.yamlutil.MAX_DEPTH` levels of nesting, all reported at a ``file:line``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pshctl.errors import ConfigError
from pshctl.yamlutil import (
    ARCHIVE_TAG,
    MAX_DEPTH,
    Include,
    LineDict,
    LineList,
    loads,
    os_error_text,
    read_bounded,
)

TYPES = ("string", "binary", "yaml")
DEFAULT_TYPE = "yaml"
_KEYS = ("type", "path")
MAX_NESTING = 16  # an included file including another, and so on
MAX_FILES = 500  # files included by one app
MAX_NODES = 200_000  # mappings, lists and values of one app, aliases expanded


@dataclass
class _Reads:
    """What one app's includes have read so far (shared by nested scopes)."""

    project_root: Path  # resolved; nothing outside it is read
    read: list[Path]
    warnings: list[str]
    count: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # id -> values under it, expanded
    heights: dict[int, int] = field(default_factory=dict)  # id -> levels under it


@dataclass(frozen=True)
class _Scope:
    """Where the tags being resolved were written, and what they may reach."""

    app_root: Path  # resolved; include paths are relative to it
    chain: tuple[Path, ...]  # the files being included, outermost first: cycles
    reads: _Reads = field(compare=False)


def resolve_includes(
    data: dict[Any, Any], *, source: Path, app_root: Path, project_root: Path,
    read: list[Path], warnings: list[str], chain: tuple[Path, ...] = (),
) -> None:
    """Replace every tag in ``data`` (an app's mapping, read from ``source``, changed in
    place) and check it against the bounds. Every file included is appended to ``read``,
    every warning to ``warnings``.
    """
    reads = _Reads(Path(project_root).resolve(), read, warnings)
    scope = _Scope(Path(app_root).resolve(), (*chain, _real(Path(source))), reads)
    _resolve(data, scope, 1, 1)  # the mapping's own line is taken


def include_document(
    tag: Include, *, base: Path, project_root: Path, read: list[Path], chain: tuple[Path, ...]
) -> tuple[Any, Path, str]:
    """A whole app pulled in with ``!include`` (path relative to ``base``), its own tags left
    for :func:`resolve_includes` once its ``source.root`` is known.

    Returns the data, the file and its name as messages give it.
    """
    reads = _Reads(Path(project_root).resolve(), read, [])
    scope = _Scope(Path(base).resolve(), chain, reads)
    kind, path = _parse(tag)
    if kind != "yaml":
        raise _fail(tag, f"an app must be included as YAML, not type '{kind}'")
    target, real = _locate(tag, path, scope)
    if real in chain:
        raise _fail(tag, f"include cycle: {_cycle(scope, real)}")
    name = _display(reads.project_root, target)
    data = loads(_text(tag, path, _read(tag, path, target, scope)), file=name, includes=True)
    return data, target, name


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def _resolve(value: Any, scope: _Scope, depth: int, line: int) -> Any:
    """``value`` with its tags replaced; on the way, the bounds are checked: nesting (aliases
    followed) and size with aliases expanded. (A structure containing itself, which the
    loader refuses anyway, would be too deep.)"""
    if isinstance(value, Include):
        return _include(value, scope, depth)
    if not isinstance(value, (dict, list)):
        return value
    reads, key = scope.reads, id(value)
    if key in reads.sizes:  # met before (an alias): its size and height are known
        if depth - 1 + reads.heights[key] > MAX_DEPTH:
            raise _too_deep(scope, line)  # where the alias is used, not where it points
        return value
    line = _own_line(value) or line
    if depth > MAX_DEPTH:
        raise _too_deep(scope, line)
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(name, Include):
                raise _fail(name, "cannot be used as a key")
            value[name] = _resolve(item, scope, depth + 1, line)
        children: Any = value.values()
    else:
        for index, item in enumerate(value):
            value[index] = _resolve(item, scope, depth + 1, line)
        children = value
    size, height = 1, 1
    for child in children:
        size += 1 + reads.sizes.get(id(child), 0)
        height = max(height, 1 + reads.heights.get(id(child), 0))
    if size > MAX_NODES:
        raise ConfigError(f"more than {MAX_NODES} values once YAML aliases are expanded",
                          file=_file_of(scope), line=line)
    reads.sizes[key], reads.heights[key] = size, height
    return value


def _own_line(value: dict[Any, Any] | list[Any]) -> int | None:
    """Where a mapping or a list read from a YAML file starts; None for one made in code."""
    return value.line if isinstance(value, (LineDict, LineList)) else None


def _too_deep(scope: _Scope, line: int) -> ConfigError:
    return ConfigError(f"nested more than {MAX_DEPTH} levels deep", file=_file_of(scope),
                       line=line)


def _file_of(scope: _Scope) -> str:
    return _display(scope.reads.project_root, scope.chain[-1])


def _include(tag: Include, scope: _Scope, depth: int) -> Any:
    kind, path = _parse(tag)
    if kind == "archive":
        scope.reads.warnings.append(
            f"{tag.file}:{tag.line}: {tag.tag} '{path}' (a directory) is not read by pshctl")
        return tag
    target, real = _locate(tag, path, scope)
    if kind == "yaml":
        return _include_yaml(tag, path, target, real, scope, depth)
    content = _read(tag, path, target, scope)
    if kind == "binary":
        return base64.b64encode(content).decode("ascii")
    return _text(tag, path, content)


def _parse(tag: Include) -> tuple[str, str]:
    """The tag's type and path, checked."""
    spec = tag.spec
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        raise _fail(tag, "expected a file path, or a mapping with 'type' and 'path'")
    unknown = [key for key in spec if key not in _KEYS]
    if unknown:
        raise _fail(tag, f"unknown key {unknown[0]!r} (expected 'type' and 'path')")
    kind = "archive" if tag.tag == ARCHIVE_TAG else spec.get("type", DEFAULT_TYPE)
    valid = f"valid types: {', '.join(TYPES)}"
    if kind == "archive" and tag.tag != ARCHIVE_TAG:
        raise _fail(tag, f"type 'archive' (a directory) is not supported; {valid}")
    if kind not in (*TYPES, "archive"):
        raise _fail(tag, f"unknown type {kind!r}; {valid}")
    path = spec.get("path")
    if path is None or path == "":
        raise _fail(tag, "'path' is required")
    if not isinstance(path, str):
        raise _fail(tag, f"'path' must be a string, not {path!r}")
    if "\0" in path:
        raise _fail(tag, f"'path' cannot contain a NUL character: {path!r}")
    return kind, path


def _locate(tag: Include, path: str, scope: _Scope) -> tuple[Path, Path]:
    """The file ``path`` names, as written and resolved; refused when it leaves the project."""
    if os.path.isabs(path):
        raise _fail(tag, f"'{path}' must be relative to the app's directory")
    target = Path(os.path.normpath(scope.app_root / path))
    real = _real(target)  # a symlink loop: reading it reports the problem
    if not real.is_relative_to(scope.reads.project_root):
        raise _fail(tag, f"'{path}' is outside the project ({scope.reads.project_root})")
    return target, real


def _read(tag: Include, path: str, target: Path, scope: _Scope) -> bytes:
    reads = scope.reads
    reads.count += 1
    if reads.count > MAX_FILES:
        raise _fail(tag, f"more than {MAX_FILES} files included by one app")
    try:
        content = read_bounded(target)
    except OSError as exc:
        raise _fail(tag, f"cannot read '{path}' ({os_error_text(exc)})") from None
    if target not in reads.read:
        reads.read.append(target)
    return content


def _text(tag: Include, path: str, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        message = f"'{path}' is not UTF-8 text (type: binary takes any file)"
        raise _fail(tag, message) from None


def _include_yaml(tag: Include, path: str, target: Path, real: Path, scope: _Scope,
                  depth: int) -> Any:
    if real in scope.chain:
        raise _fail(tag, f"include cycle: {_cycle(scope, real)}")
    if len(scope.chain) > MAX_NESTING:
        raise _fail(tag, f"includes nested more than {MAX_NESTING} deep")
    text = _text(tag, path, _read(tag, path, target, scope))
    name = _display(scope.reads.project_root, target)
    data = loads(text, file=name, includes=True)
    inner = replace(scope, chain=(*scope.chain, real))
    data = _resolve(data, inner, depth, tag.line)
    _relocate(data, tag.line, set())
    return data


def _cycle(scope: _Scope, real: Path) -> str:
    return " -> ".join(_display(scope.reads.project_root, p) for p in (*scope.chain, real))


def _relocate(value: Any, line: int, seen: set[int]) -> None:
    """Give every mapping and list under ``value`` (and each key) the line ``line``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if not isinstance(item, (dict, list)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (LineDict, LineList)):
            item.line = line
        if isinstance(item, LineDict):
            item.key_lines = dict.fromkeys(item.key_lines, line)
        stack.extend(item.values() if isinstance(item, dict) else item)


def _display(project_root: Path, path: Path) -> str:
    """A file name for messages: relative to the project root."""
    return os.path.relpath(path, project_root)


def _fail(tag: Include, message: str) -> ConfigError:
    return ConfigError(f"{tag.tag}: {message}", file=tag.file, line=tag.line)
