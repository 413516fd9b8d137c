"""Private-key passphrases: the OS keyring, else a prompt on a terminal, else an error.

Passphrases are stored under the service ``pshctl`` with the key's absolute path as
the user name. Nothing here ever puts a passphrase into a message or a log record.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from pshctl.errors import ConfigError
from pshctl.ssh.trail import log

SERVICE = "pshctl"

_lock = threading.Lock()
_no_backend_noted = False
_session_cache: dict[str, str] = {}  # passphrases typed at a prompt, for this process


def key_id(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _no_backend() -> None:
    global _no_backend_noted
    if not _no_backend_noted:
        _no_backend_noted = True
        log.warning("no OS keyring backend is available; stored passphrases are not used")


def get_stored(path: str | Path) -> str | None:
    """The keyring's passphrase for a key file, or None (also when there is no keyring)."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return keyring.get_password(SERVICE, key_id(path))
    except NoKeyringError:
        _no_backend()
    except KeyringError as exc:
        log.debug("keyring lookup failed: %s", type(exc).__name__)
    return None


def store(path: str | Path, passphrase: str) -> None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        keyring.set_password(SERVICE, key_id(path), passphrase)
    except NoKeyringError as exc:
        raise ConfigError(
            "no OS keyring backend is available to store the passphrase",
            hint="install and unlock a keyring (Secret Service, macOS Keychain, ...), "
            "or type the passphrase when pshctl asks for it",
        ) from exc
    except KeyringError as exc:
        raise ConfigError(
            f"the keyring refused to store the passphrase ({type(exc).__name__})"
        ) from exc


def delete(path: str | Path) -> bool:
    """Remove a stored passphrase; False when none was stored."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, key_id(path))
    except PasswordDeleteError:
        return False
    except NoKeyringError as exc:
        raise ConfigError("no OS keyring backend is available") from exc
    except KeyringError as exc:
        raise ConfigError(
            f"the keyring refused to delete the passphrase ({type(exc).__name__})"
        ) from exc
    return True


def can_prompt(interactive: bool | None) -> bool:
    if interactive is not None:
        return interactive
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def prompt(path: str | Path) -> str:
    """Ask on the terminal, once per key per process (parallel workers share the answer)."""
    import getpass

    ident = key_id(path)
    with _lock:
        if ident not in _session_cache:
            _session_cache[ident] = getpass.getpass(f"Passphrase for {ident}: ")
        return _session_cache[ident]


def forget_prompted(path: str | Path) -> None:
    """Drop a typed passphrase that turned out wrong."""
    with _lock:
        _session_cache.pop(key_id(path), None)
