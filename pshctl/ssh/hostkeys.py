"""Host-key trust: strict by default, ``accept_new`` records first-seen keys only.

Known keys come from ``~/.ssh/known_hosts``, pshctl's own file, the Platform.sh CLI's
``~/.platformsh/ssh/host-keys`` and a target's extra file, read as OpenSSH reads them
(sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): host patterns with ``*``, ``?`` and ``!``,
hashed names (``|1|salt|hash``), ``@cert-authority`` lines (a CA whose host
certificates are trusted for the hosts named) and ``@revoked`` lines (a key never
accepted, wherever else it is listed). A line pshctl cannot read is skipped with a
warning naming its file and line; it never stops a connection.

New keys are only ever written to pshctl's own file; a key that differs from a known
one is refused and never replaced.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pshctl.errors import ConfigError, HostKeyError
from pshctl.ssh import certificates
from pshctl.ssh.certificates import CERT_SUFFIX, HostCertificate, key_type_of
from pshctl.ssh.trail import log

if TYPE_CHECKING:
    import paramiko

KNOWN_HOSTS_ENV = "PSHCTL_KNOWN_HOSTS"
MAX_LINE = 64 * 1024  # far above any key (a 16384-bit RSA key is ~2.8 KB of base64)
MAX_FILE = 64 * 1024 * 1024  # read no further than this (a line each for ~500,000 hosts)

_write_lock = threading.Lock()
_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, ...], tuple[Entry, ...]]] = {}
_warned: set[str] = set()  # each problem is told once per run, not once per connection

# OpenSSH records RSA keys as "ssh-rsa"; the negotiated algorithms are the SHA-2 ones.
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
# Host-certificate algorithms paramiko verifies, in the order pshctl asks for them.
_CERT_ALGORITHMS = (
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
)
CERT_AUTHORITY = "@cert-authority"
REVOKED = "@revoked"


# --- where the files are ---------------------------------------------------------------


def pshctl_known_hosts() -> Path:
    """pshctl's own known_hosts file (PSHCTL_KNOWN_HOSTS overrides it)."""
    override = os.environ.get(KNOWN_HOSTS_ENV)
    if override:
        return Path(override)
    from pshctl.dirs import data_dir

    return data_dir() / "known_hosts"


def known_hosts_files(extra: str | None = None) -> list[Path]:
    """Every file keys are read from, in order; missing ones are skipped when loading."""
    home = Path.home()
    files = [
        home / ".ssh" / "known_hosts",
        pshctl_known_hosts(),
        home / ".platformsh" / "ssh" / "host-keys",
    ]
    if extra:
        files.append(Path(extra).expanduser())
    return files


def host_key_name(host: str, port: int) -> str:
    """The name a host is recorded under: ``host``, or ``[host]:port`` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def _bare_host(name: str) -> str:
    """``host`` from ``host`` or ``[host]:port``: what a host certificate must name."""
    if name.startswith("[") and "]:" in name:
        return name[1:].rpartition("]:")[0]
    return name


def fingerprint(key: paramiko.PKey) -> str:
    return key.fingerprint  # "SHA256:..." as OpenSSH prints it


def blob_fingerprint(blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(blob).digest()).rstrip(b"=")
    return "SHA256:" + digest.decode()


# --- reading a file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One usable line of a known_hosts file."""

    file: str
    line: int
    marker: str | None  # None, "@cert-authority" or "@revoked"
    hosts: str  # the host-pattern field as written
    key_type: str
    blob: bytes  # the public key (of the CA, for @cert-authority)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def matches(self, name: str) -> bool:
        return hosts_match(self.hosts, name)


def hosts_match(field: str, name: str) -> bool:
    """Whether a host-pattern field names ``name``, as OpenSSH decides it.

    A hashed field (``|1|salt|hash``) holds one name. Otherwise the field is a comma
    list of patterns with ``*`` and ``?``; a matching ``!pattern`` excludes the name even
    when another pattern includes it. Names compare case-insensitively.
    """
    name = name.lower()
    if field.startswith("|"):
        return _hashed_match(field, name)
    included = False
    for pattern in field.split(","):
        negated = pattern.startswith("!")
        if _glob(name, pattern[1:].lower() if negated else pattern.lower()):
            if negated:
                return False
            included = True
    return included


def _hashed_match(field: str, name: str) -> bool:
    salt, digest = _hashed_parts(field)
    mine = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mine, digest)


def _hashed_parts(field: str) -> tuple[bytes, bytes]:
    parts = field.split("|")
    if len(parts) != 4 or parts[0] or parts[1] != "1":
        raise ValueError("a hashed host name must read |1|salt|hash")
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except binascii.Error:
        raise ValueError("the hashed host name is not base64") from None
    if len(digest) != hashlib.sha1().digest_size:
        raise ValueError("the hashed host name has the wrong length")
    return salt, digest


def _glob(name: str, pattern: str) -> bool:
    """``*``/``?`` matching without backtracking blow-ups (linear passes, not exponential)."""
    n = p = 0
    star, mark = -1, 0
    while n < len(name):
        if p < len(pattern) and pattern[p] in ("?", name[n]):
            n, p = n + 1, p + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark, p = p, n, p + 1
        elif star >= 0:
            mark += 1
            n, p = mark, star + 1
        else:
            return False
    return all(c == "*" for c in pattern[p:])


def parse_line(text: str) -> tuple[str | None, str, str, bytes] | None:
    """``(marker, hosts, key_type, blob)`` of one line; None for blanks and comments.

    Raises ValueError saying what is wrong with a line that cannot be used.
    """
    fields = text.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = None
    if fields[0].startswith("@"):
        if fields[0] not in (CERT_AUTHORITY, REVOKED):
            raise ValueError(f"unknown marker {fields[0][:40]!r}")
        marker, fields = fields[0], fields[1:]
    if len(fields) < 3:
        raise ValueError("expected: [marker] hosts key-type base64-key [comment]")
    hosts, key_type, encoded = fields[:3]
    if hosts.startswith("|"):
        _hashed_parts(hosts)
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("the key is not base64") from None
    inner = key_type_of(blob)
    if inner != key_type:
        raise ValueError(f"the key is of type {inner[:60]!r}, not {key_type[:60]!r}")
    if key_type.endswith(CERT_SUFFIX):
        raise ValueError("a certificate cannot be listed as a key; list its CA with "
                         f"{CERT_AUTHORITY}")
    return marker, hosts, key_type, blob


def read_file(path: Path, *, required: bool = False) -> tuple[Entry, ...]:
    """The usable lines of one file (cached while it does not change).

    A missing file has none. ``required``: a path that is not a regular file, or cannot
    be read, is a ConfigError (it was configured explicitly) rather than a warning.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return ()
    except OSError as exc:
        return _unreadable(path, exc.strerror or str(exc), required)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return _unreadable(path, "not a regular file", required)
    with os.fdopen(fd, "rb") as handle:
        signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        key = str(path)
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            entries = tuple(_entries(handle, key))
        except OSError as exc:
            return _unreadable(path, exc.strerror or str(exc), required)
    with _cache_lock:
        _cache[key] = (signature, entries)
    log.debug("read %d known host line(s) from %s", len(entries), path)
    return entries


def _unreadable(path: Path, reason: str, required: bool) -> tuple[Entry, ...]:
    if required:
        raise ConfigError(f"known_hosts file {path}: {reason}",
                          hint=f"point it (or {KNOWN_HOSTS_ENV}) at a regular file")
    _warn(f"ignoring known_hosts file {path}: {reason}")
    return ()


def _entries(handle: object, file: str) -> Iterator[Entry]:
    for number, raw in _lines(handle):
        if raw is None:
            _skip(file, number, f"line longer than {MAX_LINE} bytes")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            _skip(file, number, "not UTF-8")
            continue
        try:
            parsed = parse_line(text)
        except ValueError as exc:
            _skip(file, number, str(exc))
            continue
        if parsed is not None:
            yield Entry(file, number, *parsed)


def _lines(handle: object) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines without their ending; None for one over MAX_LINE bytes."""
    readline = handle.readline  # type: ignore[attr-defined]
    total = 0
    number = 0
    while total < MAX_FILE:
        raw = readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        total += len(raw)
        if len(raw) > MAX_LINE:
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = readline(MAX_LINE)
                total += len(raw)
            yield number, None
            continue
        yield number, raw.rstrip(b"\r\n")
    _warn(f"read only the first {MAX_FILE >> 20} MiB of a known_hosts file")


def _skip(file: str, line: int, reason: str) -> None:
    _warn(f"{file}:{line}: skipping a known_hosts line: {reason}")


def _warn(message: str) -> None:
    with _cache_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("%s", message)


# --- deciding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Presented:
    """The host key a server sent: its plain public key, and its certificate if any."""

    key_type: str
    blob: bytes
    certificate: HostCertificate | None

    @property
    def fingerprint(self) -> str:
        return blob_fingerprint(self.blob)

    @property
    def described(self) -> str:
        what = f"{self.key_type} {self.fingerprint}"
        return f"certified {what}" if self.certificate else what


def presented(key: paramiko.PKey) -> Presented:
    """What the server sent, read from paramiko's key (a certificate is kept as its blob)."""
    public = getattr(key, "public_blob", None)
    if public is not None and str(public.key_type).endswith(CERT_SUFFIX):
        try:
            cert = certificates.parse(public.key_blob)
        except ValueError as exc:
            raise HostKeyError(f"the server's host certificate cannot be read: {exc}") from None
        return Presented(cert.key_type, cert.key_blob, cert)
    blob = key.asbytes()
    return Presented(key_type_of(blob), blob, None)


class KnownHosts:
    """The merged view of all known-hosts files for one connection."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        own = pshctl_known_hosts()
        check_own_file(own)
        # pshctl's own file and a target's extra one (4th on) are configured explicitly:
        # an unusable path there is an error, elsewhere a warning.
        required = {own, *files[3:]}
        self.entries: list[Entry] = []
        for path in files:
            self.entries.extend(read_file(path, required=path in required))

    def _lines_for(self, name: str, marker: str | None) -> list[Entry]:
        return [e for e in self.entries if e.marker == marker and e.matches(name)]

    def known_types(self, name: str) -> list[str]:
        """Host-key algorithms to ask for first: of the keys recorded for ``name``, then
        certificates when a CA is trusted for it."""
        types: list[str] = []
        for entry in self._lines_for(name, None):
            for algorithm in _RSA_ALGORITHMS if entry.key_type == "ssh-rsa" else [entry.key_type]:
                if algorithm not in types:
                    types.append(algorithm)
        if self._lines_for(name, CERT_AUTHORITY):
            types.extend(_CERT_ALGORITHMS)
        return types

    def prefer_known_types(self, transport: paramiko.Transport, name: str) -> None:
        """Negotiate a key type we can check, as OpenSSH does, before the handshake."""
        known = self.known_types(name)
        if not known:
            return
        options = transport.get_security_options()
        offered = list(options.key_types)
        allowed = set(offered) | {c for c in _CERT_ALGORITHMS if c[: -len(CERT_SUFFIX)] in offered}
        preferred = [t for t in known if t in allowed]
        options.key_types = preferred + [t for t in offered if t not in preferred]

    def verify(self, name: str, key: paramiko.PKey, *, accept_new: bool) -> None:
        """Accept a matching key or a valid certificate of a trusted CA; record a new key
        if allowed; refuse anything else."""
        shown = presented(key)
        self._refuse_revoked(name, shown)
        if shown.certificate is not None and self._certified(name, shown.certificate):
            return
        recorded = self._lines_for(name, None)
        if any(entry.blob == shown.blob for entry in recorded):
            log.debug("host key %s for %s matches known hosts", shown.fingerprint, name)
            return
        if recorded:
            raise self._changed(name, shown, recorded)
        if not accept_new:
            raise self._unknown(name, shown)
        path = record(name, key)
        self.entries.append(Entry(str(path), 0, None, name, shown.key_type, shown.blob))
        log.debug("recorded new host key %s for %s", shown.fingerprint, name)

    def _refuse_revoked(self, name: str, shown: Presented) -> None:
        ca = shown.certificate.ca_blob if shown.certificate else None
        for entry in self._lines_for(name, REVOKED):
            if entry.blob in (shown.blob, ca):
                what = "host key" if entry.blob == shown.blob else "certificate authority"
                raise HostKeyError(
                    f"the {what} of {name} ({entry.key_type} {blob_fingerprint(entry.blob)}) "
                    f"is REVOKED ({entry.where}): refusing to connect",
                    hint="a revoked key is never accepted, even where another file lists it",
                )

    def _certified(self, name: str, cert: HostCertificate) -> bool:
        """True for a valid certificate from a CA trusted for ``name``; refuse an invalid one.

        A certificate from a CA not trusted here falls back to its plain key, as in OpenSSH.
        """
        authorities = [e for e in self._lines_for(name, CERT_AUTHORITY) if e.blob == cert.ca_blob]
        if not authorities:
            log.debug("no %s line for the CA %s that signed %s's certificate; checking its key",
                      CERT_AUTHORITY, blob_fingerprint(cert.ca_blob), name)
            return False
        problem = cert.problem(_bare_host(name), time.time())
        if problem:
            raise HostKeyError(
                f"the host certificate of {name} (key id {cert.key_id[:80]!r}, signed by the "
                f"CA trusted at {authorities[0].where}) is not valid: {problem}",
                hint="the server needs a certificate reissued by its CA",
            )
        log.debug("host certificate %r of %s is signed by the CA at %s", cert.key_id[:80],
                  name, authorities[0].where)
        return True

    def _unknown(self, name: str, shown: Presented) -> HostKeyError:
        hint = ("check the fingerprint, then connect once with --accept-new to record it in "
                f"{pshctl_known_hosts()}")
        if self._lines_for(name, CERT_AUTHORITY):
            hint = ("a certificate authority is trusted for this host, but the server did not "
                    "present a certificate it signed; " + hint)
        return HostKeyError(f"unknown host key for {name} ({shown.described})", hint=hint)

    def _changed(self, name: str, shown: Presented, recorded: list[Entry]) -> HostKeyError:
        where = ", ".join(dict.fromkeys(e.where for e in recorded))
        return HostKeyError(
            f"HOST KEY FOR {name} HAS CHANGED: the server sent {shown.described}, which is "
            "not the key recorded for it. Someone may be intercepting the connection "
            "(man-in-the-middle), or the host key was replaced.",
            hint=f"pshctl never replaces a known key. If the change is expected, remove the "
            f"old entry (ssh-keygen -R '{name}' -f FILE); it is at {where}",
        )


# --- writing pshctl's own file ------------------------------------------------------------


def check_own_file(path: Path) -> None:
    """pshctl's own file must be a regular file or not exist yet, in a usable directory."""
    from pshctl import files

    try:
        mode = files.existing_mode(path)
    except OSError as exc:  # e.g. /dev/null/x: "Not a directory"
        raise _own_file_error(path, exc.strerror or str(exc)) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise _own_file_error(path, "not a regular file")


def _own_file_error(path: Path, reason: str) -> ConfigError:
    source = f"{KNOWN_HOSTS_ENV}={path}" if os.environ.get(KNOWN_HOSTS_ENV) else str(path)
    return ConfigError(f"pshctl's known_hosts file {source}: {reason}",
                       hint=f"set {KNOWN_HOSTS_ENV} to a file path pshctl can create and write")


def record(name: str, key: paramiko.PKey, path: Path | None = None) -> Path:
    """Append ``name``'s key to pshctl's known_hosts unless another thread just did."""
    from pshctl import files

    path = path or pshctl_known_hosts()
    shown = presented(key)
    with _write_lock:
        check_own_file(path)
        current = read_file(path, required=True)
        if any(e.marker is None and e.blob == shown.blob and e.matches(name) for e in current):
            return path
        line = f"{name.lower()} {shown.key_type} {base64.b64encode(shown.blob).decode()}\n"
        try:
            files.append_private(path, line)
        except OSError as exc:
            raise _own_file_error(path, f"cannot write: {exc.strerror or exc}") from None
    return path
