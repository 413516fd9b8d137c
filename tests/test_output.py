"""The one renderer: lines from several workers, raw bytes, and nobody else on stdout."""

from __future__ import annotations

import ast
import io
import os
import re
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from pshctl.cli import output
from pshctl.cli.output import Lines, colour_for
from tests.helpers import REPO

# The interactive shell bridges the raw terminal itself; everything else goes through
# pshctl/cli/output.py.
STDOUT_WRITERS = {"pshctl/cli/output.py", "pshctl/ssh/interactive.py"}


def stdout_touches(path: Path) -> list[int]:
    """Lines where ``path`` prints without ``file=`` or touches ``sys.stdout``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "print" and not any(k.arg == "file" for k in node.keywords):
            found.append(node.lineno)
        if isinstance(node, ast.Attribute) and node.attr == "stdout" \
                and ast.unparse(node.value) == "sys":
            found.append(node.lineno)
        if isinstance(node, ast.Attribute) and node.attr == "echo" \
                and ast.unparse(node.value) == "typer":
            found.append(node.lineno)
    return sorted(set(found))


def test_nothing_but_the_renderer_writes_to_stdout() -> None:
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in sorted((REPO / "pshctl").rglob("*.py"))
        if str(path.relative_to(REPO)) not in STDOUT_WRITERS
        and (lines := stdout_touches(path))
    }
    assert offenders == {}


def test_the_check_sees_each_way_of_writing(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sys, typer\nprint('x')\nprint('y', file=sys.stderr)\n"
                      "sys.stdout.write('z')\ntyper.echo('w')\n")
    assert stdout_touches(sample) == [2, 4, 5]


def test_lines_of_several_workers_are_prefixed_and_padded() -> None:
    printer = Lines(["queue", "mail"])
    out = io.StringIO()
    with redirect_stdout(out):
        printer.write("mail", b"a [bold]b[/]\nc")
        printer.write("queue", b"")
    assert out.getvalue() == "mail  | a [bold]b[/]\nmail  | c\nqueue | \n"


def test_lines_of_one_worker_are_raw_and_json_is_one_object_per_line() -> None:
    out = io.StringIO()
    at = 1795924227.1239  # 2026-11-29 03:50:27.1239 UTC
    with redirect_stdout(out):
        Lines(["queue"]).write("queue", b"x\ny")
        Lines(["queue"], as_json=True).write("queue", b'x\n"y"', received=at)
    stamp = '"received": "2026-11-29T03:50:27.123Z"'
    assert out.getvalue() == (
        f'x\ny\n{{"worker": "queue", "instance": 0, "name": "queue", "line": "x", {stamp}}}\n'
        f'{{"worker": "queue", "instance": 0, "name": "queue", "line": "\\"y\\"", {stamp}}}\n'
    )
    out = io.StringIO()
    with redirect_stdout(out):  # one instance of a scaled worker: its worker and number
        Lines(["queue.1"], as_json=True, labels={"queue.1": ("queue", 1)}).write(
            "queue.1", b"z", received=at)
    assert out.getvalue() == (f'{{"worker": "queue", "instance": 1, "name": "queue.1", '
                              f'"line": "z", {stamp}}}\n')


def test_lines_for_stderr_go_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        Lines(["a", "bb"], stderr=True).write("a", b"oops")
    assert (out.getvalue(), err.getvalue()) == ("", "a  | oops\n")


def test_lines_from_many_threads_are_never_cut() -> None:
    names = [f"w{i}" for i in range(8)]
    printer = Lines(names)
    out = io.StringIO()
    line = b"x" * 2000

    def write(name: str) -> None:
        for _ in range(50):
            printer.write(name, line + b"\n" + line)

    with redirect_stdout(out):
        threads = [threading.Thread(target=write, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    written = out.getvalue().splitlines()
    assert len(written) == 8 * 50 * 2
    assert all(re.fullmatch(r"w\d \| x{2000}", text) for text in written)


def test_a_pipe_is_told_apart_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped (and no variable that makes rich call it a terminal), no console is built."""
    import subprocess
    import sys

    code = ("import sys; from pshctl.cli import output; "
            "output.error('broke', 'fix it'); output.info('note'); output.context('ctx'); "
            "output.warn('careful'); output.print_table(['a', 'b'], [['1', '2']]); "
            "print(output.is_terminal(), output.is_terminal(stderr=True), 'rich' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in output._TERMINAL_VARS}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)
    assert done.stdout.splitlines() == ["A  B", "1  2", "False False False"]
    assert done.stderr.splitlines() == ["error: broke", "hint: fix it", "note", "ctx",
                                        "warning: careful"]
    forced = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**env, "FORCE_COLOR": "1", "NO_COLOR": "1"}, check=True)
    assert forced.stdout.splitlines()[-1] == "True True True"


def test_lines_colour_prefixes_on_a_terminal_and_never_read_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, color_system="standard", no_color=False,
                       markup=False, highlight=False, emoji=False, soft_wrap=True)
    monkeypatch.setattr(output, "console", lambda stderr=False: terminal)
    monkeypatch.setattr(output, "is_terminal", lambda stderr=False: True)
    printer = Lines(["queue", "mail"])
    assert printer.styled
    printer.write("mail", b"[bold red]not markup[/] :x:\nsecond")
    shown = screen.getvalue()
    assert "\x1b[" in shown  # coloured prefix
    assert "[bold red]not markup[/] :x:" in shown
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert plain == "mail  | [bold red]not markup[/] :x:\nmail  | second\n"


def test_colours_are_stable_per_name() -> None:
    assert colour_for("queue") == colour_for("queue")
    assert len({colour_for(n) for n in ("queue", "mail", "cron", "web", "a", "b")}) > 1


def test_raw_bytes_pass_as_they_came() -> None:
    class Binary(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.buffer = io.BytesIO()

    out = Binary()
    with redirect_stdout(out):
        output.write_bytes(b"\xff\x00bin")
        output.write_bytes(b"a batch", b"\n")  # parts, one after the other
    assert out.buffer.getvalue() == b"\xff\x00bina batch\n"
