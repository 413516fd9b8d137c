"""The one output layer: consoles, the result renderer, and error messages.

Data goes to stdout, diagnostics to stderr. Both consoles have markup, highlighting and
emoji off, so text that comes from a remote host (``[error]``, ``:x:``) prints as is.
On a terminal tables are rich tables; piped, they are plain aligned text; with
``--json`` stdout holds exactly one JSON document (or JSON lines for streams).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Union

from pshctl.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

# A cell is plain text, or (text, rich style) for emphasis on a terminal; the style
# is dropped when piped, so never put meaning in the style alone.
Cell = Union[str, "tuple[str, str]"]


@cache
def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(
        stderr=stderr,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )


def stdout_is_terminal() -> bool:
    return console().is_terminal


@dataclass
class Report:
    """What a command hands to :func:`emit`: the JSON document and its human form."""

    data: Any
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[Cell]] = ()
    lines: Sequence[str] = ()  # free text printed after the table
    exit_code: int = ExitCode.OK
    title: str | None = None
    notes: Sequence[str] = field(default_factory=list)  # to stderr, both modes


def emit(report: Report, *, as_json: bool = False) -> int:
    """Render a report and return its exit code.

    A reader that went away (``| head -1``) does not change the outcome: the exit code
    still says how the operation went, not whether all of its output was read.
    """
    try:
        if as_json:
            print_json(report.data)
        else:
            if report.columns:
                print_table(report.columns, report.rows, title=report.title)
            out = console()
            for line in report.lines:
                out.print(line)
    except BrokenPipeError:
        _drop_stdout()
    for note in report.notes:
        info(note)
    return int(report.exit_code)


def _drop_stdout() -> None:
    """Send what is left for stdout to /dev/null, so the exit flush cannot fail too."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (in-process tests)
        pass
    finally:
        os.close(devnull)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def cell_text(cell: Cell) -> str:
    """A cell's text, without its style."""
    return cell if isinstance(cell, str) else cell[0]



def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> None:
    out = console()
    if not out.is_terminal:
        _print_plain_table(columns, rows)
        return
    out.print(rich_table(columns, rows, title=title))


def rich_table(
    columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> Any:
    """The terminal form of a table, as a rich renderable (also for live displays)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_edge=False, header_style="bold", box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(c) if isinstance(c, str) else Text(c[0], style=c[1]) for c in row))
    return table


def _print_plain_table(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    texts = [[cell_text(c) for c in row] for row in rows]
    header = [c.upper() for c in columns]
    widths = [max(len(r[i]) for r in [header, *texts]) for i in range(len(columns))]
    for row in [header, *texts]:
        line = "  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip()
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """A diagnostic line on stderr."""
    console(stderr=True).print(message)


def context(line: str) -> None:
    """The line naming what a command acts on: first on stderr, dim on a terminal."""
    err = console(stderr=True)
    if err.is_terminal:
        from rich.text import Text

        err.print(Text(line, style="dim"))
    else:
        err.print(line)


def warn(message: str) -> None:
    err = console(stderr=True)
    if err.is_terminal:
        from rich.text import Text

        err.print(Text.assemble(("warning: ", "yellow bold"), message))
    else:
        err.print(f"warning: {message}")


def error(message: str, hint: str | None = None) -> None:
    err = console(stderr=True)
    if err.is_terminal:
        from rich.text import Text

        # Only the label is styled: `Text(label, style=...) + Text(message)` would carry the
        # label's style over the whole line.
        err.print(Text.assemble(("error: ", "red bold"), message))
        if hint:
            err.print(Text.assemble(("hint: ", "cyan"), hint))
    else:
        err.print(f"error: {message}")
        if hint:
            err.print(f"hint: {hint}")
