"""OpenSSH host certificates (PROTOCOL.certkeys), read strictly from what a server sent.

paramiko accepts a ``*-cert-v01@openssh.com`` host key and checks the key-exchange
signature made with the certified key, but looks at nothing else in the certificate.
This module reads the certificate itself, refusing anything truncated or trailing,
and says whether it is valid for a host: a host (not user) certificate, naming that
host among its principals, within its validity interval, with no critical option, and
signed by the CA key it names (never with SHA-1 ``ssh-rsa`` signatures).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timezone

CERT_SUFFIX = "-cert-v01@openssh.com"
HOST_CERT = 2
FOREVER = 2**64 - 1


class _Reader:
    """SSH wire-format fields from bytes; anything short raises ValueError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def _take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise ValueError("truncated")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self._take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self._take(8))[0])

    def string(self) -> bytes:
        return self._take(self.u32())

    def text(self) -> str:
        try:
            return self.string().decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("a name that is not UTF-8") from None

    def done(self) -> bool:
        return self.at == len(self.data)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def key_type_of(blob: bytes) -> str:
    """The type name a public-key blob starts with (ValueError when it has none)."""
    return _Reader(blob).text()


# The public fields that follow the nonce, per certified key type (mpints are strings).
_KEY_FIELDS = {
    "ssh-ed25519": 1,
    "ssh-rsa": 2,  # e, n
    "ecdsa-sha2-nistp256": 2,  # curve name, point
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
}


@dataclass(frozen=True)
class HostCertificate:
    cert_type: str
    key_type: str  # of the certified key, e.g. "ssh-ed25519"
    key_blob: bytes  # the certified public key, as known_hosts would list it
    serial: int
    kind: int  # 1 user, 2 host
    key_id: str
    principals: tuple[str, ...]
    valid_after: int
    valid_before: int
    critical_options: tuple[str, ...]
    ca_blob: bytes
    signed: bytes  # everything the signature covers
    signature: bytes

    def problem(self, host: str, now: float) -> str | None:
        """Why this certificate does not vouch for ``host`` at ``now``; None if it does."""
        if self.kind != HOST_CERT:
            return "it is a user certificate, not a host certificate"
        if not self.principals:
            return "it names no host (empty principal list)"
        if host.lower() not in (p.lower() for p in self.principals):
            listed = ", ".join(repr(p[:80]) for p in self.principals[:5])
            return f"it is for {listed}, not {host!r}"
        if now < self.valid_after:
            return f"it is not valid before {_when(self.valid_after)}"
        if now >= self.valid_before:
            return f"it expired at {_when(self.valid_before)}"
        if self.critical_options:
            options = ", ".join(repr(o[:40]) for o in self.critical_options[:5])
            return f"it has critical options ({options}), which no host certificate may have"
        return self._signature_problem()

    def _signature_problem(self) -> str | None:
        import paramiko
        from paramiko.message import Message

        try:
            algorithm = _Reader(self.signature).text()
            ca = paramiko.PKey.from_type_string(key_type_of(self.ca_blob), self.ca_blob)
        except (ValueError, paramiko.SSHException, paramiko.pkey.UnknownKeyType) as exc:
            return f"its CA key or signature cannot be read ({exc})"
        if algorithm == "ssh-rsa":
            return "it is signed with SHA-1 (ssh-rsa), which OpenSSH no longer accepts"
        try:
            valid = ca.verify_ssh_sig(self.signed, Message(self.signature))
        except Exception:  # noqa: BLE001 - a malformed signature is a refusal, whatever raises
            valid = False
        return None if valid else "its signature does not verify with the CA's key"


def _when(stamp: int) -> str:
    if stamp >= FOREVER:
        return "the end of time"
    try:
        return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{stamp} (seconds since 1970)"


def parse(blob: bytes) -> HostCertificate:
    """Read a ``*-cert-v01@openssh.com`` blob; ValueError says what is wrong with it."""
    reader = _Reader(blob)
    cert_type = reader.text()
    key_type = cert_type.removesuffix(CERT_SUFFIX)
    if key_type == cert_type or key_type not in _KEY_FIELDS:
        raise ValueError(f"unsupported certificate type {cert_type[:60]!r}")
    reader.string()  # nonce
    fields = [reader.string() for _ in range(_KEY_FIELDS[key_type])]
    serial = reader.u64()
    kind = reader.u32()
    key_id = reader.text()
    principals = _names(reader.string())
    valid_after = reader.u64()
    valid_before = reader.u64()
    critical = _names(reader.string(), pairs=True)
    _names(reader.string(), pairs=True)  # extensions: none matter for a host
    reader.string()  # reserved
    ca_blob = reader.string()
    signed = blob[: reader.at]
    signature = reader.string()
    if not reader.done():
        raise ValueError("trailing data after the signature")
    if key_type_of(ca_blob).endswith(CERT_SUFFIX):
        raise ValueError("the CA key is itself a certificate")
    key_blob = _string(key_type.encode()) + b"".join(_string(f) for f in fields)
    return HostCertificate(cert_type, key_type, key_blob, serial, kind, key_id, principals,
                           valid_after, valid_before, critical, ca_blob, signed, signature)


def _names(packed: bytes, *, pairs: bool = False) -> tuple[str, ...]:
    """Strings packed one after another (``pairs``: name, then its data, which is skipped)."""
    reader = _Reader(packed)
    out = []
    while not reader.done():
        out.append(reader.text())
        if pairs:
            reader.string()
    return tuple(out)
