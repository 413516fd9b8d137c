"""``pshctl auth``: credentials pshctl keeps.

- ``auth login|status|logout``: the platform's API token (OS keyring), what pshctl would
  use, and forgetting it all. The token is read without echo on a terminal, or with
  ``--token-stdin`` as one line from stdin; never from the command line. It is checked
  with the API before it is stored, and never printed.
- ``auth passphrase set|delete PATH``: an SSH key's passphrase in the OS keyring; pshctl
  then unlocks that key without asking (see docs/security.md). Read like the token;
  checked against the key before it is stored, and never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pshctl.cli import output
from pshctl.cli.options import JsonOpt
from pshctl.errors import ExitCode, UsageError

auth_app = typer.Typer(help="Credentials: the platform's API token, SSH key passphrases.",
                       no_args_is_help=True)
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
    from pshctl import api

    key = api.passphrase_key(path)  # before asking for a passphrase it has no use for
    stored_as = api.store_passphrase(key, _read_passphrase(key))
    output.info(f"stored the passphrase for {stored_as} in the keyring")
    return ExitCode.OK


@passphrase_app.command("delete")
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


# --- the platform's API token ----------------------------------------------------------

TokenStdinOpt = Annotated[
    bool,
    typer.Option("--token-stdin", help="Read the token as one line from stdin (for scripts)."),
]
CheckOpt = Annotated[
    bool, typer.Option("--check", help="Also exchange the token with the API (one request).")
]


@auth_app.command("login")
def login(token_stdin: TokenStdinOpt = False) -> int:
    """Store an API token in the OS keyring, after checking it with the API.

    Create the token in the Console (your account > API tokens). It is asked for without
    echo, or read from stdin with --token-stdin; never give it on the command line.
    """
    from pshctl import api

    token = _read_token(token_stdin)
    stored = api.login(token)
    output.info(f"checked the token with {stored.auth_url} and stored it in the OS keyring")
    if stored.shadowed_by:
        output.info(f"note: {stored.shadowed_by} is set and is used before the keyring")
    return ExitCode.OK


@auth_app.command("status")
def status(check: CheckOpt = False, as_json: JsonOpt = False) -> int:
    """Which API credentials pshctl would use, its SSH certificate, the API's address."""
    from pshctl import api

    found = api.auth_status(check=check)
    rows: list[list[output.Cell]] = [[key, value] for key, value in found.rows()]
    report = output.Report(data=found.to_dict(), columns=("what", "value"), rows=rows,
                           exit_code=ExitCode.OK if found.credential else ExitCode.CONNECTION)
    if not found.credential:
        report.notes = ["no API token: set PSHCTL_TOKEN, run `pshctl auth login`, or log in "
                        "with the Upsun CLI (`upsun login`)"]
    return output.emit(report, as_json=as_json)


@auth_app.command("logout")
def logout(as_json: JsonOpt = False) -> int:
    """Forget the stored API token, the access tokens and certificates obtained with it,
    and the cached answers of the API."""
    from pshctl import api

    done = api.logout()
    lines = [f"removed: {', '.join(done.removed)}" if done.removed else "nothing was stored"]
    if done.still_set:
        lines.append(f"{done.still_set} is still set in the environment and still used")
    return output.emit(output.Report(data=done.to_dict(), lines=lines), as_json=as_json)


def _read_token(from_stdin: bool) -> str:
    if from_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            raise UsageError("no token on stdin; nothing was stored")
        return token
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the token on",
                         hint="pipe it in with `pshctl auth login --token-stdin`")
    import getpass

    token = getpass.getpass("API token (input hidden): ").strip()
    if not token:
        raise UsageError("no token given; nothing was stored")
    return token
