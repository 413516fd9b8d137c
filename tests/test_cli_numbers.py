"""Every number on the command line is finite and in range, checked at parse time.

`--verify nan` used to run a restart whose verification never ended; `-n 10**30` reached
`tail`. Each numeric option of each command parses through :func:`options.number`, and
an impossible value is a usage error (exit 2) naming the option and the valid range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pshctl.cli import app as pshctl_app
from pshctl.cli import options
from tests.helpers import CliRunner

HOSTILE = ("nan", "-nan", "inf", "-inf", "1e400", str(10**30), "-1", "", "x", "1" * 5000)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def numeric_options() -> list[tuple[tuple[str, ...], Any]]:
    """Every option of every command that takes a value that is not text."""
    from typer.main import get_command

    found = []
    for path, command in _commands(get_command(pshctl_app)):
        for param in command.params:
            kind = type(param.type).__name__
            if getattr(param, "is_flag", False) or getattr(param, "count", False):
                continue
            if kind in ("StringParamType", "TyperChoice", "Choice", "TyperPath", "Path", "File"):
                continue
            found.append((path, param))
    return found


NUMERIC = numeric_options()
IDS = [f"{' '.join(path)} {param.opts[0]}" for path, param in NUMERIC]


def test_the_numeric_options_are_found() -> None:
    """The walk sees the options the issue names (a walk that found nothing would pass)."""
    for wanted in ("restart --verify", "restart --grace", "wait --timeout", "status --interval",
                   "logs --lines", "restart --max-parallel", "top --sample"):
        assert wanted in IDS


@pytest.mark.parametrize(("path", "param"), NUMERIC, ids=IDS)
def test_every_numeric_option_parses_through_the_one_checker(path: tuple[str, ...],
                                                             param: Any) -> None:
    func = getattr(param.type, "func", None)
    assert func is not None and func.__qualname__ == "number.<locals>.parse", (
        f"{' '.join(path)} {param.opts[0]} must use pshctl.cli.options.number")


@pytest.mark.parametrize(("path", "param"), NUMERIC, ids=IDS)
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: v[:12] or "empty")
def test_impossible_numbers_are_usage_errors(cli: CliRunner, path: tuple[str, ...],
                                             param: Any, value: str) -> None:
    option = param.opts[0]
    result = cli(*path, f"{option}={value}")
    assert result.exit_code == 2, result
    assert option in result.stderr and " from " in result.stderr, result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "shown"), [
    (("restart", "--verify", "nan"), "'--verify': must be a number of seconds from 0 to 3600"),
    (("wait", "--timeout", "nan"), "'--timeout': must be a number of seconds from 0 to 86400"),
    (("status", "--interval", "0.1"), "'--interval': must be a number of seconds from 0.2"),
    (("restart", "--grace", "1.5"), "'--grace': must be a whole number from 0 to 3600"),
    (("restart", "--max-parallel", "0"), "'--max-parallel': must be a whole number from 1 to 256"),
    (("logs", "-n", str(10**30)), "must be a whole number from 0 to 1000000000 or 'all'"),
])
def test_the_error_names_the_option_and_its_range(cli: CliRunner, args: tuple[str, ...],
                                                  shown: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert shown in " ".join(result.stderr.split())


def test_values_in_range_parse() -> None:
    whole = options.number(0, 10, whole=True, words={"all": None})
    assert (whole("0"), whole(" 10 "), whole("ALL"), whole(7)) == (0, 10, None, 7)
    seconds = options.number(0.2, 3600)
    assert (seconds("0.2"), seconds("3600"), seconds("1e3")) == (0.2, 3600.0, 1000.0)
