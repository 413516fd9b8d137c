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
import stat
from pathlib import Path
from typing import Any

from pshctl import files
from pshctl.defaults import SANDBOX_ENVIRONMENT as SANDBOX_ENVIRONMENT
from pshctl.errors import ConfigError

STATE_DIR_ENV = "PSHCTL_STATE_DIR"


def state_root() -> Path:
    """All sandboxes of this user live under here (PSHCTL_STATE_DIR overrides it).

    An override that names something other than a directory (a file, ``/dev/null/x``)
    is a ConfigError; one that does not exist yet is created when a sandbox starts.
    """
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        root = Path(override)
        try:
            mode = files.existing_mode(root)
        except OSError as exc:
            raise state_dir_error(root, exc.strerror or str(exc)) from None
        if mode is not None and not stat.S_ISDIR(mode):
            raise state_dir_error(root, "not a directory")
        return root
    from pshctl.dirs import state_dir

    return state_dir() / "sandboxes"


def state_dir_error(path: Path, reason: str) -> ConfigError:
    source = f"{STATE_DIR_ENV}={os.environ[STATE_DIR_ENV]}" if os.environ.get(STATE_DIR_ENV) \
        else str(path)
    return ConfigError(f"sandbox state directory {source}: {reason} ({path})",
                       hint=f"point {STATE_DIR_ENV} at a directory you can write, or unset it")


def make_state_dir(path: Path) -> Path:
    """Create a sandbox's state directory (0700, whatever the umask) or say why not."""
    try:
        files.make_dirs(path)
        os.chmod(path, files.PRIVATE_DIR)  # the sandbox's own: never readable by others
    except OSError as exc:
        raise state_dir_error(path, exc.strerror or str(exc)) from None
    return path


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
    return files.write_file(path, json.dumps(entry, indent=2))
