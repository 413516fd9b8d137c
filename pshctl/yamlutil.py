"""Load YAML files and remember where every mapping and key was written.

Error messages must point at a line (``.platform.app.yaml:14: ...``), so mappings are
loaded as :class:`LineDict`, a ``dict`` that also knows its own line and each key's line.
PyYAML is imported inside functions only: this module is reachable from the CLI and
``--help`` must not pay for the parser.

With ``includes=True`` (app definitions only) Platform.sh's ``!include`` tag is read as an
:class:`Include` placeholder; :mod:`pshctl.includes` replaces it once the app's directory is
known. Elsewhere the tag stays an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pshctl.errors import ConfigError


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


def line_of(value: Any, key: Any = None) -> int | None:
    """Where ``value`` (or its ``key``) was written, when it came from a YAML file."""
    if isinstance(value, LineDict):
        return value.line if key is None else value.line_of(key)
    return None


@dataclass(frozen=True, eq=False)
class Include:
    """An ``!include`` tag as written (a path, or ``type`` and ``path``), not checked yet."""

    spec: Any
    line: int


INCLUDE_TAG = "!include"


@cache
def _loader_class(includes: bool = False) -> type:
    import yaml

    class LineLoader(yaml.SafeLoader):
        """SafeLoader whose mappings are LineDicts; duplicate keys are errors."""

    def construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> Any:
        result = LineDict()
        result.line = node.start_mark.line + 1
        yield result  # yielded first so that recursive anchors still resolve
        _refuse_duplicates(node)
        _refuse_merged_includes(node)
        loader.flatten_mapping(node)  # `<<` merge keys; the mapping's own keys win
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1

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
                if any(n.tag == INCLUDE_TAG for n in [value_node, *merged]):
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
        return Include(spec, node.start_mark.line + 1)

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    if includes:
        LineLoader.add_constructor(INCLUDE_TAG, construct_include)
    return LineLoader


def loads(text: str, *, file: str, includes: bool = False) -> Any:
    """Parse YAML text; syntax errors become ``file:line: problem`` ConfigErrors.

    ``includes``: read ``!include`` tags as :class:`Include` placeholders.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_loader_class(includes))  # SafeLoader subclass: plain data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context}"
            start = exc.context_mark
            # An unclosed quote or bracket is reported where the file ends: say where it opened.
            if start is not None and mark is not None and start.line != mark.line:
                problem += f" that starts on line {start.line + 1}"
            problem += ")"
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None


def load_file(path: Path, *, display: str | None = None, includes: bool = False) -> Any:
    """Read and parse a YAML file; ``display`` is the name used in error messages."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=name) from None
    return loads(text, file=name, includes=includes)
