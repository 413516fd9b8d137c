"""The project's environments, cached under the user cache directory with a TTL.

One file per (API, project): ``<user cache dir>/pshctl/platform/<hash>.json`` (0600),
holding each environment's name, machine name, status, type and SSH links, and when
they were fetched. A fresh file spares a run every request; Tab completion reads the
names from it whatever its age (a Tab press never waits on the network). ``--refresh``
ignores it; ``pshctl auth logout`` removes them all.

This module imports nothing heavy: Tab completion uses it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pshctl.platform.resources import EnvironmentInfo

CACHE_VERSION = 1


def cache_dir() -> Path:
    from pshctl.dirs import cache_dir as user_cache_dir

    return user_cache_dir() / "platform"


@dataclass(frozen=True)
class CachedEnvironments:
    fetched_at: float
    environments: tuple[EnvironmentInfo, ...]

    def fresh(self, ttl: float, now: float | None = None) -> bool:
        age = (now if now is not None else time.time()) - self.fetched_at
        return 0 <= age < ttl

    def find(self, name: str) -> EnvironmentInfo | None:
        return next((e for e in self.environments if name in (e.name, e.id)), None)

    @property
    def names(self) -> list[str]:
        return sorted({e.name for e in self.environments})


class EnvironmentCache:
    """The cache file of one project at one API."""

    def __init__(self, api_url: str, project: str, directory: Path | None = None) -> None:
        self.api_url = api_url
        self.project = project
        digest = hashlib.sha256(f"{api_url}\0{project}".encode()).hexdigest()[:24]
        self.path = (directory or cache_dir()) / f"environments-{digest}.json"

    def load(self) -> CachedEnvironments | None:
        """What was cached, fresh or not; None when nothing (readable) is."""
        try:
            data: Any = json.loads(self.path.read_text())
            if (data.get("version") != CACHE_VERSION or data.get("api_url") != self.api_url
                    or data.get("project") != self.project):
                return None
            return CachedEnvironments(
                float(data["fetched_at"]),
                tuple(EnvironmentInfo.from_json(e) for e in data["environments"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, environments: list[EnvironmentInfo]) -> CachedEnvironments:
        from pshctl import files

        cached = CachedEnvironments(time.time(), tuple(environments))
        document = {"version": CACHE_VERSION, "api_url": self.api_url,
                    "project": self.project, "fetched_at": cached.fetched_at,
                    "environments": [e.to_json() for e in environments]}
        try:
            files.write_file(self.path, json.dumps(document, indent=1))
        except OSError:
            pass  # a cache that cannot be written only costs the next run a request
        return cached

    def drop(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def cached_environment_names(api_url: str, project: str) -> list[str]:
    """Environment names for Tab completion: from the cache only, any age, never raising."""
    cached = EnvironmentCache(api_url, project).load()
    return cached.names if cached is not None else []


def drop_all() -> int:
    """Remove every cache file (``pshctl auth logout``); how many there were."""
    return remove_files(cache_dir(), "environments-*.json")


def remove_files(directory: Path, pattern: str) -> int:
    """Delete the files of ``directory`` matching ``pattern``; how many went."""
    count = 0
    for path in directory.glob(pattern) if directory.is_dir() else []:
        try:
            path.unlink()
            count += 1
        except OSError:
            continue
    return count
