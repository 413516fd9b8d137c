"""What both products' loaders share: collecting apps one by one, and ``source.root``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pshctl.appdef.includes import include_document, resolve_includes
from pshctl.appdef.layout import ProductChoice
from pshctl.appdef.model import AppDefinition, Rules
from pshctl.appdef.parse import parse_app
from pshctl.errors import ConfigError
from pshctl.yamlutil import Include, line_of


@dataclass(frozen=True)
class Broken:
    """An app (or a whole file) that could not be read: its error, kept for when it is asked
    for, and a warning meanwhile."""

    name: str | None  # None: a file whose apps are not known
    root: Path | None
    error: ConfigError
    file: str

    @property
    def warning(self) -> str:
        what = f"app '{self.name}' is not loaded" if self.name else f"{self.file} is not read"
        return f"{what}: {self.error.message}"


@dataclass
class Loaded:
    """The apps of one product's files, the broken ones apart."""

    apps: list[AppDefinition] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: Any, file: str, build: Callable[[], AppDefinition]) -> None:
        """Build one app; an error is kept for that app alone."""
        try:
            self.apps.append(build())
        except ConfigError as exc:
            self.broken.append(Broken(name if isinstance(name, str) else None, None, exc, file))


def display(root: Path, path: Path) -> str:
    """A file name for messages: relative to the project root when it is inside it."""
    if Path(path).is_relative_to(root):
        return os.path.relpath(path, root)
    return str(path)


def app_root_of(data: Any, *, root: Path, default: Path, file: str) -> Path:
    """The app's directory: ``source.root`` (relative to the repository root; ``/`` is the
    root itself), else ``default``. It must stay inside the project, symbolic links followed.
    """
    source = data.get("source") if isinstance(data, dict) else None
    if source is None:
        return default
    if not isinstance(source, dict):
        raise ConfigError("'source' must be a mapping", file=file, line=line_of(data, "source"))
    value = source.get("root")
    at = line_of(source, "root")
    if value is None:
        return default
    if not isinstance(value, str) or "\0" in value:
        raise ConfigError(f"source.root must be a path, not {value!r}", file=file, line=at)
    rel = value.strip().strip("/")
    if rel in ("", "."):
        return root
    if ".." in PurePosixPath(rel).parts:
        raise ConfigError(f"source.root '{value}' must be a directory inside the repository",
                          file=file, line=at)
    path = root / rel
    try:
        real, top = path.resolve(), Path(root).resolve()
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"source.root '{value}' cannot be followed ({exc})", file=file,
                          line=at) from None
    if not real.is_relative_to(top):
        raise ConfigError(f"source.root '{value}' leads out of the project (to {real})",
                          file=file, line=at)
    return path


def included_app(tag: Include, *, root: Path, base: Path, holder: Path, included: list[Path]
                 ) -> tuple[Any, Path, str]:
    """A whole app pulled in with ``!include`` from ``holder`` (``applications.yaml``, an
    ``.upsun/`` file), its path relative to ``base``: its data, file and display name."""
    data, source, file = include_document(tag, base=base, project_root=root, read=[],
                                          chain=(holder.resolve(),))
    included.append(holder)  # editing the holder changes the app too
    return data, source, file


def build_app(data: Any, *, rules: Rules, name: str, file: str, source: Path, root: Path,
              default_root: Path, choice: ProductChoice, included: list[Path]
              ) -> AppDefinition:
    """One app from its mapping: its directory, its includes resolved, parsed by ``rules``."""
    app_root = app_root_of(data, root=root, default=default_root, file=file)
    read: list[Path] = []
    warnings: list[str] = []
    resolve_includes(data, source=source, app_root=app_root, project_root=root, read=read,
                     warnings=warnings, chain=tuple(p.resolve() for p in included))
    return parse_app(data, name=name, rules=rules, file=file, root=app_root, source=source,
                     included=[*included, *read], choice=choice, warnings=warnings)
