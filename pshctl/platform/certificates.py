"""SSH certificates for the platform's containers: the CLIs' and pshctl's own.

Which certificate a target gets (first that applies):

1. pshctl's own, when valid for a while yet (it was issued for the token pshctl uses);
2. a session certificate of the Upsun CLI (``~/.upsun-cli/.session/*/ssh/``) or of the
   Platform.sh CLI (``~/.platformsh/.session/*/ssh/``), when valid;
3. a new one of pshctl's own, obtained as the official CLI does: a fresh ed25519 key
   pair, its public key POSTed to ``{auth_url}/ssh``, the certificate kept with the key.

pshctl's own live in ``<user state dir>/pshctl/platform/ssh/``: each certificate in a
directory of its own (0700) with its key (files 0600), and ``current`` a symbolic link
to the newest, switched atomically, so that a key and its certificate always match,
also for a process reading while another renews. A certificate is renewed once less
than a fifth of its lifetime (between one and ten minutes) is left.

Certificates are read with :mod:`pshctl.ssh.certificates` (the wire format only; this
package opens no SSH connection).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import glob
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pshctl.errors import ApiError

if TYPE_CHECKING:
    from pshctl.platform.client import ApiClient

log = logging.getLogger("pshctl.platform")

KEY_NAME = "id_ed25519"
SESSION_ROOTS = (("the Upsun CLI", ".upsun-cli"), ("the Platform.sh CLI", ".platformsh"))
OWN = "pshctl"
KEEP_GENERATIONS = 2  # the current one, and the one a concurrent run may still be using
MIN_MARGIN, MAX_MARGIN = 60.0, 600.0


@dataclass(frozen=True)
class SshCertificate:
    """A private key with the certificate that vouches for it."""

    key: Path
    cert: Path
    source: str  # "pshctl", "the Upsun CLI", "the Platform.sh CLI"
    key_id: str
    valid_after: int
    valid_before: int

    def remaining(self, now: float | None = None) -> float:
        return self.valid_before - (now if now is not None else time.time())

    def valid(self, now: float | None = None) -> bool:
        moment = now if now is not None else time.time()
        return self.valid_after <= moment < self.valid_before

    def due(self, now: float | None = None) -> bool:
        """Close enough to its end to be replaced now."""
        lifetime = max(0, self.valid_before - self.valid_after)
        margin = min(MAX_MARGIN, max(MIN_MARGIN, lifetime / 5))
        return self.remaining(now) < margin

    def describe(self) -> str:
        return f"{self.cert} (key id {self.key_id!r}, from {self.source})"

    @property
    def until(self) -> str:
        return _when(self.valid_before)


def read_certificate(key: Path, source: str) -> SshCertificate | None:
    """The certificate next to ``key`` (``KEY-cert.pub``), or None when there is none
    or it cannot be read."""
    from pshctl.ssh.certificates import parse

    cert = Path(f"{key}-cert.pub")
    try:
        if not key.is_file():
            return None
        fields = cert.read_text().split()
        parsed = parse(base64.b64decode(fields[1], validate=True))
    except (OSError, IndexError, ValueError, binascii.Error) as exc:
        if cert.exists():
            log.debug("ignoring certificate %s: %s", cert, exc)
        return None
    return SshCertificate(key, cert, source, parsed.key_id, parsed.valid_after,
                          parsed.valid_before)


def session_certificates() -> list[SshCertificate]:
    """The CLIs' session certificates, Upsun's first, newest last within each."""
    found = []
    for source, root in SESSION_ROOTS:
        pattern = str(Path.home() / root / ".session" / "*" / "ssh" / KEY_NAME)
        for key in sorted(glob.glob(pattern)):
            cert = read_certificate(Path(key), source)
            if cert is not None:
                found.append(cert)
    return found


# --- pshctl's own ------------------------------------------------------------------------


def own_dir() -> Path:
    from pshctl.dirs import state_dir

    return state_dir() / "platform" / "ssh"


def own_certificate(directory: Path | None = None) -> SshCertificate | None:
    """pshctl's current certificate (its generation's real paths), or None."""
    current = (directory or own_dir()) / "current"
    try:
        generation = current.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return read_certificate(generation / KEY_NAME, OWN)


def obtain(client: ApiClient, directory: Path | None = None) -> SshCertificate:
    """A new key pair and the certificate the API signs for it; becomes ``current``."""
    from pshctl import files

    top = directory or own_dir()
    files.make_dirs(top)
    with _locked(top / ".lock"):
        generation = top / f"cert-{time.time_ns()}-{os.getpid()}"
        files.make_dirs(generation)
        try:
            private, public = _key_pair()
            files.write_file(generation / KEY_NAME, private)
            files.write_file(generation / f"{KEY_NAME}.pub", public)
            log.debug("requesting an SSH certificate from %s/ssh", client.settings.auth_url)
            files.write_file(generation / f"{KEY_NAME}-cert.pub",
                             client.request_certificate(public.strip()) + "\n")
            cert = _checked(generation, public)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        _switch(top, generation)
    log.debug("new SSH certificate %s, valid until %s", cert.key_id, cert.until)
    return cert


def forget_own(directory: Path | None = None) -> bool:
    """Delete pshctl's keys and certificates (``pshctl auth logout``)."""
    top = directory or own_dir()
    if not top.exists():
        return False
    shutil.rmtree(top, ignore_errors=True)
    return True


def _checked(generation: Path, public: str) -> SshCertificate:
    from pshctl.ssh.certificates import parse

    cert = read_certificate(generation / KEY_NAME, OWN)
    if cert is None:
        raise ApiError("the API's SSH certificate cannot be read",
                       hint="check the auth_url setting; try again later")
    certified = parse(base64.b64decode(cert.cert.read_text().split()[1])).key_blob
    if certified != base64.b64decode(public.split()[1]):
        raise ApiError("the API signed a certificate for another key than pshctl sent")
    now = time.time()
    if not cert.valid(now):
        raise ApiError(
            f"the API issued an SSH certificate valid from {_when(cert.valid_after)} until "
            f"{cert.until}, which is not now ({_when(int(now))})",
            hint="check this machine's clock; or try again later")
    return cert


def _key_pair() -> tuple[str, str]:
    """A fresh ed25519 key (OpenSSH format, unencrypted: it lives as long as its
    certificate) and its public key line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, f"{public} pshctl-temporary-cert\n"


def _switch(top: Path, generation: Path) -> None:
    """Point ``current`` at ``generation`` atomically; drop all but the newest few."""
    link = top / f".current.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(generation.name, target_is_directory=True)
    link.replace(top / "current")
    older = sorted((p for p in top.glob("cert-*") if p != generation),
                   key=lambda p: p.stat().st_mtime)
    for stale in older[: max(0, len(older) - (KEEP_GENERATIONS - 1))]:
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process obtains a certificate at a time (parallel runs wait, not duplicate)."""
    from pshctl import files

    with os.fdopen(files.open_append(path), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- choosing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The certificate to present, and what was passed over (for messages)."""

    certificate: SshCertificate | None
    passed_over: tuple[str, ...] = ()


def choose(client: Callable[[], ApiClient | None], *, renew: bool = False) -> Choice:
    """The certificate targets get; ``client()`` is only called when a new one is needed.

    ``renew`` asks for a new one even if pshctl's own looks valid (it was just rejected).
    """
    now = time.time()
    passed: list[str] = []
    own = own_certificate()
    if own is not None and not renew and not own.due(now):
        return Choice(own)
    if own is not None:
        passed.append(_why(own, now, renew))
    for session in session_certificates():
        if session.valid(now) and session.remaining(now) >= MIN_MARGIN:
            return Choice(session, tuple(passed))
        passed.append(_why(session, now, renew=False))
    api = client()
    if api is None:
        return Choice(own if own is not None and own.valid(now) else None, tuple(passed))
    return Choice(obtain(api), tuple(passed))


def _why(cert: SshCertificate, now: float, renew: bool) -> str:
    if renew:
        return f"{cert.describe()} was refused"
    if now < cert.valid_after:
        return f"{cert.describe()} is not valid before {_when(cert.valid_after)}"
    if not cert.valid(now):
        return f"{cert.describe()} expired at {cert.until}"
    return f"{cert.describe()} expires at {cert.until}"


def _when(stamp: int) -> str:
    try:
        return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "the end of time"
