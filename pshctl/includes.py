"""Platform.sh's ``!include`` tag in app definitions.

The loader leaves each tag as a :class:`~pshctl.yamlutil.Include`; :func:`resolve_includes`
replaces it once the app's directory is known (for ``.platform/applications.yaml`` that is the
entry's ``source.root``, so it cannot be done while parsing):

- ``type: string``: the file's text, as a multi-line string would give it;
- ``type: binary``: the file's bytes, base64-encoded;
- ``type: yaml`` (the default, and what ``!include FILE`` means): the file parsed, with its
  own includes resolved.

Paths are relative to the app's directory, in included files too, and must stay inside the
project. Mappings read from an included YAML file take the line of the ``!include`` that brought
them in, so every line number in an app's data still refers to its definition file: a problem
found later (a bad ``size`` in an included worker) is reported at the tag. Problems met while
including (a missing file, a YAML error in an included file) name the file that has them.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pshctl.errors import ConfigError
from pshctl.yamlutil import INCLUDE_TAG, Include, LineDict, loads

TYPES = ("string", "binary", "yaml")
DEFAULT_TYPE = "yaml"
_KEYS = ("type", "path")


@dataclass(frozen=True)
class _Scope:
    """Where the tags being resolved were written, and what they may reach."""

    app_root: Path  # resolved; include paths are relative to it
    project_root: Path  # resolved; nothing outside it is read
    file: str  # the file holding the tags, as messages name it
    chain: tuple[Path, ...]  # the files being included, outermost first: cycles
    read: list[Path]  # every file included so far (shared by nested scopes)


def resolve_includes(
    data: Any, *, file: str, source: Path, app_root: Path, project_root: Path,
    read: list[Path] | None = None,
) -> Any:
    """``data`` (read from ``source``, named ``file`` in messages) with every tag replaced.

    Containers are changed in place; a tag at the top is replaced by the return value.
    Every file included is appended to ``read`` when it is given.
    """
    scope = _Scope(
        app_root=Path(app_root).resolve(),
        project_root=Path(project_root).resolve(),
        file=file,
        chain=(Path(source).resolve(),),
        read=read if read is not None else [],
    )
    return _resolve(data, scope, set())


def _resolve(value: Any, scope: _Scope, seen: set[int]) -> Any:
    if isinstance(value, Include):
        return _include(value, scope)
    if not isinstance(value, (dict, list)) or id(value) in seen:
        return value
    seen.add(id(value))  # anchors can make a structure refer to itself
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, Include):
                raise _fail(scope, key, "cannot be used as a key")
            value[key] = _resolve(item, scope, seen)
    else:
        for index, item in enumerate(value):
            value[index] = _resolve(item, scope, seen)
    return value


def _include(tag: Include, scope: _Scope) -> Any:
    kind, path = _parse(tag, scope)
    target, real = _locate(tag, path, scope)
    if kind == "yaml":
        return _include_yaml(tag, path, target, real, scope)
    content = _read(tag, path, target, scope)
    if kind == "binary":
        return base64.b64encode(content).decode("ascii")
    return _text(tag, path, content, scope)


def _parse(tag: Include, scope: _Scope) -> tuple[str, str]:
    """The tag's type and path, checked."""
    spec = tag.spec
    if isinstance(spec, str):
        spec = {"path": spec} if spec else {}
    if not isinstance(spec, dict):
        raise _fail(scope, tag, "expected a file path, or a mapping with 'type' and 'path'")
    unknown = [key for key in spec if key not in _KEYS]
    if unknown:
        raise _fail(scope, tag, f"unknown key {unknown[0]!r} (expected 'type' and 'path')")
    kind = spec.get("type", DEFAULT_TYPE)
    valid = f"valid types: {', '.join(TYPES)}"
    if kind == "archive":
        raise _fail(scope, tag, f"type 'archive' (a directory) is not supported; {valid}")
    if kind not in TYPES:
        raise _fail(scope, tag, f"unknown type {kind!r}; {valid}")
    path = spec.get("path")
    if path is None or path == "":
        raise _fail(scope, tag, "'path' is required")
    if not isinstance(path, str):
        raise _fail(scope, tag, f"'path' must be a string, not {path!r}")
    return kind, path


def _locate(tag: Include, path: str, scope: _Scope) -> tuple[Path, Path]:
    """The file ``path`` names, as written and resolved; refused when it leaves the project."""
    if os.path.isabs(path):
        raise _fail(scope, tag, f"'{path}' must be relative to the app's directory")
    target = Path(os.path.normpath(scope.app_root / path))
    try:
        real = target.resolve()
    except (OSError, RuntimeError):  # a symlink loop: reading it reports the problem
        real = target
    if not real.is_relative_to(scope.project_root):
        raise _fail(scope, tag, f"'{path}' is outside the project ({scope.project_root})")
    return target, real


def _read(tag: Include, path: str, target: Path, scope: _Scope) -> bytes:
    try:
        content = target.read_bytes()
    except OSError as exc:
        raise _fail(scope, tag, f"cannot read '{path}' ({exc.strerror or exc})") from None
    if target not in scope.read:
        scope.read.append(target)
    return content


def _text(tag: Include, path: str, content: bytes, scope: _Scope) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        message = f"'{path}' is not UTF-8 text (type: binary takes any file)"
        raise _fail(scope, tag, message) from None


def _include_yaml(tag: Include, path: str, target: Path, real: Path, scope: _Scope) -> Any:
    if real in scope.chain:
        cycle = " -> ".join(_display(scope, p) for p in (*scope.chain, real))
        raise _fail(scope, tag, f"include cycle: {cycle}")
    text = _text(tag, path, _read(tag, path, target, scope), scope)
    name = _display(scope, target)
    data = loads(text, file=name, includes=True)
    data = _resolve(data, replace(scope, file=name, chain=(*scope.chain, real)), set())
    _relocate(data, tag.line, set())
    return data


def _relocate(value: Any, line: int, seen: set[int]) -> None:
    """Give every mapping under ``value`` (and each of its keys) the line ``line``."""
    if not isinstance(value, (dict, list)) or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, LineDict):
        value.line = line
        value.key_lines = dict.fromkeys(value.key_lines, line)
    for item in value.values() if isinstance(value, dict) else value:
        _relocate(item, line, seen)


def _display(scope: _Scope, path: Path) -> str:
    """A file name for messages: relative to the project root."""
    return os.path.relpath(path, scope.project_root)


def _fail(scope: _Scope, tag: Include, message: str) -> ConfigError:
    return ConfigError(f"{INCLUDE_TAG}: {message}", file=scope.file, line=tag.line)
