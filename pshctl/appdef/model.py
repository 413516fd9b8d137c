"""What an app declares, whatever the product: apps, containers and the rules they follow."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pshctl.appdef.layout import LABELS, PLATFORMSH, Product, ProductChoice
from pshctl.errors import NameNotFound

Kind = Literal["worker", "web"]
Source = Literal["own", "inherited", "default", "platform"]

# Every key a container can have, in the order `workers show` lists them.
KEYS = ("size", "disk", "resources", "container_profile", "access", "mounts", "relationships",
        "variables", "additional_hosts", "firewall", "timezone")
# Where a key is empty when nothing sets it.
EMPTY: dict[str, Any] = {"mounts": {}, "relationships": {}, "variables": {},
                         "additional_hosts": {}}


@dataclass(frozen=True)
class Rules:
    """How one product lets a worker (or the web container) take the app's keys."""

    product: Product
    per_container: tuple[str, ...]  # inherited from the app unless the container sets it
    app_wide: tuple[str, ...]  # inherited; the container cannot set it
    not_used: Mapping[str, str]  # keys the product ignores -> why (a warning when set)
    from_platform: Mapping[str, str]  # keys the file does not hold -> where they come from
    mount_sources: tuple[str, ...]
    docs: tuple[str, ...]  # the documentation pages these rules come from

    @property
    def label(self) -> str:
        return LABELS[self.product]

    @property
    def shown(self) -> tuple[str, ...]:
        """The keys that mean something on this product, in display order."""
        keys = {*self.per_container, *self.app_wide, *self.from_platform}
        return tuple(k for k in KEYS if k in keys)


@dataclass(frozen=True)
class ContainerConfig:
    """The effective configuration of one container: a worker, or the web container."""

    name: str
    kind: Kind
    product: Product = PLATFORMSH
    size: str | None = None
    disk: int | None = None
    resources: dict[str, Any] | None = None
    container_profile: str | None = None
    access: dict[str, Any] | None = None
    mounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    relationships: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    additional_hosts: dict[str, str] = field(default_factory=dict)
    firewall: dict[str, Any] | None = None
    timezone: str | None = None
    commands: dict[str, str] = field(default_factory=dict)
    inherited: frozenset[str] = frozenset()  # effective keys that came from the app
    own: frozenset[str] = frozenset()  # keys set on the container itself
    from_platform: frozenset[str] = frozenset()  # keys the platform sets (Upsun resources)
    warnings: tuple[str, ...] = ()
    line: int = 1
    file: str = ".platform.app.yaml"

    @property
    def start_command(self) -> str:
        return self.commands.get("start", "")

    @property
    def pre_start(self) -> str:
        return self.commands.get("pre_start", "")

    @property
    def post_start(self) -> str:
        return self.commands.get("post_start", "")

    @property
    def env(self) -> dict[str, str]:
        """``variables.env`` as environment variables; non-strings JSON-encoded."""
        return {
            str(name): value if isinstance(value, str) else json.dumps(value)
            for name, value in self.variables.get("env", {}).items()
        }

    def source_of(self, key: str) -> Source:
        if key in self.own:
            return "own"
        if key in self.inherited:
            return "inherited"
        return "platform" if key in self.from_platform else "default"

    def effective(self) -> dict[str, Any]:
        """The configuration alone, without where each key came from."""
        return {
            "name": self.name,
            "kind": self.kind,
            **{key: getattr(self, key) for key in KEYS},
            "commands": self.commands,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            **self.effective(),
            "product": self.product,
            "env": self.env,
            "inherited": sorted(self.inherited),
            "own": sorted(self.own),
            "from_platform": sorted(self.from_platform),
            "warnings": list(self.warnings),
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
    included: tuple[Path, ...] = ()  # other files it was read from (`!include`, applications.yaml)
    product: Product = PLATFORMSH
    choice: ProductChoice | None = None
    warnings: tuple[str, ...] = ()  # about this app, and about the project's other apps
    file: str = ".platform.app.yaml"  # the source, as messages name it

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the definition was read from: edit one and the app changed."""
        return (self.source, *self.included)

    @property
    def containers(self) -> list[ContainerConfig]:
        return ([self.web] if self.web else []) + list(self.workers.values())

    def worker(self, name: str) -> ContainerConfig:
        try:
            return self.workers[name]
        except KeyError:
            raise NameNotFound("worker", name, self.workers) from None

    def all_warnings(self) -> list[str]:
        """The app's warnings and those of its containers, each once, in order."""
        seen: dict[str, None] = dict.fromkeys(self.warnings)
        for container in self.containers:
            seen.update(dict.fromkeys(container.warnings))
        return list(seen)
