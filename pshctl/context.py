"""Which project, environment and app a command acts on.

Precedence for each value: flag > PSHCTL_* variable > PLATFORM_* variable >
project config file > user config file > default (environment: the git branch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from pshctl.appdef import AppDefinition
    from pshctl.settings import Settings


@dataclass(frozen=True)
class Selection:
    """What the user asked for on the command line (None = not given)."""

    project: str | None = None
    environment: str | None = None
    app: str | None = None


@dataclass(frozen=True)
class Context:
    """A fully resolved place to act: project root, ids, the app and its settings."""

    root: Path
    project: str | None
    environment: str
    app: AppDefinition
    settings: Settings


def resolve_context(selection: Selection, cwd: Path | None = None) -> Context:
    raise NotImplementedError  # issue 2: filled in by the config work
