"""A help screen shown again from its kept copy is typer's screen, byte for byte.

:mod:`pshctl.cli.helpcache` answers ``pshctl [COMMAND] --help`` without typer once typer
has rendered that screen for the same terminal; anything that could change the screen
(the words, the width, colour variables, pshctl's or typer's sources) means typer
renders it again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pshctl.cli import helpcache, output, tabtree
from tests.test_completion import heavy_imports
from tests.test_completion_fast import imported

# Every command and group, and a nested one; "-h" is the short spelling.
SCREENS = (["--help"], ["status", "--help"], ["restart", "-h"], ["sandbox", "up", "--help"],
           ["logs", "--help"], ["auth", "--help"])


def pshctl(args: list[str], *, importtime: bool = False,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "pshctl", *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60,
        check=False)


RUN_TYPER = "import sys; from pshctl.cli import run; sys.exit(run(sys.argv[1:]))"


def typer_screen(args: list[str], env: dict[str, str] | None = None) -> str:
    """The screen as typer renders it, the cache not involved."""
    proc = subprocess.run(
        [sys.executable, "-c", RUN_TYPER, *args], env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("args", SCREENS, ids=" ".join)
def test_the_kept_screen_is_typers_and_is_shown_without_typer(args: list[str]) -> None:
    expected = typer_screen(args)
    assert "Usage: pshctl" in expected
    cold = pshctl(args)
    assert (cold.returncode, cold.stdout) == (0, expected), cold.stderr
    assert helpcache.cache_path().stat().st_mode & 0o077 == 0
    warm = pshctl(args, importtime=True)
    assert (warm.returncode, warm.stdout, warm.stderr.count("Traceback")) == (0, expected, 0)
    assert "typer" not in imported(warm.stderr)
    assert "rich" not in imported(warm.stderr)
    assert not heavy_imports(warm.stderr)


def test_another_width_is_another_screen() -> None:
    narrow, wide = {"COLUMNS": "60"}, {"COLUMNS": "140"}
    assert pshctl(["status", "--help"], env=narrow).stdout == typer_screen(["status", "--help"],
                                                                          narrow)
    warm = pshctl(["status", "--help"], env=wide, importtime=True)
    assert warm.stdout == typer_screen(["status", "--help"], wide)
    assert "typer" in imported(warm.stderr)  # not the narrow copy
    assert max(len(line) for line in warm.stdout.splitlines()) > 60


def test_a_failed_screen_is_not_kept() -> None:
    proc = pshctl(["nosuch", "--help"])
    assert proc.returncode == 2
    assert "nosuch" in proc.stderr
    assert not helpcache.cache_path().exists()


def test_only_plain_help_requests_are_answered_here() -> None:
    assert helpcache.screen_key(["status"]) is None
    assert helpcache.screen_key(["--help", "status"]) is None
    assert helpcache.screen_key(["-e", "staging", "--help"]) is None
    assert helpcache.screen_key(["sandbox", "up", "more", "--help"]) is None
    assert helpcache.screen_key(["Status", "--help"]) is None
    key = helpcache.screen_key(["sandbox", "up", "--help"], {"NO_COLOR": "1", "HOME": "/h"})
    assert key is not None
    words, _tty, sizes, _encoding, env = json.loads(key)
    assert (words, len(sizes), env) == (["sandbox", "up"], 3, {"NO_COLOR": "1"})
    assert helpcache.screen_key(["-h"], {}) != helpcache.screen_key(["-h"], {"NO_COLOR": "1"})


def render_with(text: str, status: int = 0):
    def render() -> int:
        output.write_text(text)
        return status

    return render


def test_a_screen_is_kept_then_replayed(capsys: pytest.CaptureFixture[str]) -> None:
    key = helpcache.screen_key(["status", "--help"])
    assert key is not None
    assert helpcache.replay(key) is False
    assert helpcache.record(key, render_with("screen one\n")) == 0
    assert helpcache.replay(key) is True
    assert capsys.readouterr().out == "screen one\n" * 2
    assert helpcache.record(key, render_with("broken\n", status=2)) == 2
    assert helpcache.replay(key) is True
    assert capsys.readouterr().out == "broken\nscreen one\n"


def test_a_changed_source_or_a_broken_file_means_typer_renders(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    key = helpcache.screen_key(["status", "--help"])
    assert key is not None
    helpcache.record(key, render_with("kept\n"))
    capsys.readouterr()
    real = tabtree._stat
    monkeypatch.setattr(tabtree, "_stat",
                        lambda p: [p, 0, 0] if p.endswith("helpcache.py") else real(p))
    assert helpcache.replay(key) is False
    monkeypatch.setattr(tabtree, "_stat", real)
    assert helpcache.replay(key) is True
    helpcache.cache_path().write_text("{not json")
    assert helpcache.replay(key) is False
    assert capsys.readouterr().out == "kept\n"


def test_the_oldest_screens_make_room(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(helpcache, "MAX_SCREENS", 2)
    keys = [f"k{n}" for n in range(3)]
    for key in keys:
        helpcache.record(key, render_with(key))
    capsys.readouterr()
    assert [helpcache.replay(key) for key in keys] == [False, True, True]


def test_version_is_printed_without_typer() -> None:
    proc = pshctl(["--version"], importtime=True)
    from pshctl import __version__

    assert (proc.returncode, proc.stdout) == (0, f"pshctl {__version__}\n")
    assert "typer" not in imported(proc.stderr)
    assert typer_screen(["--version"]) == proc.stdout


def test_the_cache_lives_with_the_completion_tree(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert helpcache.cache_path(env).parent == tabtree.cache_path(env).parent
