"""Issue 12 item 8: every command's help shows an example, every value a metavar in one
style (upper case: ``SECONDS``, ``NAME``, ``WORKER...``), and ``-v`` as the counter it is."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers import CliRunner

# Upper-case words (``WORKER=N`` too); a literal alternative in lower case may follow
# (``N|all``); ``runit|systemd`` is the one set of literal choices.
METAVAR = re.compile(
    r"^(?:[A-Z][A-Z_]*(?:=[A-Z]+)?(?:\|[a-z]+)*|[a-z]+(?:\|[a-z]+)+)(?:\.\.\.)?$")


def commands() -> list[tuple[list[str], Any]]:
    import typer.main

    from pshctl.cli import app

    found: list[tuple[list[str], Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = commands()


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "pshctl"
                                                         for p, _ in COMMANDS])
def test_help_has_an_example_and_one_metavar_style(cli: CliRunner, path: list[str],
                                                  command: Any) -> None:
    assert command.epilog and command.epilog.startswith("Examples"), path
    assert "pshctl " in command.epilog, path
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        assert param.metavar is not None and METAVAR.match(param.metavar), \
            (path, param.name, param.metavar)
    shown = cli(*path, "--help", env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown
    assert "Examples" in shown.stdout, shown.stdout
    # typer's own type words stand in for a missing metavar: none is missing.
    for word in ("<int", "<float", "<str", "<path", "<choice", "TEXT", "INTEGER", "FLOAT"):
        assert not re.search(rf"^\s*│\s*-{{1,2}}\S*(?:\s+-\S+)?\s+{re.escape(word)}",
                             shown.stdout, re.MULTILINE), (path, word, shown.stdout)


def test_verbose_is_shown_as_a_counter(cli: CliRunner) -> None:
    shown = cli("--help", env={"COLUMNS": "200"})
    row = next(line for line in shown.stdout.splitlines() if "--verbose" in line)
    assert "<int>" not in row and "-vv" in row, row
    assert re.search(r"--verbose\s+-v\s+A counter", row), row
