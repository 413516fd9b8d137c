"""The API's JSON as small immutable values: environments, their SSH links, deployments.

An environment's ``_links`` name its SSH endpoints (shapes of the public OpenAPI spec,
read as the official clients read them):

- ``pf:ssh:<app>`` and ``pf:ssh:<app>--<worker>``: one container each;
- ``pf:ssh:<container>:<instance>``: one instance of a horizontally scaled container;
- ``ssh``: the legacy single link of old Platform.sh environments (no ``pf:ssh:*``);
- ``ent-<n>``: the hosts of an old Dedicated cluster, used as the instances of any
  container without links of its own.

hrefs are ``ssh://user@host``; they are kept as given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SSH_PREFIX = "pf:ssh:"
LEGACY_SSH = "ssh"
DEDICATED_PREFIX = "ent-"
ACTIVE = ("active", "dirty")  # the statuses that have running containers


@dataclass(frozen=True)
class ContainerLinks:
    """Where one container (``app`` or ``app--worker``) is reached."""

    container: str
    url: str | None = None  # its own link, when it has one
    instances: tuple[tuple[str, str], ...] = ()  # (instance id, url), in natural order

    def default_url(self) -> str | None:
        """The URL a single-target command uses: its own link, else its first instance."""
        if self.url:
            return self.url
        return self.instances[0][1] if self.instances else None

    @property
    def instance_count(self) -> int:
        return len(self.instances) or (1 if self.url else 0)


@dataclass(frozen=True)
class EnvironmentInfo:
    """What pshctl keeps of an environment (and caches)."""

    id: str
    name: str
    machine_name: str
    status: str
    type: str
    links: Mapping[str, str] = field(default_factory=dict)  # SSH links only: rel -> href

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def ssh_urls(self) -> dict[str, str]:
        """Links keyed as the official client keys them: ``app``, ``app--w``, ``app:0``;
        the legacy link under ``""``; Dedicated hosts as ``ent-1``."""
        urls = {rel[len(SSH_PREFIX):]: href for rel, href in self.links.items()
                if rel.startswith(SSH_PREFIX)}
        if not urls and LEGACY_SSH in self.links:
            urls[""] = self.links[LEGACY_SSH]
        urls.update({rel: href for rel, href in self.links.items()
                     if rel.startswith(DEDICATED_PREFIX)})
        return urls

    def container(self, name: str) -> ContainerLinks:
        """The links of one container (``app`` or ``app--worker``), possibly empty."""
        urls = self.ssh_urls()
        instances = [(key.split(":", 2)[1], href) for key, href in urls.items()
                     if key.startswith(f"{name}:")]
        if not instances and name not in urls:
            instances = [(key[len(DEDICATED_PREFIX):], href) for key, href in urls.items()
                         if key.startswith(DEDICATED_PREFIX)]
        return ContainerLinks(name, urls.get(name), tuple(sorted(instances, key=_natural)))

    def containers(self) -> list[str]:
        """Every container with links of its own, in name order."""
        names = {key.split(":", 1)[0] for key in self.ssh_urls()
                 if key and not key.startswith(DEDICATED_PREFIX)}
        return sorted(names)

    @property
    def legacy(self) -> bool:
        """Only the single ``ssh`` link: workers are reached by the ``--<worker>`` rule."""
        return "" in self.ssh_urls()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "machine_name": self.machine_name,
                "status": self.status, "type": self.type, "links": dict(self.links)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EnvironmentInfo:
        """From the API's Environment object (or the cache's copy of it)."""
        links = data.get("links")
        if links is None:
            links = _ssh_links(data.get("_links"))
        return cls(
            id=_text(data.get("id")),
            name=_text(data.get("name") or data.get("id")),
            machine_name=_text(data.get("machine_name")),
            status=_text(data.get("status")),
            type=_text(data.get("type")),
            links={str(k): str(v) for k, v in (links or {}).items()},
        )


@dataclass(frozen=True)
class DeploymentInfo:
    """The current deployment's containers of one app: worker name -> instance count."""

    app: str
    app_instances: int | None
    workers: Mapping[str, int]

    @classmethod
    def from_json(cls, data: Any, app: str) -> DeploymentInfo:
        data = data if isinstance(data, Mapping) else {}
        webapp = _mapping(data.get("webapps")).get(app)
        workers: dict[str, int] = {}
        for key, worker in _mapping(data.get("workers")).items():
            body = _mapping(worker)
            name = _text(body.get("name") or key)
            owner = _text(body.get("app")) or name.partition("--")[0]
            if owner == app and "--" in name:
                workers[name.partition("--")[2]] = _count(body.get("instance_count"))
        count = _count(_mapping(webapp).get("instance_count")) if webapp is not None else None
        return cls(app, count, workers)


def _ssh_links(links: Any) -> dict[str, str]:
    """The SSH links of a HAL ``_links`` object, hrefs only."""
    out = {}
    for rel, link in _mapping(links).items():
        if not isinstance(rel, str) or not (
            rel.startswith((SSH_PREFIX, DEDICATED_PREFIX)) or rel == LEGACY_SSH
        ):
            continue
        href = link.get("href") if isinstance(link, Mapping) else None
        if isinstance(href, str) and href.strip():
            out[rel] = href.strip()
    return out


def _natural(item: tuple[str, str]) -> tuple[Any, ...]:
    """Instance ids in natural order: 2 before 10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", item[0]))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
