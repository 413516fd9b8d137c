"""``pshctl completion SHELL``: print the Tab-completion script for bash, zsh or fish.

The scripts are typer's: each Tab press runs ``pshctl`` with ``_PSHCTL_COMPLETE`` set
(``complete_bash``, ``complete_zsh``, ...) and the words typed so far; typer answers
from the command tree and from the callbacks in :mod:`pshctl.cli.complete`. The app is
built with ``add_completion=False`` (no ``--install-completion`` flags), which also means
typer never registers its shell classes: :func:`register` does it, or every completion
request would answer "Shell bash not supported".

The same scripts are checked in under ``completions/`` (``make completions``).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

PROG_NAME = "pshctl"
COMPLETE_VAR = "_PSHCTL_COMPLETE"

# zsh's compinit loads a file named _pshctl from $fpath as the *body* of a function
# _pshctl; typer's script only defines _pshctl_completion and binds it, so without this
# line the first Tab of a session would offer nothing. When the script is sourced or
# eval'd, funcstack[1] is a file name or empty, and the line does nothing.
ZSH_AUTOLOAD_TAIL = """
# Loaded from $fpath as the function _pshctl: answer this first Tab as well.
if [[ ${funcstack[1]-} == _pshctl ]]; then _pshctl_completion "$@"; fi"""

INSTALL_HELP = {
    "bash": 'eval "$(pshctl completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(pshctl completion zsh)"    # in ~/.zshrc, after compinit',
    "fish": "pshctl completion fish > ~/.config/fish/completions/pshctl.fish",
}


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def register(app: typer.Typer) -> None:
    """Add ``pshctl completion``, and enable typer's completion protocol for the app."""
    from typer._completion_classes import completion_init

    completion_init()
    app.command("completion", epilog=_epilog())(completion)


def _epilog() -> str:
    lines = [f"{shell}: {how}" for shell, how in INSTALL_HELP.items()]
    return "Install: " + "  |  ".join(lines) + "  (more in docs/completion.md)."


def completion(
    shell: Annotated[Shell, typer.Argument(
        help="The shell to print the script for.", metavar="SHELL", show_default=False,
    )],
) -> int:
    """Print the Tab-completion script for bash, zsh or fish."""
    from pshctl.cli import output

    output.write_text(script(shell.value))
    return 0


def script(shell: str) -> str:
    """The completion script for ``shell``, as checked in under ``completions/``."""
    from typer._completion_shared import get_completion_script

    text = get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell)
    if shell == Shell.zsh.value:
        text += "\n" + ZSH_AUTOLOAD_TAIL
    return text + "\n"
