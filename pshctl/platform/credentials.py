"""API credentials: where the token comes from, and its exchange for an access token.

Sources, first found wins:

1. ``PSHCTL_TOKEN``, then ``UPSUN_CLI_TOKEN``, then ``PLATFORMSH_CLI_TOKEN`` (an API token);
2. the OS keyring: service ``pshctl``, user ``api-token <auth_url>`` (``pshctl auth login``);
3. a logged-in ``upsun`` (then ``platform``) CLI: ``auth:token -W`` prints an *access*
   token, borrowed as it is for this run.

An API token is exchanged at ``{auth_url}/oauth2/token`` (``grant_type=api_token``) for an
access token, which is kept (0600, in pshctl's state directory, under a hash of the API
token) and reused until shortly before it expires. No token ever appears in a message, a
log record or an exception: text that comes back from the server is scrubbed of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from pshctl.errors import ApiError, ConfigError

if TYPE_CHECKING:
    from pshctl.platform.http import Http, Response

log = logging.getLogger("pshctl.platform")

TOKEN_VARS = ("PSHCTL_TOKEN", "UPSUN_CLI_TOKEN", "PLATFORMSH_CLI_TOKEN")
CLIS = ("upsun", "platform")  # borrowed from, in this order
KEYRING_SERVICE = "pshctl"
CLIENT_ID = "platform-api-user"  # the public client id of API-token exchanges
BORROW_TIMEOUT = 30.0
EXPIRY_MARGIN = 60.0  # an access token this close to its end is not used any more
BORROWED_LIFETIME = 300.0  # when a borrowed token does not say when it expires
TOKENS_URL_HINT = "create one in the Console: your account > API tokens"
GIVEN = "the token given"  # ``pshctl auth login``'s, before it is stored


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float

    def usable(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - EXPIRY_MARGIN


@dataclass(frozen=True)
class Credential:
    """An API token (to exchange) or an access token (borrowed), and where it came from."""

    source: str  # for messages: "PSHCTL_TOKEN", "the OS keyring", "the upsun CLI"
    api_token: str | None = field(default=None, repr=False)
    access: AccessToken | None = None

    @property
    def fingerprint(self) -> str:
        """Names the token in file names without revealing it."""
        secret = self.api_token or (self.access.value if self.access else "")
        return hashlib.sha256(secret.encode()).hexdigest()[:32]

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_token, self.access and self.access.value) if s)

    @property
    def renew_hint(self) -> str:
        if self.api_token is None:
            cli = self.source.split()[1] if self.source.startswith("the ") else "upsun"
            return f"log in again with `{cli} login`, or give pshctl a token (PSHCTL_TOKEN)"
        if self.source == GIVEN:
            return f"check it, or {TOKENS_URL_HINT}"
        if self.source == "the OS keyring":
            return f"{TOKENS_URL_HINT}, then `pshctl auth login`"
        return f"{TOKENS_URL_HINT}, and set {self.source} to it"


# --- finding the token -----------------------------------------------------------------


def find_credential(auth_url: str, *, borrow: bool = True) -> Credential | None:
    """The first credential of the documented sources, or None when there is none."""
    return (from_environment() or from_keyring(auth_url)
            or (borrow_from_cli() if borrow else None))


def from_environment() -> Credential | None:
    for name in TOKEN_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return Credential(source=name, api_token=value)
    return None


def keyring_user(auth_url: str) -> str:
    return f"api-token {auth_url}"


def from_keyring(auth_url: str) -> Credential | None:
    token = stored_token(auth_url)
    return Credential(source="the OS keyring", api_token=token) if token else None


def stored_token(auth_url: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_user(auth_url))
    except NoKeyringError:
        log.debug("no OS keyring backend: no stored API token")
    except KeyringError as exc:
        log.debug("keyring lookup failed: %s", type(exc).__name__)
    return None


def store_token(auth_url: str, token: str) -> None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, keyring_user(auth_url), token)
    except NoKeyringError:
        raise ConfigError(
            "no OS keyring backend is available to store the API token",
            hint="install and unlock a keyring (Secret Service, macOS Keychain, ...), "
            "or set PSHCTL_TOKEN in the environment instead",
        ) from None
    except KeyringError as exc:
        raise ConfigError(
            f"the keyring refused to store the API token ({type(exc).__name__})") from None


def delete_token(auth_url: str) -> bool:
    """Remove the stored token; False when none was stored."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, keyring_user(auth_url))
    except PasswordDeleteError:
        return False
    except NoKeyringError:
        return False
    except KeyringError as exc:
        raise ConfigError(
            f"the keyring refused to delete the API token ({type(exc).__name__})") from None
    return True


def borrow_from_cli() -> Credential | None:
    """An access token from a logged-in ``upsun``/``platform`` CLI, or None."""
    for name in CLIS:
        path = shutil.which(name)
        if path is None:
            continue
        token = _ask_cli(path)
        if token:
            expiry = jwt_expiry(token) or time.time() + BORROWED_LIFETIME
            return Credential(source=f"the {name} CLI", access=AccessToken(token, expiry))
    return None


def _ask_cli(path: str) -> str | None:
    env = {**os.environ, "UPSUN_CLI_NO_INTERACTION": "1", "PLATFORMSH_CLI_NO_INTERACTION": "1"}
    try:
        done = subprocess.run([path, "auth:token", "-W"], capture_output=True, text=True,
                              env=env, stdin=subprocess.DEVNULL, timeout=BORROW_TIMEOUT,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("%s auth:token: %s", os.path.basename(path), type(exc).__name__)
        return None
    token = done.stdout.strip()
    if done.returncode != 0 or not token or any(c.isspace() for c in token):
        log.debug("%s auth:token gave no token (exit %d)", os.path.basename(path),
                  done.returncode)
        return None
    return token


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (only to know when to stop)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


# --- the access token ----------------------------------------------------------------


def tokens_dir() -> Path:
    from pshctl.dirs import state_dir

    return state_dir() / "platform" / "tokens"


class Authenticator:
    """Hands out a usable access token: kept, exchanged, or borrowed."""

    def __init__(self, credential: Credential, auth_url: str, http: Http,
                 store: Path | None = None) -> None:
        self.credential = credential
        self.auth_url = auth_url
        self.http = http
        self.store = store if store is not None else tokens_dir()
        self._token: AccessToken | None = credential.access

    def bearer(self) -> str:
        """An access token that is not about to expire (exchanging one if needed)."""
        if self._token is None or not self._token.usable():
            self._token = self._kept() if self.credential.api_token else None
        if self._token is None or not self._token.usable():
            self._token = self._fresh()
        return self._token.value

    def renew(self) -> str:
        """After the API refused the access token (401): a new one, or ApiError."""
        self._forget()
        self._token = self._fresh()
        return self._token.value

    def _fresh(self) -> AccessToken:
        if self.credential.api_token is None:
            again = borrow_from_cli()
            if again is None or again.access is None or not again.access.usable():
                raise ApiError(f"{self.credential.source} has no usable access token",
                               hint=self.credential.renew_hint)
            return again.access
        token = self.exchange()
        self._keep(token)
        return token

    def exchange(self) -> AccessToken:
        """POST the API token to ``{auth_url}/oauth2/token``."""
        assert self.credential.api_token is not None
        url = f"{self.auth_url}/oauth2/token"
        basic = base64.b64encode(f"{CLIENT_ID}:".encode()).decode()
        body = urlencode({"grant_type": "api_token",
                          "api_token": self.credential.api_token}).encode()
        response = self.http.request("POST", url, body=body, headers={
            "Authorization": f"Basic {basic}", "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded"})
        if response.status in (400, 401, 403):
            raise ApiError(
                f"the API token from {self.credential.source} was refused by "
                f"{urlsplit(self.auth_url).netloc} (HTTP {response.status}"
                f"{self._reason(response)})",
                hint=f"the token may be revoked or mistyped; {self.credential.renew_hint}")
        if response.status != 200:
            raise ApiError(f"exchanging the API token failed: HTTP {response.status} from "
                           f"{url}{self._reason(response)}", hint="try again later")
        return self._parse(response)

    def _parse(self, response: Response) -> AccessToken:
        data = response.json()
        value = data.get("access_token") if isinstance(data, dict) else None
        lifetime = data.get("expires_in", 900) if isinstance(data, dict) else 900
        if not isinstance(value, str) or not value:
            raise ApiError(f"the token endpoint {response.url} answered without an "
                           "access token", hint="check the auth_url setting")
        if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool):
            lifetime = 900
        return AccessToken(value, time.time() + float(lifetime))

    def _reason(self, response: Response) -> str:
        return response.detail(self.credential.secrets(), "error_description", "error",
                               "message")

    # kept access tokens

    def _path(self) -> Path:
        digest = hashlib.sha256(f"{self.auth_url}\0{self.credential.fingerprint}".encode())
        return self.store / f"{digest.hexdigest()[:32]}.json"

    def _kept(self) -> AccessToken | None:
        try:
            data: Any = json.loads(self._path().read_text())
            token = AccessToken(str(data["access_token"]), float(data["expires_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return token if token.usable() else None

    def _keep(self, token: AccessToken) -> None:
        from pshctl import files

        try:
            files.write_file(self._path(), json.dumps(
                {"access_token": token.value, "expires_at": token.expires_at}))
        except OSError as exc:
            log.debug("cannot keep the access token: %s", exc.strerror or exc)

    def _forget(self) -> None:
        self._token = None
        try:
            self._path().unlink()
        except OSError:
            pass


def forget_access_tokens() -> int:
    """Delete every kept access token (``pshctl auth logout``); how many there were."""
    from pshctl.platform.cache import remove_files

    return remove_files(tokens_dir(), "*.json")
