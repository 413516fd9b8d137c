"""Where pshctl keeps its own files: the user's config, data, state and cache folders.

On Linux and the other Unixes these follow the XDG Base Directory rules, computed here:
``$XDG_CONFIG_HOME/pshctl`` and its kin when the variable holds an absolute path (the
rules say a relative one is ignored), else ``~/.config/pshctl``, ``~/.local/share/pshctl``,
``~/.local/state/pshctl``, ``~/.cache/pshctl``. Importing platformdirs costs a Tab press
about 8 ms, so it is asked only on macOS and Windows, whose folders it knows.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP = "pshctl"

# kind -> (XDG variable, default under the home directory, platformdirs' function)
_KINDS = {
    "config": ("XDG_CONFIG_HOME", ".config", "user_config_path"),
    "data": ("XDG_DATA_HOME", ".local/share", "user_data_path"),
    "state": ("XDG_STATE_HOME", ".local/state", "user_state_path"),
    "cache": ("XDG_CACHE_HOME", ".cache", "user_cache_path"),
}


def user_dir(kind: str, environ: Mapping[str, str] | None = None) -> Path:
    """pshctl's folder of ``kind`` ("config", "data", "state" or "cache")."""
    variable, default, function = _KINDS[kind]
    if sys.platform in ("darwin", "win32"):
        import platformdirs

        return Path(getattr(platformdirs, function)(APP))
    env = os.environ if environ is None else environ
    base = env.get(variable, "")
    if not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, default)
    return Path(base) / APP


def config_dir() -> Path:
    return user_dir("config")


def data_dir() -> Path:
    return user_dir("data")


def state_dir() -> Path:
    return user_dir("state")


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    return user_dir("cache", environ)
