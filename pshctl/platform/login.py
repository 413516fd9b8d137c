"""What ``pshctl auth login|status|logout`` do, as calls that return results.

- ``login(token)``: the token is exchanged once (proving it works), then stored in the
  keyring; a refused token is not stored;
- ``status()``: which source the credential comes from, the access token kept for it,
  the certificate SSH would present; ``check=True`` exchanges the token too;
- ``logout()``: the keyring's token, kept access tokens, pshctl's certificates and the
  API cache, all removed.

No function here returns or prints a token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pshctl.platform import cache, certificates, credentials
from pshctl.platform.settings import ApiSettings, api_settings

if TYPE_CHECKING:
    from pshctl.settings import Settings


def current_settings(cwd: Path | None = None) -> ApiSettings:
    """The API's settings for here: the project's config file when in a project."""
    from pshctl.appdef import find_project_root
    from pshctl.settings import load_settings

    root = find_project_root(cwd or Path.cwd())
    loaded: Settings = load_settings(root)
    return api_settings(loaded)


@dataclass(frozen=True)
class Stored:
    auth_url: str
    shadowed_by: str | None  # an environment variable used before the keyring


def login(token: str, settings: ApiSettings | None = None) -> Stored:
    from pshctl.platform.credentials import Authenticator, Credential
    from pshctl.platform.http import Http

    settings = settings or current_settings()
    credential = Credential(source=credentials.GIVEN, api_token=token)
    Authenticator(credential, settings.auth_url, Http(settings.timeout)).exchange()
    credentials.store_token(settings.auth_url, token)
    shadow = credentials.from_environment()
    return Stored(settings.auth_url, shadow.source if shadow else None)


@dataclass
class Status:
    api_url: str
    auth_url: str
    credential: str | None  # where it comes from; never the token
    kind: str | None = None  # "API token" | "access token (borrowed)"
    checked: bool | None = None  # the exchange worked (with check=True)
    certificate: dict[str, Any] | None = None
    cache_dir: str = ""

    def rows(self) -> list[tuple[str, str]]:
        rows = [("API", self.api_url), ("auth", self.auth_url),
                ("credential", f"{self.credential} ({self.kind})" if self.credential
                 else "none found")]
        if self.checked is not None:
            rows.append(("check", "the token exchange worked" if self.checked else "failed"))
        cert = self.certificate
        rows.append(("SSH certificate", "none" if cert is None else
                     f"{cert['certificate']} (key id {cert['key_id']}, {cert['state']} "
                     f"until {cert['valid_until']}, from {cert['source']})"))
        rows.append(("cache", self.cache_dir))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status(*, check: bool = False, settings: ApiSettings | None = None) -> Status:
    settings = settings or current_settings()
    found = credentials.find_credential(settings.auth_url)
    result = Status(settings.api_url, settings.auth_url,
                    found.source if found else None, cache_dir=str(cache.cache_dir()))
    if found is not None:
        result.kind = "API token" if found.api_token else "access token, borrowed"
    if check and found is not None and found.api_token:
        from pshctl.platform.credentials import Authenticator
        from pshctl.platform.http import Http

        Authenticator(found, settings.auth_url, Http(settings.timeout)).exchange()
        result.checked = True
    cert = certificates.own_certificate() or next(
        (c for c in certificates.session_certificates() if c.valid()), None)
    if cert is not None:
        result.certificate = {"certificate": str(cert.cert), "key_id": cert.key_id,
                              "source": cert.source, "valid_until": cert.until,
                              "state": "valid" if cert.valid() else "expired"}
    return result


@dataclass
class LoggedOut:
    removed: list[str] = field(default_factory=list)
    still_set: str | None = None  # a token variable logout cannot unset

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def logout(settings: ApiSettings | None = None) -> LoggedOut:
    settings = settings or current_settings()
    result = LoggedOut()
    if credentials.delete_token(settings.auth_url):
        result.removed.append(f"the API token for {settings.auth_url} (keyring)")
    tokens = credentials.forget_access_tokens()
    if tokens:
        result.removed.append(f"{tokens} access token(s)")
    if certificates.forget_own():
        result.removed.append("pshctl's SSH keys and certificates")
    cached = cache.drop_all()
    if cached:
        result.removed.append(f"{cached} cached API answer(s)")
    env = credentials.from_environment()
    result.still_set = env.source if env else None
    return result
