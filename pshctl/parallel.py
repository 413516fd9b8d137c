"""Run one function per target in threads, keeping each target's result or exception.

A failing target never hides the others (as fabric's GroupResult and parallel-ssh's
HostOutput do): the caller gets an :class:`Outcome` per item, in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

# A stock sshd (MaxStartups 10:30:100) starts dropping unauthenticated connections
# past 10 at once, so 10 is both the default and the documented ceiling of safety.
DEFAULT_MAX_PARALLEL = 10

T = TypeVar("T")
X = TypeVar("X")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The result of one item: a value, or the exception that stopped it."""

    name: str
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value; raises the item's exception when it failed."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def run_parallel(
    items: Sequence[tuple[str, X]],
    fn: Callable[[X], T],
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    on_done: Callable[[Outcome[T]], None] | None = None,
) -> list[Outcome[T]]:
    """Call ``fn(item)`` for every ``(name, item)``, at most ``max_parallel`` at once."""

    def one(name: str, item: X) -> Outcome[T]:
        try:
            outcome: Outcome[T] = Outcome(name, value=fn(item))
        except Exception as exc:  # noqa: BLE001 - kept per item, by design
            outcome = Outcome(name, error=exc)
        if on_done is not None:
            on_done(outcome)
        return outcome

    if len(items) <= 1 or max_parallel <= 1:
        return [one(name, item) for name, item in items]
    with ThreadPoolExecutor(max_workers=min(max_parallel, len(items))) as pool:
        futures = [pool.submit(one, name, item) for name, item in items]
        return [f.result() for f in futures]
