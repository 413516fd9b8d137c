"""Terminal escapes from remotes and files are shown, never acted on (issue 14, item 3).

OSC 52 writes the clipboard, OSC 0 the window title, ``ESC[2J`` clears the screen and
``ESC[1A ESC[2K`` erases the line above (hiding what was printed). On a terminal, every
control character that comes from a remote or a file is shown escaped by
``output.visible`` (``^[``, ``^G``, ``<U+202E>``); piped, or with ``logs --raw``, the
bytes pass through for tools that want them. Real sshd, runit, and a real terminal (tmux).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from pshctl.cli import output
from tests.helpers import REPO, CliResult, CliRunner
from tests.terminal import Terminal
from tests.testbed import PROMPT, TestBed

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # the clipboard gets "evil"
OSC0 = "\x1b]0;pwned-title\x07"
CLEAR = "\x1b[2J"
ERASE_ABOVE = "\x1b[1A\x1b[2K"
C1_CSI = "\u009b2J"  # a CSI in one character
BIDI = "\u202e"
HOSTILE_LOG = (f"before the attack\n{OSC52}copied\n{OSC0}titled\n{CLEAR}cleared\n"
               f"{ERASE_ABOVE}erased\n{C1_CSI}c1 {BIDI}reversed\n")
SHOWN = ["^[]52;c;ZXZpbA==^Gcopied", "^[]0;pwned-title^Gtitled", "^[[2Jcleared",
         "^[[1A^[[2Kerased", "<U+009B>2Jc1 <U+202E>reversed"]
ESCAPES = (OSC52, OSC0, CLEAR, ERASE_ABOVE, "\x1b]", "\x1b[2J", "\x1b[1A", "\x1b[2K",
           "\u009b", BIDI)


@pytest.fixture
def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """stdout and stderr count as terminals (rich's FORCE_COLOR), colours off."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    output.console.cache_clear()
    yield
    output.console.cache_clear()


def _clean(result: CliResult, *, live: bool = False) -> None:
    """None of the remote's escapes reached the output. ``live``: rich's own live rows
    (a restart's progress) move the cursor with ESC[1A ESC[2K themselves."""
    seen = result.stdout + result.stderr
    for escape in ESCAPES:
        if live and escape in (ERASE_ABOVE, "\x1b[1A", "\x1b[2K"):
            escape = OSC0 + ERASE_ABOVE  # only as the remote sent it
        assert escape not in seen, (escape, result)


def test_visible_escapes_controls_and_keeps_text() -> None:
    assert output.visible(OSC52 + "x\ty\n") == "^[]52;c;ZXZpbA==^Gx\ty\n"
    assert output.visible("\r\x00\x7f\u200b\ufeff") == "^M^@^?<U+200B><U+FEFF>"
    assert output.visible("plain [red] bücher") == "plain [red] bücher"


# --- log lines, through a real sshd ------------------------------------------------------


@pytest.fixture
def hostile_logs(testbed: TestBed) -> Path:
    testbed.add_services({"queue": PROMPT, "mail": PROMPT})
    for name in ("queue", "mail"):
        testbed.log_file(name).parent.mkdir(parents=True, exist_ok=True)
        testbed.log_file(name).write_bytes(HOSTILE_LOG.encode())
    return testbed.project(["queue", "mail"])


@pytest.mark.integration
@pytest.mark.usefixtures("on_a_terminal")
@pytest.mark.parametrize("workers", [["queue"], ["queue", "mail"]], ids=["one", "prefixed"])
def test_log_lines_on_a_terminal_are_escaped(cli: CliRunner, hostile_logs: Path,
                                             workers: list[str]) -> None:
    result = cli("logs", *workers, "-n", "all", "-e", "test", cwd=hostile_logs)
    assert result.exit_code == 0, result
    _clean(result)
    for line in SHOWN:
        assert line in result.stdout
    assert "before the attack" in result.stdout


@pytest.mark.integration
@pytest.mark.usefixtures("on_a_terminal")
def test_raw_passes_the_bytes_through_on_a_terminal(cli: CliRunner, hostile_logs: Path) -> None:
    result = cli("logs", "queue", "-n", "all", "--raw", "-e", "test", cwd=hostile_logs)
    assert (result.exit_code, result.stdout) == (0, HOSTILE_LOG)


@pytest.mark.integration
def test_piped_logs_pass_the_bytes_through(cli: CliRunner, hostile_logs: Path) -> None:
    result = cli("logs", "queue", "-n", "all", "-e", "test", cwd=hostile_logs)
    assert (result.exit_code, result.stdout) == (0, HOSTILE_LOG)


# --- remote stderr in errors and tables ----------------------------------------------------


@pytest.fixture
def hostile_sv(tmp_path: Path) -> Iterator[TestBed]:
    """A bed whose remote `sv` answers with escapes on stderr (a hostile container)."""
    bin_dir = tmp_path / "remote-bin"
    bin_dir.mkdir()
    fake = bin_dir / "sv"
    fake.write_text(f"#!/bin/sh\nprintf {shlex.quote(OSC0 + ERASE_ABOVE + OSC52)} >&2\n"
                    "printf 'sv says no\\n' >&2\nexit 1\n")
    fake.chmod(0o755)
    bed = TestBed.start(tmp_path / "bed", remote_env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    try:
        yield bed
    finally:
        bed.stop()


@pytest.mark.integration
@pytest.mark.usefixtures("on_a_terminal")
def test_remote_stderr_in_tables_and_errors_is_escaped(cli: CliRunner,
                                                       hostile_sv: TestBed) -> None:
    root = hostile_sv.project(["queue"], overrides={"queue": {"supervisor": "runit"}})
    status = cli("status", "queue", "-e", "test", cwd=root)
    restart = cli("restart", "queue", "-e", "test", "--verify", "0", cwd=root)
    for result in (status, restart):
        assert result.exit_code != 0 and "sv says no" in result.stdout + result.stderr, result
        _clean(result, live=result is restart)
        assert "^[]0;pwned-title^G^[[1A^[[2K^[]52;c;ZXZpbA==^G" in \
            " ".join((result.stdout + result.stderr).split()), result


@pytest.mark.integration
def test_remote_stderr_piped_is_as_it_came(cli: CliRunner, hostile_sv: TestBed) -> None:
    root = hostile_sv.project(["queue"], overrides={"queue": {"supervisor": "runit"}})
    status = cli("status", "queue", "-e", "test", cwd=root)
    assert OSC0 in status.stdout


# --- a real terminal ---------------------------------------------------------------------


PSHCTL = REPO / ".venv" / "bin" / "pshctl"


def _screen_after(terminal: Terminal, root: Path, *args: str) -> str:
    terminal.start_shell(str(root), PSHCTL.parent)
    terminal.tmux("set-option", "-g", "set-clipboard", "on")  # OSC 52 would make a buffer
    terminal.type(shlex.join([str(PSHCTL), "logs", "queue", "-n", "all", "-e", "test", *args])
                  + "; echo DONE=$?")
    return terminal.wait_for(lambda s: re.search(r"^DONE=\d+", s, re.MULTILINE))


def _title(terminal: Terminal) -> str:
    return terminal.tmux("display-message", "-p", "-t", terminal.name, "#{pane_title}")


def _buffers(terminal: Terminal) -> str:
    return terminal.tmux("list-buffers", "-F", "#{buffer_sample}")


@pytest.mark.integration
def test_on_a_real_terminal_nothing_is_hidden_or_changed(hostile_logs: Path,
                                                         terminal: Terminal) -> None:
    screen = _screen_after(terminal, hostile_logs)
    assert re.search(r"^DONE=0", screen, re.MULTILINE), screen
    assert "before the attack" in screen  # neither erased nor cleared away
    for line in SHOWN[:4]:
        assert line in screen, screen
    assert "pwned-title" not in _title(terminal)
    assert "evil" not in _buffers(terminal)


@pytest.mark.integration
def test_the_terminal_control_with_raw(hostile_logs: Path, terminal: Terminal) -> None:
    """The control: --raw hands the same bytes to tmux, which acts on them."""
    _screen_after(terminal, hostile_logs, "--raw")
    assert "pwned-title" in _title(terminal)
    assert "evil" in _buffers(terminal)
