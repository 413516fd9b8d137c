"""``--help`` without typer: each help screen kept as typer printed it, and shown again.

Rendering a help screen means importing typer and rich and building every command,
several times what a bare typer app pays. The first time a screen is asked for, typer
renders it while :func:`pshctl.cli.output.recording` keeps a copy; later requests for
the same screen, on a terminal of the same kind, are answered from that copy.

A copy is used only when everything that shaped it is unchanged: the words asked
(``pshctl [COMMAND [SUBCOMMAND]] --help``, nothing else on the line), whether stdout is
a terminal, the terminal's size, the environment variables rich and typer read for
colour and width, the output encoding, and the sources of pshctl, typer and rich (the
stamp of the Tab completion table, :func:`pshctl.cli.tabtree.fingerprint`). Anything
else, and any screen that did not end with status 0, goes to typer as before.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

HELP_FLAGS = ("--help", "-h")
FORMAT = 1
MAX_SCREENS = 64  # a few widths of every command's help
_WORD = re.compile(r"[a-z][a-z0-9-]*\Z")

# What rich and typer read to choose colours, width and terminal handling.
_ENV = ("COLORTERM", "COLUMNS", "FORCE_COLOR", "JUPYTER_COLUMNS", "JUPYTER_LINES", "LINES",
        "NO_COLOR", "PY_COLORS", "TERM", "TERMINAL_WIDTH", "TTY_COMPATIBLE",
        "TTY_INTERACTIVE", "TYPER_USE_RICH", "_TYPER_FORCE_DISABLE_TERMINAL",
        "DATABRICKS_RUNTIME_VERSION", "GITHUB_ACTIONS")


def screen_key(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str | None:
    """The key of the help screen ``argv`` asks for, or None when it asks for more."""
    if not argv or argv[-1] not in HELP_FLAGS or len(argv) > 3:
        return None
    if not all(_WORD.match(word) for word in argv[:-1]):
        return None
    env = os.environ if environ is None else environ
    sizes: list[list[int] | None] = []
    for fd in (0, 1, 2):  # rich asks each standard stream in turn for the size
        try:
            sizes.append(list(os.get_terminal_size(fd)))
        except OSError:
            sizes.append(None)
    from pshctl.cli.output import stdout_kind

    tty, encoding = stdout_kind()
    shape = [list(argv[:-1]), tty, sizes, encoding,
             {name: env[name] for name in _ENV if name in env}]
    return json.dumps(shape, separators=(",", ":"))


def cache_path(environ: Mapping[str, str] | None = None) -> Path:
    from pshctl.dirs import cache_dir

    return cache_dir(environ) / "help-screens.json"


def _load(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    try:
        data = json.loads(cache_path(environ).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _fresh(data: dict[str, Any]) -> dict[str, str]:
    """The screens of ``data`` if they were rendered from what is installed now."""
    from pshctl.cli.tabtree import fingerprint

    modules = data.get("modules")
    screens = data.get("screens")
    if not isinstance(modules, dict) or not isinstance(screens, dict):
        return {}
    return screens if data.get("fingerprint") == fingerprint(modules) else {}


def replay(key: str, environ: Mapping[str, str] | None = None) -> bool:
    """Show the kept screen of ``key``; False when there is none to trust."""
    data = _load(environ)
    text = _fresh(data).get(key) if data is not None else None
    if not isinstance(text, str):
        return False
    from pshctl.cli.output import write_text

    write_text(text)
    return True


def record(key: str, render: Callable[[], int],
           environ: Mapping[str, str] | None = None) -> int:
    """Render the screen with typer, keep it when it succeeded, return its status."""
    from pshctl.cli.output import recording

    with recording() as written:
        status = render()
    if status == 0 and written:
        _keep(key, "".join(written), environ)
    return status


def _keep(key: str, text: str, environ: Mapping[str, str] | None) -> None:
    import rich
    import typer

    from pshctl import files
    from pshctl.cli.tabtree import fingerprint

    modules = {"typer": str(typer.__file__), "rich": str(rich.__file__)}
    stamp = fingerprint(modules)
    data = _load(environ) or {}
    screens = _fresh(data) if data.get("fingerprint") == stamp else {}
    screens.pop(key, None)
    screens[key] = text
    while len(screens) > MAX_SCREENS:
        screens.pop(next(iter(screens)))  # the oldest first
    document = {"format": FORMAT, "modules": modules, "fingerprint": stamp,
                "screens": screens}
    path = cache_path(environ)
    try:
        files.make_dirs(path.parent)
        files.write_file(path, json.dumps(document, separators=(",", ":")))
    except OSError:
        pass  # a cache that cannot be written is no error


def main(argv: Sequence[str], render: Callable[[], int]) -> int | None:
    """The status of a help request answered here, or None when ``argv`` is not one."""
    key = screen_key(argv)
    if key is None:
        return None
    if replay(key):
        return 0
    return record(key, render)
