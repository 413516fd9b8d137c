"""Tab-completion callbacks: worker, environment and app names.

Every Tab press starts pshctl, so these callbacks read files with a small line scanner
instead of PyYAML, import nothing heavy, never touch the network and never raise: a
completion that fails offers nothing rather than printing a traceback into the shell.

The scanner understands the block style that app definitions and config files are
written in (``key: value`` lines, nested by indentation, ``- `` list items, comments,
block scalars). Flow-style mappings (``workers: {queue: ...}``) are not read; they only
cost suggestions, never correctness, because the real loader validates the command line.

Wire them into typer with ``autocompletion=complete_worker`` (and so on); each takes the
word being completed and, optionally, the click context (to honour ``-A/--app``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

from pshctl.context import APP_VARS, PROJECT_VARS
from pshctl.defaults import SANDBOX_ENVIRONMENT
from pshctl.errors import PshctlError

MAX_BYTES = 1_000_000  # a file bigger than this is not an app definition worth scanning

# ``key:`` at the start of a line (after an optional ``- ``), then a value or nothing.
_KEY = re.compile(
    r"""^(?P<indent>\ *)(?P<dash>-\ +)?
        (?P<key>"[^"]*"|'[^']*'|[^\s#'"{\[\-:][^#]*?|-[^\s#][^#]*?)
        \s*:(?:\s+(?P<value>.*))?$""",
    re.VERBOSE,
)
_BARE_ITEM = re.compile(r"^\ *-(\s+&\S+)?(\s+#.*)?\s*$")  # `-`, `- &anchor`, `- # note`
_BLOCK_SCALAR = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # worker and app names, as appdef wants
_WORD = re.compile(r"^[^\s#:]+$")  # environments follow git branches (feature/x, v1.2)


# --- the scanner -----------------------------------------------------------------------


@dataclass
class Node:
    """A mapping key (or a list item) with the keys nested under it."""

    key: str
    value: str = ""  # the inline value, comments and quotes removed
    column: int = -1
    item: bool = False  # a ``- `` list item holding a mapping
    children: list[Node] = field(default_factory=list)

    def child(self, key: str) -> Node | None:
        return next((c for c in self.children if c.key == key and not c.item), None)

    def keys(self) -> list[str]:
        return [c.key for c in self.children if not c.item]

    def items(self) -> list[Node]:
        return [c for c in self.children if c.item]


def scan(text: str) -> Node:
    """The tree of keys of a block-style YAML document (values are kept inline only)."""
    root = Node(key="")
    stack = [root]
    block_column: int | None = None  # inside a block scalar deeper than this column
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block_column is not None:
            if indent > block_column:
                continue
            block_column = None
        if _BARE_ITEM.match(line):  # a list item whose mapping starts on the next line
            _pop_to(stack, indent, item=True)
            item = Node(key="-", column=indent, item=True)
            stack[-1].children.append(item)
            stack.append(item)
            continue
        match = _KEY.match(line)
        if match is None:
            continue  # a scalar list item, a continuation line: no key to record
        node = _add(stack, match)
        if _BLOCK_SCALAR.match(node.value):
            block_column = indent
            node.value = ""
    return root


def _add(stack: list[Node], match: re.Match[str]) -> Node:
    indent = len(match["indent"])
    if match["dash"]:
        _pop_to(stack, indent, item=True)
        item = Node(key="-", column=indent, item=True)
        stack[-1].children.append(item)
        stack.append(item)
        indent += len(match["dash"])
    _pop_to(stack, indent)
    node = Node(key=_unquote(match["key"].strip()), value=_scalar(match["value"] or ""),
                column=indent)
    stack[-1].children.append(node)
    stack.append(node)
    return node


def _pop_to(stack: list[Node], column: int, *, item: bool = False) -> None:
    """Leave every node at or right of ``column``; a list may sit at its key's column."""
    while len(stack) > 1 and stack[-1].column >= column:
        top = stack[-1]
        if item and top.column == column and not top.item and not top.value:
            return  # ``key:`` followed by ``- ...`` at the same indentation
        stack.pop()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _scalar(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def scan_file(path: Path) -> Node | None:
    """The key tree of ``path``, or None when it cannot be read."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return scan(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None


# --- apps and workers ------------------------------------------------------------------


@dataclass(frozen=True)
class AppSketch:
    """What completion needs of an app: its name, directory and worker names."""

    name: str
    directory: Path
    workers: tuple[str, ...]


def find_root(start: Path) -> Path | None:
    """The project root, found as pshctl itself finds it (``pshctl.appdef.layout``)."""
    try:
        from pshctl.appdef.layout import find_project_root

        return find_project_root(start)
    except (OSError, ValueError):
        return None


def project_apps(root: Path) -> list[AppSketch]:
    """Every app of the project at ``root``, from the definitions pshctl itself would read."""
    from pshctl.appdef.layout import UPSUN, app_files, choose_product, upsun_files

    try:
        choice = choose_product(root, _configured_product(root))
        if choice is None:
            return []
        if choice.product == UPSUN:
            return _upsun_apps(root, upsun_files(root))
    except (OSError, ValueError, PshctlError):  # a Tab press offers nothing instead
        return []
    apps = list(_applications_file_apps(root))
    for path in app_files(root):
        tree = scan_file(path)
        if tree is not None:
            apps.extend(_app_file_apps(root, path, tree))
    return apps


def _configured_product(root: Path) -> str | None:
    """The ``product:`` key of the project config file, else of the user config file."""
    for path in (_project_config(root), _user_config()):
        tree = scan_file(path)
        if tree is not None and _value(tree, "product"):
            return _value(tree, "product")
    return None


def _upsun_apps(root: Path, files: list[Path]) -> list[AppSketch]:
    """The apps of ``.upsun/*.yaml``: an app in two files is the later file's."""
    apps: dict[str, AppSketch] = {}
    for path in files:
        tree = scan_file(path)
        section = tree.child("applications") if tree is not None else None
        for entry in section.children if section is not None else []:
            if not entry.item and not entry.key.startswith("."):
                apps[entry.key] = _sketch(root, entry.key, entry, root)
    return list(apps.values())


def _app_file_apps(root: Path, path: Path, tree: Node) -> list[AppSketch]:
    wrapped = tree.child("applications")
    if wrapped is not None and tree.child("name") is None and tree.child("type") is None:
        return [_sketch(root, e.key, e, path.parent) for e in wrapped.children
                if not e.item and not e.key.startswith(".")]
    return [_sketch(root, _value(tree, "name") or path.parent.name, tree, path.parent)]


def _applications_file_apps(root: Path) -> Iterator[AppSketch]:
    from pshctl.appdef.layout import APPLICATIONS_FILE

    tree = scan_file(root / APPLICATIONS_FILE)
    if tree is None:
        return
    wrapped = tree.child("applications")
    if wrapped is not None and not tree.items():
        tree = wrapped
    entries = tree.items() or [n for n in tree.children if not n.item]
    for entry in entries:
        name = _value(entry, "name") or ("" if entry.item else entry.key)
        if name and not name.startswith("."):
            yield _sketch(root, name, entry, root)


def _sketch(root: Path, name: str, entry: Node, default: Path) -> AppSketch:
    source = entry.child("source")
    sub = _value(source, "root") if source is not None else ""
    directory = default if not sub else root / (sub.strip("/") or ".")
    return AppSketch(name, directory, tuple(_workers_of(entry)))


def _value(node: Node, key: str) -> str:
    child = node.child(key)
    return child.value if child is not None else ""


def _workers_of(app: Node) -> list[str]:
    workers = app.child("workers")
    return workers.keys() if workers is not None else []


def choose_apps(apps: list[AppSketch], selected: str | None, cwd: Path) -> list[AppSketch]:
    """The app the command will act on, as pshctl chooses it; all of them when unsure."""
    if selected:
        return [a for a in apps if a.name == selected] or apps
    if len(apps) <= 1:
        return apps
    here = cwd.resolve()
    holding = [a for a in apps if here.is_relative_to(a.directory.resolve())]
    depth = max((len(a.directory.resolve().parts) for a in holding), default=-1)
    closest = [a for a in holding if len(a.directory.resolve().parts) == depth]
    return closest if len(closest) == 1 else apps


# --- what the command line already says ------------------------------------------------


class CompletionContext(Protocol):
    """What the callbacks read of a click context: typer's, or the one that
    :mod:`pshctl.cli.tabtree` builds when it answers without typer (so no typer here)."""

    @property
    def command(self) -> Any: ...  # ``.params``: parameters with ``.name`` and ``.opts``

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def parent(self) -> Any: ...  # the enclosing context, or None


def _contexts(ctx: CompletionContext | None) -> Iterator[Any]:
    """The context and its parents, innermost first (parents are click contexts)."""
    current: Any = ctx
    while current is not None:
        yield current
        current = current.parent


def option_value(ctx: CompletionContext | None, flag: str) -> str | None:
    """The value given to ``flag`` on the command line so far (the command's copy wins)."""
    for context in _contexts(ctx):
        for param in context.command.params:
            if flag in getattr(param, "opts", ()):
                value = context.params.get(param.name or "")
                if isinstance(value, str) and value:
                    return value
    return None


def _already_given(ctx: CompletionContext | None) -> set[str]:
    """Names already on the command line for a many-valued argument (``restart a b``)."""
    given: set[str] = set()
    if ctx is not None:
        for value in ctx.params.values():
            if isinstance(value, (list, tuple)):
                given.update(v for v in value if isinstance(v, str))
    return given


def _selected_app(ctx: CompletionContext | None) -> str | None:
    return option_value(ctx, "--app") or next(
        (os.environ[v] for v in APP_VARS if os.environ.get(v)), None
    )


def _matching(names: Iterable[str], incomplete: str, skip: Iterable[str] = (),
              valid: re.Pattern[str] = _NAME) -> list[str]:
    """Valid names that start with ``incomplete``, once each, in the order found."""
    leave_out = set(skip)
    seen: dict[str, None] = {}
    for name in names:
        if valid.match(name) and name.startswith(incomplete) and name not in leave_out:
            seen.setdefault(name)
    return list(seen)


def _apps_here(ctx: CompletionContext | None) -> tuple[Path | None, list[AppSketch]]:
    cwd = Path.cwd()
    root = find_root(cwd)
    if root is None:
        return None, []
    return root, choose_apps(project_apps(root), _selected_app(ctx), cwd)


# --- the callbacks -----------------------------------------------------------------------


def complete_worker(incomplete: str, ctx: Optional[CompletionContext] = None) -> list[str]:
    """Worker names of the app found from the current directory upward."""
    try:
        _, apps = _apps_here(ctx)
    except (OSError, ValueError):
        return []
    return _matching((w for app in apps for w in app.workers), incomplete,
                     _already_given(ctx))


def complete_app(incomplete: str, ctx: Optional[CompletionContext] = None) -> list[str]:
    """App names of the project found from the current directory upward."""
    try:
        root = find_root(Path.cwd())
        apps = project_apps(root) if root is not None else []
    except (OSError, ValueError):
        return []
    return _matching((app.name for app in apps), incomplete)


def complete_log_type(incomplete: str, ctx: Optional[CompletionContext] = None) -> list[str]:
    """The log types a container keeps (``app``, ``cron``, ...): a fixed list, no network."""
    from pshctl.defaults import LOG_TYPES

    return _matching(LOG_TYPES, incomplete, valid=_WORD)


def complete_environment(
    incomplete: str, ctx: Optional[CompletionContext] = None
) -> list[str]:
    """Environments of the config files, ``sandbox`` when one is set up, the git branch,
    and those the platform's API named last time (its cache only: never the network)."""
    try:
        root, apps = _apps_here(ctx)
        names = [*_configured_environments(root)]
        if root is not None and _has_sandbox(root, apps):
            names.append(SANDBOX_ENVIRONMENT)
        branch = _git_branch(root or Path.cwd())
        if branch:
            names.append(branch)
        names += _cached_environments(root, ctx)
    except (OSError, ValueError):
        return []
    return _matching(names, incomplete, valid=_WORD)


def _cached_environments(root: Path | None, ctx: CompletionContext | None) -> list[str]:
    from pshctl.appdef.layout import LOCAL_PROJECT_FILES
    from pshctl.platform.cache import cached_environment_names
    from pshctl.platform.settings import API_URL_VAR, DEFAULT_API_URL

    files = ([_project_config(root)] if root is not None else []) + [_user_config()]
    trees = [t for t in (scan_file(f) for f in files) if t is not None]
    locals_ = [scan_file(root / name) for name in LOCAL_PROJECT_FILES.values()] if root else []
    local_ids = [_value(t, "id").strip() for t in locals_ if t is not None]
    project = option_value(ctx, "--project") or next(
        (os.environ[v] for v in PROJECT_VARS if os.environ.get(v)), None
    ) or next((i for i in local_ids if i), None) or next(
        (_value(t, "project").strip() for t in trees if _value(t, "project").strip()), None)
    if not project:
        return []
    api_url = os.environ.get(API_URL_VAR) or next(
        (_value(t, "api_url").strip() for t in trees if _value(t, "api_url").strip()),
        DEFAULT_API_URL)
    return cached_environment_names(api_url.rstrip("/"), project)


def _configured_environments(root: Path | None) -> Iterator[str]:
    files = [_project_config(root)] if root is not None else []
    files.append(_user_config())
    for path in files:
        tree = scan_file(path)
        section = tree.child("environments") if tree is not None else None
        if section is not None:
            yield from section.keys()


def _project_config(root: Path) -> Path:
    from pshctl.settings import PROJECT_FILE

    return root / PROJECT_FILE


def _user_config() -> Path:
    from pshctl.settings import user_config_path

    return user_config_path()


def _has_sandbox(root: Path, apps: list[AppSketch]) -> bool:
    from pshctl.sandbox.registry import registration_path

    return any(registration_path(root, app.name).is_file() for app in apps)


def _git_branch(where: Path) -> str | None:
    from pshctl.context import git_branch

    return git_branch(where)
