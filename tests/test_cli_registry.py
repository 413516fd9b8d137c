"""A command line that names a command builds only that command's module; the tables that
say which module registers what, and which root options take a value, are the app's own."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import typer
from typer.main import get_command

from pshctl.cli import root


def commands_of(module: str) -> set[str]:
    alone = typer.Typer()

    @alone.callback()
    def _callback() -> None:
        pass

    importlib.import_module(f"pshctl.cli.{module}").register(alone)
    return set(get_command(alone).commands)  # type: ignore[attr-defined]


def test_every_command_is_in_the_table_with_its_module() -> None:
    table = {name: module for module in root.MODULES for name in commands_of(module)}
    assert table == root.COMMANDS
    assert set(get_command(root.register()).commands) == set(root.COMMANDS)  # type: ignore[attr-defined]


def test_the_root_options_that_take_a_value_are_the_roots() -> None:
    params = get_command(root.register()).params
    takes_value = {opt for p in params if not getattr(p, "is_flag", False)
                   and not getattr(p, "count", False) for opt in p.opts}
    assert takes_value == set(root.ROOT_VALUE_OPTIONS)


@pytest.mark.parametrize(("argv", "command"), [
    (["status"], "status"),
    (["-e", "staging", "restart", "mail"], "restart"),
    (["--environment=staging", "-Aapi", "-vv", "--refresh", "logs", "-f"], "logs"),
    (["-p", "status", "workers"], "workers"),  # "status" is -p's value here
    (["-e", "x", "--help"], None),
    (["-h", "status"], None),
    (["--version"], None),
    (["-vh"], None),
    ([], None),
    (["nosuch", "status"], None),
    (["--", "status"], None),
    (["-x", "status"], None),  # an unknown option: typer says so, with every command
])
def test_the_command_named(argv: list[str], command: str | None) -> None:
    assert root.command_of(argv) == command


def test_one_command_imports_only_its_module() -> None:
    code = ("import sys; from pshctl.cli import root; root.register(root.modules_for("
            "['-e', 'x', 'workers'])); print(sorted(m for m in sys.modules "
            "if m.startswith('pshctl.cli.') and m.split('.')[2] in root.MODULES))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['pshctl.cli.workers']"


def test_the_order_stays_when_more_modules_come_later() -> None:
    """The help lists the commands in one order, whichever were registered first."""
    def order(first: str) -> str:
        code = ("from typer.main import get_command; from pshctl.cli import root; "
                f"{first}; print(list(get_command(root.register()).commands))")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.strip()

    fresh = order("pass")
    assert "'ssh'" in fresh
    assert order("root.register(('ssh',)); root.register(('workers',))") == fresh
    assert order("root.register(('completion',))") == fresh
