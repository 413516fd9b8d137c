"""Where a running sandbox records itself, so that ``-e sandbox`` finds it.

A sandbox is keyed by its app (project root + app name). ``pshctl sandbox up`` writes
``environment.json`` in the sandbox's state directory with the same shape as an
environment entry of a config file (see docs/configuration.md); target resolution reads
it when the environment is ``sandbox`` and no config file defines one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

SANDBOX_ENVIRONMENT = "sandbox"


def state_root() -> Path:
    """All sandboxes of this user live under here (PSHCTL_STATE_DIR overrides it)."""
    override = os.environ.get("PSHCTL_STATE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_path

    return user_state_path("pshctl") / "sandboxes"


def sandbox_dir(project_root: Path, app_name: str) -> Path:
    real = str(Path(project_root).resolve())
    digest = hashlib.sha256(f"{real}\0{app_name}".encode()).hexdigest()[:12]
    return state_root() / f"{app_name}-{digest}"


def registration_path(project_root: Path, app_name: str) -> Path:
    return sandbox_dir(project_root, app_name) / "environment.json"


def read_registration(project_root: Path, app_name: str) -> dict[str, Any] | None:
    """The sandbox's environment entry, or None when no sandbox was set up for this app."""
    try:
        data = json.loads(registration_path(project_root, app_name).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_registration(project_root: Path, app_name: str, entry: dict[str, Any]) -> Path:
    path = registration_path(project_root, app_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry, indent=2))
    tmp.replace(path)
    return path
