"""``pshctl auth passphrase set|delete PATH``: an SSH key's passphrase in the OS keyring.

pshctl then unlocks that key without asking (see docs/security.md). The passphrase is
read without echo on a terminal, or as one line from stdin when piped; it is checked
against the key before it is stored, and never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pshctl.cli import output
from pshctl.errors import ExitCode, UsageError

auth_app = typer.Typer(help="Credentials pshctl keeps in the OS keyring.", no_args_is_help=True,
                       epilog="Examples: pshctl auth passphrase set ~/.ssh/id_ed25519")
passphrase_app = typer.Typer(
    help="Passphrases of encrypted SSH keys (service 'pshctl', keyed by the key's path).",
    no_args_is_help=True,
    epilog="Examples: pshctl auth passphrase set ~/.ssh/id_ed25519  |  "
    "pshctl auth passphrase delete ~/.ssh/id_ed25519",
)
auth_app.add_typer(passphrase_app, name="passphrase")

KeyPath = Annotated[Path, typer.Argument(help="The private key file.", metavar="KEY",
                                         show_default=False)]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(auth_app, name="auth")


@passphrase_app.command(
    "set", epilog="Examples: pshctl auth passphrase set ~/.ssh/id_ed25519  |  "
    "pass show deploy-key | pshctl auth passphrase set ~/.ssh/deploy (read from stdin when "
    "it is not a terminal)")
def set_passphrase(path: KeyPath) -> int:
    """Store the passphrase of an encrypted key, after checking that it unlocks it."""
    from pshctl import api

    key = api.passphrase_key(path)  # before asking for a passphrase it has no use for
    stored_as = api.store_passphrase(key, _read_passphrase(key))
    output.info(f"stored the passphrase for {stored_as} in the keyring")
    return ExitCode.OK


@passphrase_app.command(
    "delete", epilog="Examples: pshctl auth passphrase delete ~/.ssh/id_ed25519")
def delete_passphrase(path: KeyPath) -> int:
    """Remove a stored passphrase (the key file itself is untouched)."""
    from pshctl import api
    from pshctl.ssh.secrets import key_id

    if api.delete_passphrase(path):
        output.info(f"deleted the stored passphrase for {key_id(path)}")
    else:
        output.info(f"no passphrase was stored for {key_id(path)}")
    return ExitCode.OK


def _read_passphrase(key: Path) -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(f"Passphrase for {key}: ")
        if getpass.getpass("Again: ") != first:
            raise UsageError("the two passphrases differ; nothing was stored")
        return first
    line = sys.stdin.readline()
    passphrase = line[:-1] if line.endswith("\n") else line
    if not passphrase:
        raise UsageError("no passphrase on stdin; nothing was stored")
    return passphrase
