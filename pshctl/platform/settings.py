"""Where the platform's API is, and how long pshctl waits for it and trusts its answers.

Precedence, as for every other value (docs/configuration.md): environment variable >
project config file > user config file > default. The defaults are Upsun's endpoints,
which serve Platform.sh projects too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pshctl.errors import ConfigError

if TYPE_CHECKING:
    from pshctl.settings import Settings

DEFAULT_API_URL = "https://api.upsun.com"
DEFAULT_AUTH_URL = "https://auth.upsun.com"
API_URL_VAR = "PSHCTL_API_URL"
AUTH_URL_VAR = "PSHCTL_AUTH_URL"
TIMEOUT_VAR = "PSHCTL_API_TIMEOUT"
CACHE_TTL_VAR = "PSHCTL_API_CACHE_TTL"
DEFAULT_TIMEOUT = 15.0  # seconds for one answer; connecting gets a third of it
# Links change when an environment is redeployed or scaled, rarely within minutes; a
# stale destination that fails is fetched again anyway (see pshctl.targets.api).
DEFAULT_CACHE_TTL = 900.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ApiSettings:
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    timeout: float = DEFAULT_TIMEOUT
    cache_ttl: float = DEFAULT_CACHE_TTL


def api_settings(settings: Settings | None = None) -> ApiSettings:
    """The API's settings from the environment, the config files, the defaults."""
    api_url = _first(os.environ.get(API_URL_VAR), getattr(settings, "api_url", None),
                     DEFAULT_API_URL)
    auth_url = _first(os.environ.get(AUTH_URL_VAR), getattr(settings, "auth_url", None),
                      DEFAULT_AUTH_URL)
    return ApiSettings(
        api_url=checked_url(api_url, API_URL_VAR if os.environ.get(API_URL_VAR) else "api_url"),
        auth_url=checked_url(auth_url,
                             AUTH_URL_VAR if os.environ.get(AUTH_URL_VAR) else "auth_url"),
        timeout=_seconds(TIMEOUT_VAR, DEFAULT_TIMEOUT, minimum=0.1),
        cache_ttl=_seconds(CACHE_TTL_VAR, DEFAULT_CACHE_TTL, minimum=0.0),
    )


def checked_url(url: str, name: str) -> str:
    """An ``https://`` URL, or ``http://`` to this machine only: a token is sent there."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an https:// URL, not {url!r}")
    if parts.scheme == "http" and host not in LOOPBACK:
        raise ConfigError(
            f"{name} {url!r} is plain http to another machine: the API token would travel "
            "unencrypted", hint="use https://, or http:// to 127.0.0.1 (the sandbox)")
    return url.strip().rstrip("/")


def _first(*values: str | None) -> str:
    return next(v for v in values if v is not None and v.strip())


def _seconds(var: str, default: float, *, minimum: float) -> float:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not minimum <= value <= 86400:
        raise ConfigError(f"{var} must be a number of seconds ({minimum:g} to 86400), "
                          f"not {raw!r}")
    return value
