"""Load YAML files and remember where every mapping and key was written.

Error messages must point at a line (``.platform.app.yaml:14: ...``), so mappings are
loaded as :class:`LineDict`, a ``dict`` that also knows its own line and each key's line,
and lists as :class:`LineList`, a ``list`` that knows its own line.
PyYAML is imported inside functions only: this module is reachable from the CLI and
``--help`` must not pay for the parser. libyaml's parser (``CSafeLoader``) is used when
PyYAML was built with it: the same nodes and marks, several times faster on large
projects (bench/bench_appdef.py); without it the pure-Python parser does the same work.

With ``includes=True`` (app definitions only) the platform's ``!include`` and ``!archive``
tags are read as :class:`Include` placeholders; :mod:`pshctl.appdef.includes` replaces them
once the app's directory is known. Elsewhere the tags stay an error.

Files come from repositories, so reading is bounded: only regular files (a FIFO or a device
would block or never end), at most :data:`MAX_FILE_BYTES`, nesting at most :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pshctl.errors import ConfigError

MAX_FILE_BYTES = 4 * 1024 * 1024  # an app definition or included file
MAX_DEPTH = 64  # nested mappings and lists; real definitions stay under 15
PREFER_LIBYAML = True  # bench/bench_appdef.py turns it off to compare


class LineDict(dict):
    """A mapping from a YAML file, with 1-based line numbers for itself and its keys."""

    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def line_of(self, key: Any) -> int | None:
        """The line of ``key``, else of the mapping itself."""
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A list from a YAML file, with the 1-based line it starts on."""

    line: int | None = None


def line_of(value: Any, key: Any = None) -> int | None:
    """Where ``value`` (or its ``key``) was written, when it came from a YAML file."""
    if isinstance(value, LineDict):
        return value.line if key is None else value.line_of(key)
    return None


@dataclass(frozen=True, eq=False)
class Include:
    """An ``!include`` (or ``!archive``) tag as written, not checked yet.

    ``spec`` is a path, or a mapping with ``type`` and ``path``; ``file`` and ``line`` say
    where the tag was written, so a problem with it is reported there whenever it is met.
    """

    spec: Any
    line: int
    file: str
    tag: str = "!include"


INCLUDE_TAG = "!include"
ARCHIVE_TAG = "!archive"


def libyaml_available() -> bool:
    import yaml

    return hasattr(yaml, "CSafeLoader")


@cache
def _loader_class(includes: bool, fast: bool) -> type:
    import yaml

    base = yaml.CSafeLoader if fast else yaml.SafeLoader

    class LineLoader(base):  # type: ignore[misc, valid-type]
        """SafeLoader whose mappings are LineDicts and lists LineLists; duplicate keys
        are errors."""

        display_name = "<string>"

    def construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> Any:
        result = LineDict()
        result.line = node.start_mark.line + 1
        yield result  # yielded first so that recursive anchors still resolve
        _refuse_duplicates(node)
        _refuse_merged_includes(node)
        loader.flatten_mapping(node)  # `<<` merge keys; the mapping's own keys win
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value, not a list or a mapping",
                    key_node.start_mark,
                )
            key = loader.construct_object(key_node, deep=True)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1

    def construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> Any:
        result = LineList()
        result.line = node.start_mark.line + 1
        yield result  # first, as for mappings
        result.extend(loader.construct_sequence(node))  # as PyYAML builds its lists

    def _refuse_duplicates(node: yaml.MappingNode) -> None:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key_node.value}'", key_node.start_mark
                )
            seen.add(key_node.value)

    def _refuse_merged_includes(node: yaml.MappingNode) -> None:
        # `<<` would merge the tag's own `type`/`path` keys, not the included file.
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":merge"):
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                if any(n.tag in (INCLUDE_TAG, ARCHIVE_TAG) for n in [value_node, *merged]):
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{INCLUDE_TAG} cannot be merged with '<<'",
                        value_node.start_mark,
                    )

    def construct_include(loader: LineLoader, node: yaml.Node) -> Include:
        spec: Any
        if isinstance(node, yaml.ScalarNode):
            spec = loader.construct_scalar(node)
        elif isinstance(node, yaml.MappingNode):
            _refuse_duplicates(node)
            spec = loader.construct_mapping(node, deep=True)  # PyYAML's: a plain dict
        else:
            spec = None  # a sequence: refused when the include is resolved
        return Include(spec, node.start_mark.line + 1, loader.display_name, node.tag)

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
                               construct_sequence)
    if includes:
        LineLoader.add_constructor(INCLUDE_TAG, construct_include)
        LineLoader.add_constructor(ARCHIVE_TAG, construct_include)
    for tag, construct in list(LineLoader.yaml_constructors.items()):
        if tag is not None and tag.startswith(STANDARD_TAGS):
            LineLoader.add_constructor(tag, _refusing_bad_values(construct))
    return LineLoader


STANDARD_TAGS = "tag:yaml.org,2002:"
# What PyYAML's constructors raise on a value their explicit tag does not fit
# (`!!timestamp x`, `!!bool x`, `!!int x`, `!!map [1]`) instead of a YAML error.
_BAD_VALUE = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def _refusing_bad_values(construct: Any) -> Any:
    """``construct`` turning a value its tag does not fit into a YAML error at its line."""
    import types

    def steps(made: Any, node: Any) -> Any:
        try:
            return (yield from made)
        except _BAD_VALUE:
            raise _not_a(node) from None

    def checked(loader: Any, node: Any) -> Any:
        try:
            made = construct(loader, node)
        except _BAD_VALUE:
            raise _not_a(node) from None
        # A mapping or a list is built in steps (so that anchors can refer to it).
        return steps(made, node) if isinstance(made, types.GeneratorType) else made

    return checked


def _not_a(node: Any) -> Exception:
    import yaml

    tag = "!!" + node.tag.removeprefix(STANDARD_TAGS)
    if isinstance(node, yaml.ScalarNode):
        what = repr(node.value)
    else:
        what = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
    return yaml.constructor.ConstructorError(None, None, f"not a valid {tag}: {what}",
                                             node.start_mark)


def loads(text: str, *, file: str, includes: bool = False) -> Any:
    """Parse YAML text; syntax errors become ``file:line: problem`` ConfigErrors.

    ``includes``: read ``!include`` tags as :class:`Include` placeholders.
    """
    import yaml

    fast = PREFER_LIBYAML and libyaml_available()
    try:
        return _load(text, file, includes, fast)
    except yaml.YAMLError as exc:
        error: Any = exc
    except RecursionError:
        raise _too_deep(text, file) from None
    except ValueError as exc:  # PyYAML's scanner: a "\U001e4000" escape past U+10FFFF
        raise ConfigError(f"invalid YAML: a bad escape ({exc})", file=file) from None
    if fast and "maximum nesting depth" in str(getattr(error, "problem", "")):
        raise _too_deep(text, file) from None  # libyaml's own bound (1000 levels)
    if fast:
        # libyaml words its errors differently (and refuses a few things PyYAML reads):
        # the pure-Python parser gives the one message pshctl documents, or the data.
        try:
            return _load(text, file, includes, fast=False)
        except yaml.YAMLError as exc:
            error = exc
        except RecursionError:
            raise _too_deep(text, file) from None
        except ValueError:  # a bad escape the pure parser trips on: libyaml's error stands
            pass
    raise _yaml_error(error, file) from None


def _too_deep(text: str, file: str) -> ConfigError:
    return ConfigError(f"nested more than {MAX_DEPTH} levels deep", file=file,
                       line=_too_deep_line(text))


def _load(text: str, file: str, includes: bool, fast: bool) -> Any:
    loader = _loader_class(includes, fast)(text)
    loader.display_name = file
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _too_deep_line(text: str) -> int | None:
    """Where nesting first goes past MAX_DEPTH, found by the (iterative) event parser."""
    import yaml

    depth = 0
    loader = yaml.CSafeLoader if libyaml_available() else yaml.SafeLoader
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return mark.line + 1 if mark is not None else None
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as exc:  # libyaml's own bound met while reading ahead: its place
        mark = getattr(exc, "problem_mark", None)
        return mark.line + 1 if mark is not None else None
    return None


def _yaml_error(exc: Any, file: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return ConfigError(f"invalid YAML: {exc}", file=file)
    line = mark.line + 1
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        problem = f"{exc.problem} ({exc.context}"
        start = exc.context_mark
        # An unclosed quote or bracket is reported where the file ends: say where it opened.
        if start is not None and start.line != line - 1:
            problem += f" that starts on line {start.line + 1}"
        problem += ")"
    return ConfigError(f"invalid YAML: {problem}", file=file, line=line)


def read_bounded(path: Path, *, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``; OSError for anything else or anything bigger.

    Opened non-blocking so that a FIFO cannot hang the open; the check is made on the open
    file, so swapping the path for something else after a check changes nothing.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise OSError(f"bigger than {_size(limit)}")
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 16):
            size += len(chunk)
            if size > limit:  # grew while being read
                raise OSError(f"bigger than {_size(limit)}")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib else f"{limit} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def os_error_text(exc: OSError) -> str:
    """An OSError as a message: its strerror when it has one, else its own words."""
    return exc.strerror or str(exc)


def load_file(path: Path, *, display: str | None = None, includes: bool = False) -> Any:
    """Read and parse a YAML file; ``display`` is the name used in error messages."""
    name = display or str(path)
    try:
        text = read_bounded(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {os_error_text(exc)}", file=name) from None
    except ValueError as exc:  # a NUL in the path
        raise ConfigError(f"cannot read: {exc}", file=name) from None
    return loads(text, file=name, includes=includes)
