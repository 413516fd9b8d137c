"""What one worker gave back, and the exit status of a command over many workers.

Every call that touches workers (status, wait, stop/start/restart, logs, run, stream)
gives one :class:`Outcome` per container (one per instance of a scaled worker, each
labelled with its ``worker`` and ``instance``), gathered in :class:`Results`: the value,
and the exception that stopped it, with the type it was raised with. A failed action or
status read keeps its value too (the pids, the state seen), so that a failure can be
both explained and inspected. One failing worker never hides the others (as fabric's
GroupResult and parallel-ssh's HostOutput do).

:func:`exit_code` is the one place where the per-worker outcomes of a command become its
exit status (docs/exit-codes.md); every command and ``Results.exit_code`` call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar, overload

from pshctl.errors import ConnectionFailed, ExitCode, OperationFailed, PshctlError

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One worker's value, or the exception that stopped it (a failure may keep both).

    ``name`` is the key it is shown and looked up by: the worker's name (the app's name
    for the app container), ``queue.1`` for one instance of a scaled worker. ``worker``
    (the app's name for the app container) and ``instance`` (0 when not scaled) say
    which container it is; :func:`labelled` sets them from the targets.
    """

    name: str
    value: T | None = None
    error: BaseException | None = None
    worker: str | None = None
    instance: int | str = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str | None:
        """The error as shown to a user and written in JSON (hint included); None if ok."""
        return None if self.error is None else describe(self.error)

    def unwrap(self) -> T:
        """The value; raises the worker's exception when it failed."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: name, worker, instance, ok, the value's own fields, the error."""
        fields = getattr(self.value, "to_dict", None)
        return {"name": self.name, "worker": self.container, "instance": self.instance,
                "ok": self.ok, **(fields() if fields else {}), "error": self.message}

    @property
    def container(self) -> str:
        """The worker (or the app container) this is an instance of: what is grouped."""
        return self.worker or self.name


class Labelled(Protocol):
    """What an outcome is labelled from (a :class:`pshctl.targets.Target`)."""

    @property
    def name(self) -> str: ...
    @property
    def container(self) -> str: ...
    @property
    def instance(self) -> int | str: ...


def labelled(outcomes: Iterable[Outcome[T]], targets: Iterable[Labelled],
             ) -> tuple[Outcome[T], ...]:
    """The outcomes with the ``worker`` and ``instance`` of the target of the same name."""
    by_name = {t.name: t for t in targets}
    out = []
    for outcome in outcomes:
        target = by_name.get(outcome.name)
        out.append(outcome if target is None else
                   replace(outcome, worker=target.container, instance=target.instance))
    return tuple(out)


def describe(error: BaseException) -> str:
    """An exception as one line for a user: its message, then its hint in parentheses."""
    if isinstance(error, PshctlError):
        return f"{error.message} ({error.hint})" if error.hint else error.message
    # Not one of ours: a bug, or a library error nothing translated. Name its type, so
    # that it is never mistaken for a state of the worker.
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def exit_code(outcomes: Sequence[Outcome[Any]], *, interrupted: bool = False) -> ExitCode:
    """The exit status of a command that acted on these workers (docs/exit-codes.md).

    130 when it was interrupted; 0 when no worker failed; 4 when every worker failed to
    connect; 3 or 5 when every failure is a configuration error or a timeout; else 1.
    Instances count one by one: one instance of a worker down fails that worker, and
    4 means no instance of any worker was reached.
    """
    if interrupted:
        return ExitCode.INTERRUPTED
    errors = [o.error for o in outcomes if o.error is not None]
    if not errors:
        return ExitCode.OK
    kinds = {_kind(error) for error in errors}
    if kinds == {ExitCode.CONNECTION}:
        # Something was reached: the command did part of its work.
        return ExitCode.CONNECTION if len(errors) == len(outcomes) else ExitCode.FAILED
    if kinds in ({ExitCode.CONFIG}, {ExitCode.TIMEOUT}):
        return kinds.pop()
    return ExitCode.FAILED


def _kind(error: BaseException) -> ExitCode:
    if isinstance(error, ConnectionFailed):
        return ExitCode.CONNECTION
    if isinstance(error, PshctlError):
        return error.exit_code
    return ExitCode.FAILED


@dataclass(frozen=True)
class Results(Generic[T]):
    """One outcome per worker (per instance of a scaled one), in the order asked; index
    by position or by name (``results["queue.1"]``); :meth:`of` gives a worker's."""

    items: tuple[Outcome[T], ...] = ()
    elapsed_s: float | None = None  # for wait(): how long it waited
    interrupted: bool = False  # a stop/start/restart or stream was interrupted

    def __iter__(self) -> Iterator[Outcome[T]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, key: int) -> Outcome[T]: ...
    @overload
    def __getitem__(self, key: str) -> Outcome[T]: ...
    def __getitem__(self, key: int | str) -> Outcome[T]:
        if isinstance(key, int):
            return self.items[key]
        for item in self.items:
            if item.name == key:
                return item
        instances = self.of(key)
        if instances:  # a scaled worker: one outcome per instance, none for the worker
            raise KeyError(f"{key} has {len(instances)} instances "
                           f"({', '.join(o.name for o in instances)}): use .of({key!r})")
        raise KeyError(key)

    @property
    def ok(self) -> bool:
        """True when every worker succeeded (and there was at least one)."""
        return bool(self.items) and all(item.ok for item in self.items)

    @property
    def succeeded(self) -> list[Outcome[T]]:
        return [item for item in self.items if item.ok]

    @property
    def failed(self) -> list[Outcome[T]]:
        return [item for item in self.items if not item.ok]

    def values(self) -> dict[str, T | None]:
        return {item.name: item.value for item in self.items}

    def of(self, worker: str) -> list[Outcome[T]]:
        """Every instance's outcome of one worker (of the app container, by its name)."""
        return [item for item in self.items if item.container == worker]

    def by_worker(self) -> list[WorkerOutcomes[T]]:
        """The outcomes grouped per worker, in the order the workers first appear."""
        groups: dict[str, list[Outcome[T]]] = {}
        for item in self.items:
            groups.setdefault(item.container, []).append(item)
        return [WorkerOutcomes(name, tuple(items)) for name, items in groups.items()]

    @property
    def exit_code(self) -> ExitCode:
        """The status the matching command exits with: see :func:`exit_code`."""
        return exit_code(self.items, interrupted=self.interrupted)

    def raise_on_failure(self) -> Results[T]:
        """Raise :class:`OperationFailed` naming every failed worker (and instance);
        else return self."""
        failed = self.failed
        if failed:
            raise OperationFailed(f"{failure_summary(self.items)}: " + "; ".join(
                f"{item.name}: {item.message}" for item in failed))
        return self


@dataclass(frozen=True)
class WorkerOutcomes(Generic[T]):
    """The outcomes of every instance of one worker: it failed when one of them did."""

    worker: str
    items: tuple[Outcome[T], ...]

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def failed(self) -> list[Outcome[T]]:
        return [item for item in self.items if not item.ok]

    @property
    def scaled(self) -> bool:
        """More than one instance (or one named by its number, ``queue.2``)."""
        return len(self.items) > 1 or any(item.name != self.worker for item in self.items)


def failure_summary(outcomes: Sequence[Outcome[Any]]) -> str:
    """``failed on 1 of 2 worker(s)``, and ``(2 of 4 instances)`` when instances differ
    from workers: a worker with one failed instance is a failed worker."""
    groups = Results(tuple(outcomes)).by_worker()
    failed = [g for g in groups if not g.ok]
    text = f"failed on {len(failed)} of {len(groups)} worker(s)"
    if len(outcomes) != len(groups):
        bad = sum(len(g.failed) for g in groups)
        text += f" ({bad} of {len(outcomes)} instances)"
    return text
