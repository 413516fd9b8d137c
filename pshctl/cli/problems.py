"""What went wrong with which workers, said once on stderr, each with a next step.

A table has room for a short reason per worker; the whole message and what to do about
it come after the table, once per distinct problem, naming the workers it hit (a changed
host key of ``ssh.eu-3.platform.sh`` is one problem of every worker behind it, not one per
row). A worker that was reached but failed names the command that shows why: its log.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pshctl.errors import ConnectionFailed, PshctlError
from pshctl.supervisor import ServiceProblem

if TYPE_CHECKING:
    from pshctl.outcome import Outcome

Problem = tuple[str, "str | None"]  # (message naming the workers, hint)

def short(outcome: Outcome[Any]) -> str:
    """The reason in a table cell: the message alone, its hint left for the summary."""
    error = outcome.error
    if error is None:
        return ""
    if isinstance(error, PshctlError):
        return error.message
    return outcome.message or ""


def next_step(outcome: Outcome[Any], *, app: str | None = None) -> str | None:
    """What to run to learn more about this worker's failure, or None."""
    from pshctl.cli.options import program

    error = outcome.error
    if error is None or _not_attempted(error):
        return None
    hint = getattr(error, "hint", None)
    if hint:
        return str(hint)
    on = ["--worker", outcome.name] if outcome.name != app else []
    if isinstance(error, ConnectionFailed):
        return f"see the SSH conversation: {program()} -v ssh {shlex.join([*on, '--', 'true'])}"
    if isinstance(error, ServiceProblem):  # no such service: its log cannot say more
        return None
    name = [] if outcome.name == app else [outcome.name]
    return f"see why in its log: {program()} logs {shlex.join([*name, '-n', '50'])}"


def summary(outcomes: Iterable[Outcome[Any]], *, app: str | None = None) -> list[Problem]:
    """One (message, hint) per distinct problem, in the order first seen."""
    groups: dict[Problem, list[str]] = {}
    for outcome in outcomes:
        if outcome.error is None or _not_attempted(outcome.error):
            continue
        key = (short(outcome), next_step(outcome, app=app))
        groups.setdefault(key, []).append(outcome.name)
    return [(f"{', '.join(names)}: {message}", hint) for (message, hint), names in groups.items()]


def _not_attempted(error: BaseException) -> bool:
    """Skipped (a halted rolling run, an interrupt): nothing went wrong with the worker."""
    from pshctl.lifecycle import NotAttempted

    return isinstance(error, NotAttempted)
