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
from pshctl.errors import ConfigError, ExitCode, UsageError

auth_app = typer.Typer(help="Credentials pshctl keeps in the OS keyring.", no_args_is_help=True)
passphrase_app = typer.Typer(
    help="Passphrases of encrypted SSH keys (service 'pshctl', keyed by the key's path).",
    no_args_is_help=True,
)
auth_app.add_typer(passphrase_app, name="passphrase")

KeyPath = Annotated[Path, typer.Argument(help="The private key file.", show_default=False)]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(auth_app, name="auth")


@passphrase_app.command("set")
def set_passphrase(path: KeyPath) -> int:
    """Store the passphrase of an encrypted key, after checking that it unlocks it."""
    from pshctl.ssh import secrets

    key = _existing(path)
    if _is_unencrypted(key):  # before asking for a passphrase it has no use for
        raise ConfigError(f"{key} is not encrypted; there is no passphrase to store")
    passphrase = _read_passphrase(key)
    _check_unlocks(key, passphrase)
    secrets.store(key, passphrase)
    output.info(f"stored the passphrase for {secrets.key_id(key)} in the keyring")
    return ExitCode.OK


@passphrase_app.command("delete")
def delete_passphrase(path: KeyPath) -> int:
    """Remove a stored passphrase (the key file itself is untouched)."""
    from pshctl.ssh import secrets

    if secrets.delete(path):
        output.info(f"deleted the stored passphrase for {secrets.key_id(path)}")
    else:
        output.info(f"no passphrase was stored for {secrets.key_id(path)}")
    return ExitCode.OK


def _existing(path: Path) -> Path:
    key = path.expanduser()
    if not key.is_file():
        raise ConfigError(f"no such key file: {key}")
    return key


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


def _check_unlocks(key: Path, passphrase: str) -> None:
    import paramiko

    try:
        paramiko.PKey.from_path(str(key), passphrase.encode())  # type: ignore[arg-type]
    except (paramiko.SSHException, ValueError, TypeError):
        # The exception text is paramiko's, but it is dropped anyway: nothing about
        # a passphrase attempt belongs in an error message.
        raise ConfigError(f"that passphrase does not unlock {key}; nothing was stored") from None


def _is_unencrypted(key: Path) -> bool:
    import paramiko

    try:
        paramiko.PKey.from_path(str(key))
    except Exception:  # noqa: BLE001 - any failure means "not loadable without a passphrase"
        return False
    return True
