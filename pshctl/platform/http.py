"""One HTTP request with timeouts and retries: the transport under the API client.

urllib3 does the HTTP (imported on the first request): it has no dependencies of its
own, pools connections, verifies TLS with the system's CAs and splits connect and read
timeouts. Its own retry machinery is off: pshctl retries here, so that a ``Retry-After``
is honoured but bounded, and every retry is visible in the ``-v`` trail.

Retried: 429 (after ``Retry-After``, or a backoff) and 500/502/503/504 (with backoff),
three times. Not retried: a refused connection or a silent server (the user is told at
once), and every other status, which the caller turns into a message.

Nothing secret is ever logged: request bodies and headers are not, and URLs hold none.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pshctl.errors import ApiError

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger("pshctl.platform")

RETRIES = 3
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF = 0.5  # seconds before the first retry; doubled each time
MAX_WAIT = 30.0  # a Retry-After beyond this is reported, not slept through
MAX_BODY = 64 << 20  # no answer pshctl reads is anywhere near this


@dataclass(frozen=True)
class Response:
    method: str
    url: str
    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    def detail(self, secrets: tuple[str, ...], *keys: str) -> str:
        """``": <the server's message>"`` from the first of ``keys`` its JSON body has,
        cut short and with every secret replaced; "" when there is none."""
        import json

        try:
            data = json.loads(self.body)
        except ValueError:
            return ""
        found = [data.get(k) for k in keys] if isinstance(data, dict) else []
        text = next((t.strip() for t in found if isinstance(t, str) and t.strip()), "")
        return ": " + scrub(text[:200], secrets) if text else ""

    def json(self) -> Any:
        """The body as JSON; an unreadable body is an :class:`ApiError`."""
        import json

        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(
                f"the API sent an answer pshctl cannot read (not JSON) to "
                f"{self.method} {self.url} (HTTP {self.status})",
                hint="the API may be having trouble; try again later (-v shows the requests)",
            ) from None


class Http:
    """Requests with a timeout each and bounded retries; one connection pool."""

    def __init__(self, timeout: float, *, retries: int = RETRIES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self._pool: urllib3.PoolManager | None = None

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None) -> Response:
        """Send, retrying 429 and 5xx; return the last answer, whatever its status."""
        attempt = 0
        while True:
            response = self._once(method, url, headers or {}, body)
            if response.status not in RETRY_STATUSES:
                return response
            wait = self._wait_before_retry(response, attempt)
            attempt += 1
            log.debug("%s %s: HTTP %d, retry %d/%d in %.1fs", method, url, response.status,
                      attempt, self.retries, wait)
            self.sleep(wait)

    def _wait_before_retry(self, response: Response, attempt: int) -> float:
        """Seconds to wait before the next try; raises when no try is left."""
        asked = retry_after(response.headers.get("retry-after"))
        if attempt >= self.retries or (asked is not None and asked > MAX_WAIT):
            raise _exhausted(response, attempt, asked)
        if asked is not None:
            return asked
        return BACKOFF * (2 ** attempt) * random.uniform(0.75, 1.25)

    def _once(self, method: str, url: str, headers: Mapping[str, str],
              body: bytes | None) -> Response:
        import urllib3
        from urllib3.exceptions import HTTPError

        started = time.monotonic()
        try:
            raw = self._manager().request(
                method, url, headers=dict(headers), body=body, redirect=False,
                retries=False, preload_content=False,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout))
            try:
                data = raw.read(MAX_BODY + 1)
            finally:
                raw.release_conn()
        except HTTPError as exc:
            raise _unreachable(method, url, exc, self.timeout) from None
        if len(data) > MAX_BODY:
            raise ApiError(f"the API's answer to {method} {url} is larger than "
                           f"{MAX_BODY >> 20} MiB; pshctl does not read it")
        log.debug("%s %s -> %d (%.2fs)", method, url, raw.status, time.monotonic() - started)
        lowered = {k.lower(): v for k, v in raw.headers.items()}
        return Response(method, url, raw.status, lowered, data)

    def _manager(self) -> urllib3.PoolManager:
        if self._pool is None:
            import urllib3

            # urllib3 logs connection events only; none reaches the terminal.
            logging.getLogger("urllib3").addHandler(logging.NullHandler())
            logging.getLogger("urllib3").propagate = False
            self._pool = urllib3.PoolManager(num_pools=4, maxsize=4)
        return self._pool


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced (server messages may echo what they were sent)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date); None when absent or odd."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _exhausted(response: Response, attempts: int, asked: float | None) -> ApiError:
    what = f"{response.method} {response.url}"
    if response.status == 429:
        later = f"{asked:.0f} s" if asked is not None else "a minute"
        return ApiError(f"the API is rate-limiting pshctl (HTTP 429) for {what}"
                        + (f" after {attempts + 1} attempts" if attempts else ""),
                        hint=f"try again in {later}")
    return ApiError(f"the API failed (HTTP {response.status}) for {what} after "
                    f"{attempts + 1} attempts",
                    hint="the platform may be having trouble; try again later")


def _unreachable(method: str, url: str, exc: Exception, timeout: float) -> ApiError:
    from urllib3.exceptions import (
        ConnectTimeoutError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    where = _origin(url)
    if isinstance(exc, NewConnectionError):  # before timeouts: urllib3 derives it from one
        return ApiError(f"cannot reach the API at {where}: {_reason(exc)}",
                        hint="check your network and the api_url / auth_url settings")
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return ApiError(f"the API at {where} did not answer within {timeout:g} s "
                        f"({method} {urlsplit(url).path})",
                        hint="check your network; PSHCTL_API_TIMEOUT sets the wait")
    if isinstance(exc, SSLError):
        return ApiError(f"TLS with the API at {where} failed: {_reason(exc)}",
                        hint="check the system's CA certificates and the api_url setting")
    if isinstance(exc, ProtocolError):
        return ApiError(f"the API at {where} dropped the connection ({method} "
                        f"{urlsplit(url).path})", hint="try again later")
    return ApiError(f"request to the API at {where} failed: {type(exc).__name__}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _reason(exc: Exception) -> str:
    """The innermost OS-level reason (``Connection refused``), without urllib3's wrapping."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, OSError) and inner.strerror:
            return str(inner.strerror)
        inner = inner.__cause__ or inner.__context__
    text = str(exc)
    return text.rsplit(": ", 1)[-1] if ": " in text else text or type(exc).__name__
