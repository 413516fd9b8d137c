"""The instances of a container: one target each, and how commands pick among them.

A horizontally scaled worker runs several instances, each a container of its own. Every
source gives one :class:`Target` per instance; this module holds the rules they share:

- :func:`instance_keys`: a configured container's keys, one set per instance, from
  ``instances: 3`` (``{instance}`` in any value becomes the instance's number) or from a
  list of per-instance entries, each over the container's keys;
- :func:`numbered`: the targets of one container numbered 0..N-1 and, when there are
  several, named ``<worker>.<N>``; a container with one instance keeps its plain name;
- :func:`split_name` and :func:`select`: ``queue.2`` on a command line, or ``-I 2``,
  narrow a container to one instance, and an instance it does not have is an
  :class:`~pshctl.errors.InstanceNotFound` listing those it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from pshctl.errors import ConfigError, InstanceNotFound
from pshctl.targets.model import Target

INSTANCES = "instances"
PLACEHOLDER = "{instance}"

Instance = int | str


def instance_keys(keys: dict[str, Any]) -> list[dict[str, Any]]:
    """One set of keys per instance of a configured container (one when not scaled)."""
    spec = keys.get(INSTANCES)
    base = {k: v for k, v in keys.items() if k != INSTANCES}
    if spec is None:
        entries: list[dict[str, Any]] = [{}]
    elif isinstance(spec, int):
        entries = [{} for _ in range(spec)]
    else:
        entries = [dict(entry) for entry in spec]
    return [_numbered_keys({**base, **own}, number) for number, own in enumerate(entries)]


def _numbered_keys(keys: dict[str, Any], number: int) -> dict[str, Any]:
    return {k: v.replace(PLACEHOLDER, str(number)) if isinstance(v, str) else v
            for k, v in keys.items()}


def numbered(targets: Sequence[Target], container: str) -> list[Target]:
    """One container's instance targets, numbered in order; named ``container.N`` when
    there are several."""
    count = len(targets)
    return [replace(t, name=instance_name(container, number, count), instance=number,
                    instances=count) for number, t in enumerate(targets)]


def instance_name(container: str, instance: Instance, count: int) -> str:
    """``queue`` for the only instance, ``queue.1`` for one of several."""
    return container if count <= 1 else f"{container}.{instance}"


def check_distinct(targets: Sequence[Target], where: str) -> None:
    """Refuse instances that would all be one container: same destination and service."""
    if len(targets) < 2:
        return
    seen = {(t.host, t.port, t.user, t.service) for t in targets}
    if len(seen) < len(targets):
        first = targets[0]
        raise ConfigError(
            f"{where}: {len(targets)} instances, but some reach the same container "
            f"({first.destination}, port {first.port or 22}, service {first.service})",
            hint="give each instance its own endpoint or service: put {instance} in host, "
            "user, ssh_url or service_name (it becomes 0, 1, ...), or list the instances "
            "(instances: [{port: 2201}, {port: 2202}])")


def split_name(name: str, workers: Iterable[str]) -> tuple[str, Instance | None]:
    """``queue.2`` -> ("queue", 2) when ``queue`` is a worker (and ``queue.2`` is not);
    any other name -> (name, None)."""
    known = set(workers)
    head, dot, tail = name.rpartition(".")
    if name in known or not dot or head not in known or not tail:
        return name, None
    return head, int(tail) if tail.isdigit() else tail


def select(targets: Sequence[Target], wanted: dict[str, set[Instance] | None]) -> list[Target]:
    """The targets whose container wants every instance (None) or names this one.

    A container not in ``wanted`` keeps all its instances. An instance number that a
    container does not have raises :class:`InstanceNotFound`, listing those it has.
    """
    chosen: list[Target] = []
    by_container: dict[str, list[Target]] = {}
    for target in targets:
        by_container.setdefault(target.container, []).append(target)
    for container, group in by_container.items():
        numbers = wanted.get(container)
        if numbers is None:
            chosen.extend(group)
            continue
        have = {str(t.instance): t for t in group}
        for number in numbers:
            if str(number) not in have:
                raise InstanceNotFound(container, str(number), list(have))
        chosen.extend(t for t in group if any(str(n) == str(t.instance) for n in numbers))
    return chosen
