"""Public-key authentication in OpenSSH's spirit, with keyring-backed passphrases.

Offered in order: the identity files (the Target's, then ``~/.ssh/config``'s, then the
Platform.sh CLI certificate, then ``~/.ssh/id_*`` when none is configured), each through
the ssh-agent when the agent holds it; then the agent's other keys unless
``IdentitiesOnly yes``. Keys are loaded lazily, so a passphrase is only looked up or
asked for when the key is actually reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pshctl.errors import AuthenticationFailed
from pshctl.ssh import secrets
from pshctl.ssh.config import Endpoint, Identity
from pshctl.ssh.trail import log

if TYPE_CHECKING:
    import paramiko

PROMPT_ATTEMPTS = 3


class KeyLocked(Exception):
    """An encrypted key whose passphrase is not available (the reason says why)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _try_load(path: Path, passphrase: str | None) -> paramiko.PKey:
    import paramiko

    secret = passphrase.encode() if passphrase is not None else None
    return paramiko.PKey.from_path(str(path), secret)  # type: ignore[arg-type]


def _wrong_passphrase(exc: Exception) -> bool:
    import paramiko

    return isinstance(exc, (paramiko.SSHException, ValueError, TypeError))


def needs_passphrase(path: Path) -> bool:
    """True unless the key file opens without a passphrase (an unreadable file counts as
    locked: only a passphrase that unlocks it will be accepted)."""
    try:
        _try_load(path, None)
    except Exception:  # noqa: BLE001 - any failure means "not loadable without a passphrase"
        return True
    return False


def unlocks(path: Path, passphrase: str) -> bool:
    """Whether ``passphrase`` opens the key file (never says why not: nothing about a
    passphrase attempt belongs in a message)."""
    try:
        _try_load(path, passphrase)
    except Exception as exc:
        if not _wrong_passphrase(exc):
            raise
        return False
    return True


def load_private_key(path: Path, *, interactive: bool | None = None) -> paramiko.PKey:
    """Open a key file, unlocking it from the keyring or a prompt when it is encrypted."""
    import paramiko

    try:
        return _try_load(path, None)
    except (paramiko.PasswordRequiredException, TypeError) as exc:
        # cryptography says "password-protected" with a TypeError for OpenSSH-format keys
        if isinstance(exc, TypeError) and "password" not in str(exc).lower():
            raise
    stored = secrets.get_stored(path)
    if stored is not None:
        try:
            key = _try_load(path, stored)
        except Exception as exc:
            if not _wrong_passphrase(exc):
                raise
            raise KeyLocked(
                path, "the passphrase stored in the keyring does not unlock it"
            ) from None
        log.debug("unlocked %s with the passphrase from the keyring", path)
        return key
    if not secrets.can_prompt(interactive):
        raise KeyLocked(path, "it is encrypted, no passphrase is stored and there is no terminal")
    for _ in range(PROMPT_ATTEMPTS):
        try:
            return _try_load(path, secrets.prompt(path))
        except Exception as exc:
            if not _wrong_passphrase(exc):
                raise
            secrets.forget_prompted(path)
    raise KeyLocked(path, "wrong passphrase")


def _public_blob(path: Path) -> bytes | None:
    from paramiko.pkey import PublicBlob

    pub = Path(str(path) + ".pub")
    try:
        return PublicBlob.from_file(str(pub)).key_blob if pub.is_file() else None
    except (OSError, ValueError):
        return None


def _with_certificate(key: paramiko.PKey, identity: Identity) -> paramiko.PKey:
    if identity.certificate is not None:
        try:
            key.load_certificate(str(identity.certificate))
            log.debug("presenting certificate %s", identity.certificate)
        except (OSError, ValueError) as exc:
            log.debug("cannot use certificate %s: %s", identity.certificate, exc)
    return key


def _make_sources(endpoint: Endpoint, agent_keys: list[Any], interactive: bool | None) -> Any:
    from paramiko.auth_strategy import InMemoryPrivateKey, PrivateKey

    class KeyFile(PrivateKey):
        """An identity file loaded (and unlocked) only when its turn comes."""

        def __init__(self, username: str, identity: Identity) -> None:
            super().__init__(username=username)
            self.identity = identity

        def __repr__(self) -> str:
            return f"key file {self.identity.path}"

        def authenticate(self, transport: paramiko.Transport) -> list[str]:
            key = load_private_key(self.identity.path, interactive=interactive)
            self.pkey = _with_certificate(key, self.identity)
            return super().authenticate(transport)

    class AgentIdentity(InMemoryPrivateKey):
        def __repr__(self) -> str:
            return f"agent key {self.pkey.fingerprint}"

    def sources() -> Iterator[Any]:
        used: set[bytes] = set()
        by_blob = {key.asbytes(): key for key in agent_keys}
        for identity in endpoint.identities:
            blob = _public_blob(identity.path)
            if blob is not None and blob in by_blob:
                used.add(blob)
                yield AgentIdentity(endpoint.user, _with_certificate(by_blob[blob], identity))
            else:
                yield KeyFile(endpoint.user, identity)
        if not endpoint.identities_only:
            for blob, key in by_blob.items():
                if blob not in used:
                    yield AgentIdentity(endpoint.user, key)

    return sources


def _agent() -> Any:
    import paramiko

    try:
        return paramiko.Agent()
    except paramiko.SSHException as exc:
        log.debug("ssh-agent unavailable: %s", exc)
        return None


def authenticate(
    transport: paramiko.Transport, endpoint: Endpoint, interactive: bool | None
) -> None:
    """Log in on an established transport or raise :class:`AuthenticationFailed`."""
    from paramiko.auth_strategy import AuthFailure, AuthStrategy

    agent = _agent()
    agent_keys = list(agent.get_keys()) if agent is not None else []
    if agent_keys:
        log.debug("ssh-agent offers %d key(s)", len(agent_keys))
    make_sources = _make_sources(endpoint, agent_keys, interactive)

    class Strategy(AuthStrategy):
        def get_sources(self) -> Iterator[Any]:
            yield from make_sources()

    try:
        Strategy(ssh_config=None).authenticate(transport)  # type: ignore[arg-type]
    except AuthFailure as failure:
        raise _failure(endpoint, failure.result) from None
    finally:
        if agent is not None:
            agent.close()
    log.debug("authenticated as %s", endpoint.user)


def _reason(outcome: BaseException) -> str:
    import paramiko

    if isinstance(outcome, paramiko.BadAuthenticationType):
        return "server allows only: " + ", ".join(outcome.allowed_types)
    text = str(outcome).strip().rstrip(".")
    if isinstance(outcome, paramiko.AuthenticationException):
        return "rejected" if text in ("", "Authentication failed") else text
    return f"{type(outcome).__name__}: {text}" if text else type(outcome).__name__


def _failure(endpoint: Endpoint, results: list[Any]) -> AuthenticationFailed:
    where = f"{endpoint.user}@{endpoint.hostname}:{endpoint.port}"
    if not results:
        return AuthenticationFailed(
            f"no SSH key to offer to {where}",
            hint="start an ssh-agent with your key, set IdentityFile in ~/.ssh/config, "
            "or set identity_file for this environment",
        )
    tried = []
    locked: list[KeyLocked] = []
    for source, outcome in results:
        if isinstance(outcome, KeyLocked):
            locked.append(outcome)
            tried.append(f"{source} (locked: {outcome.reason})")
        else:
            tried.append(f"{source} ({_reason(outcome)})")
    hint = "check that the public key is in the server's authorized_keys"
    if locked:
        paths = " ".join(str(k.path) for k in locked)
        hint = f"store the key's passphrase with: pshctl auth passphrase set {paths}"
    return AuthenticationFailed(
        f"authentication failed for {where}; tried " + "; ".join(tried), hint=hint
    )
