"""Run one function per item in threads, keeping each item's value or exception.

The caller gets an :class:`~pshctl.outcome.Outcome` per item, in input order: a failing
item never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pshctl.defaults import DEFAULT_MAX_PARALLEL
from pshctl.outcome import Outcome

T = TypeVar("T")
X = TypeVar("X")


def run_parallel(
    items: Sequence[tuple[str, X]],
    fn: Callable[[X], T],
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
) -> list[Outcome[T]]:
    """Call ``fn(item)`` for every ``(name, item)``, at most ``max_parallel`` at once."""

    def one(name: str, item: X) -> Outcome[T]:
        try:
            return Outcome(name, value=fn(item))
        except Exception as exc:  # noqa: BLE001 - kept per item, by design
            return Outcome(name, error=exc)

    if len(items) <= 1 or max_parallel <= 1:
        return [one(name, item) for name, item in items]
    with ThreadPoolExecutor(max_workers=min(max_parallel, len(items))) as pool:
        futures = [pool.submit(one, name, item) for name, item in items]
        return [f.result() for f in futures]
