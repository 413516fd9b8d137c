"""The known_hosts reader and host certificates, without a server (keys made by ssh-keygen)."""

from __future__ import annotations

import base64
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pshctl.errors import ConfigError, HostKeyError
from pshctl.ssh import certificates, hostkeys
from pshctl.ssh.hostkeys import KnownHosts, hosts_match, parse_line, read_file

NAME = "[127.0.0.1]:2222"


@dataclass
class Key:
    path: Path

    @property
    def public(self) -> str:  # "type base64"
        return " ".join(self.path.with_suffix(".pub").read_text().split()[:2])

    @property
    def blob(self) -> bytes:
        return base64.b64decode(self.public.split()[1])

    def paramiko(self) -> object:
        import paramiko

        return paramiko.PKey.from_path(str(self.path))


def keygen(path: Path, kind: str = "ed25519") -> Key:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "", "-f", str(path)],
                   check=True, capture_output=True)
    return Key(path)


def sign(ca: Key, key: Key, *, host: bool = True, principals: str = "127.0.0.1",
         validity: str = "-5m:+1h") -> Path:
    """``ssh-keygen -s``: a certificate for ``key`` signed by ``ca``; returns the -cert.pub."""
    argv = ["ssh-keygen", "-q", "-s", str(ca.path), "-I", "test-cert", "-V", validity]
    argv += (["-h"] if host else []) + (["-n", principals] if principals else [])
    subprocess.run([*argv, str(key.path.with_suffix(".pub"))], check=True, capture_output=True)
    return Path(str(key.path) + "-cert.pub")


def certified(cert: Path) -> object:
    """The host key paramiko hands over when a server presents this certificate."""
    import paramiko

    blob = base64.b64decode(cert.read_text().split()[1])
    return paramiko.Ed25519Key(data=blob)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Key]:
    return {name: keygen(tmp_path / name) for name in ("host", "other", "ca", "ca2")}


def known(tmp_path: Path, *lines: str) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in lines))
    return KnownHosts([path])


# --- patterns -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "name", "expected"),
    [
        ("host.example", "host.example", True),
        ("HOST.example", "host.EXAMPLE", True),
        ("*.example", "a.b.example", True),
        ("*.example", "example", False),
        ("h?st", "host", True),
        ("h?st", "hoost", False),
        ("a,b,c", "b", True),
        ("*,!bad", "bad", False),
        ("!bad,*", "bad", False),
        ("*,!bad", "good", True),
        ("!bad", "good", False),  # a negation alone includes nothing
        ("[127.0.0.1]:*", NAME, True),
        ("[127.0.0.1]:22*", NAME, True),
        ("127.0.0.1", NAME, False),
        ("*" * 200 + "x", "a" * 255, False),  # no exponential backtracking
    ],
)
def test_host_patterns_follow_openssh(field: str, name: str, expected: bool) -> None:
    assert hosts_match(field, name) is expected


def test_hashed_names_match_only_their_own_host() -> None:
    import paramiko

    hashed = paramiko.HostKeys.hash_host(NAME)
    assert hosts_match(hashed, NAME)
    assert not hosts_match(hashed, "[127.0.0.1]:2223")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("host ssh-ed25519", "expected: [marker] hosts key-type"),
        ("host ssh-ed25519 !!!notbase64", "not base64"),
        ("host ssh-rsa {ed25519}", "of type 'ssh-ed25519', not 'ssh-rsa'"),
        ("@bogus host ssh-ed25519 {ed25519}", "unknown marker '@bogus'"),
        ("@revoked ssh-ed25519 {ed25519}", "expected"),
        ("|1|x|y ssh-ed25519 {ed25519}", "hashed host name"),
        ("|2|c2FsdA==|aGFzaA== ssh-ed25519 {ed25519}", "must read |1|salt|hash"),
        ("host ssh-ed25519 AAAA", "truncated"),
    ],
)
def test_malformed_lines_say_why(keys: dict[str, Key], line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("|", r"\|").replace("[", r"\[")):
        parse_line(line.format(ed25519=keys["host"].public.split()[1]))


def test_comments_blank_lines_and_trailing_comments(keys: dict[str, Key]) -> None:
    assert parse_line("") is None
    assert parse_line("   # a comment") is None
    marker, hosts, key_type, blob = parse_line(f"h {keys['host'].public} a comment") or ()
    assert (marker, hosts, key_type, blob) == (None, "h", "ssh-ed25519", keys["host"].blob)
    assert parse_line(f"@revoked * {keys['host'].public}")[0] == "@revoked"  # type: ignore[index]


def test_bad_lines_are_skipped_with_a_warning_naming_file_and_line(
    tmp_path: Path, keys: dict[str, Key], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "known_hosts"
    good = f"{NAME} {keys['host'].public}\n".encode()
    path.write_bytes(
        b"garbage\n"
        + b"host ssh-ed25519 \xff\xfe not-utf8\n"
        + b"@cert-authority\n"
        + b"x" * (hostkeys.MAX_LINE + 10) + b"\n"
        + good
        + b"@revoked\tonly-two-fields\r\n"
    )
    with caplog.at_level(logging.WARNING, logger="pshctl.ssh"):
        entries = read_file(path)
    assert [(e.line, e.blob) for e in entries] == [(5, keys["host"].blob)]
    warned = [r.getMessage() for r in caplog.records]
    for line in (1, 2, 3, 4, 6):
        assert any(m.startswith(f"{path}:{line}: skipping a known_hosts line") for m in warned)
    assert any("not UTF-8" in m for m in warned)
    assert any("longer than" in m for m in warned)
    KnownHosts([path]).verify(NAME, keys["host"].paramiko(), accept_new=False)


def test_an_unreadable_user_file_is_a_warning_but_a_configured_one_an_error(
    tmp_path: Path, keys: dict[str, Key], caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with caplog.at_level(logging.WARNING, logger="pshctl.ssh"):
        assert read_file(directory) == ()
    assert "not a regular file" in caplog.text
    with pytest.raises(ConfigError, match="not a regular file"):
        read_file(directory, required=True)
    with pytest.raises(ConfigError, match="not a regular file"):
        KnownHosts(hostkeys.known_hosts_files(str(directory)))


# --- decisions ----------------------------------------------------------------------------


def test_union_of_files_a_key_listed_anywhere_matches(tmp_path: Path, keys: dict[str, Key]) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text(f"{NAME} {keys['other'].public}\n")
    two.write_text(f"{NAME} {keys['host'].public}\n")
    KnownHosts([one, two]).verify(NAME, keys["host"].paramiko(), accept_new=False)
    KnownHosts([one, two]).verify(NAME, keys["other"].paramiko(), accept_new=False)


def test_revoked_key_is_refused_even_when_listed_elsewhere(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    hosts = known(tmp_path, f"{NAME} {keys['host'].public}", f"@revoked * {keys['host'].public}")
    for accept_new in (False, True):
        with pytest.raises(HostKeyError, match="REVOKED"):
            hosts.verify(NAME, keys["host"].paramiko(), accept_new=accept_new)


def test_revoked_line_for_another_host_does_not_apply(tmp_path: Path, keys: dict[str, Key]) -> None:
    hosts = known(tmp_path, f"{NAME} {keys['host'].public}",
                  f"@revoked other.example {keys['host'].public}")
    hosts.verify(NAME, keys["host"].paramiko(), accept_new=False)


def test_cert_authority_vouches_for_a_valid_host_certificate(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    cert = sign(keys["ca"], keys["host"])
    hosts = known(tmp_path, f"@cert-authority [127.0.0.1]:* {keys['ca'].public}")
    hosts.verify(NAME, certified(cert), accept_new=False)
    assert "ssh-ed25519-cert-v01@openssh.com" in hosts.known_types(NAME)
    assert hosts.known_types("[127.0.0.2]:2222") == []


@pytest.mark.parametrize(
    ("signing", "problem"),
    [
        ({"principals": "other.example"}, "it is for 'other.example', not '127.0.0.1'"),
        ({"principals": ""}, "empty principal list"),
        ({"validity": "20000101:20000102"}, "it expired at 2000-01-02"),
        ({"validity": "+1d:+2d"}, "not valid before"),
        ({"host": False}, "user certificate"),
    ],
)
def test_invalid_certificate_of_a_trusted_ca_is_refused(
    tmp_path: Path, keys: dict[str, Key], signing: dict[str, object], problem: str
) -> None:
    cert = sign(keys["ca"], keys["host"], **signing)  # type: ignore[arg-type]
    hosts = known(tmp_path, f"@cert-authority * {keys['ca'].public}")
    with pytest.raises(HostKeyError, match="is not valid") as refused:
        hosts.verify(NAME, certified(cert), accept_new=True)
    assert problem in refused.value.message
    assert not hostkeys.pshctl_known_hosts().exists()  # nothing recorded


def test_forged_certificate_signature_is_refused(tmp_path: Path, keys: dict[str, Key]) -> None:
    import paramiko

    cert = sign(keys["ca2"], keys["host"])  # signed by another CA ...
    blob = bytearray(base64.b64decode(cert.read_text().split()[1]))
    parsed = certificates.parse(bytes(blob))
    # ... then made to name the trusted CA: the signature no longer verifies.
    forged = bytes(blob).replace(parsed.ca_blob, keys["ca"].blob)
    hosts = known(tmp_path, f"@cert-authority * {keys['ca'].public}")
    with pytest.raises(HostKeyError, match="signature does not verify"):
        hosts.verify(NAME, paramiko.Ed25519Key(data=forged), accept_new=False)


def test_revoked_ca_refuses_its_certificates(tmp_path: Path, keys: dict[str, Key]) -> None:
    cert = sign(keys["ca"], keys["host"])
    hosts = known(tmp_path, f"@cert-authority * {keys['ca'].public}",
                  f"@revoked * {keys['ca'].public}")
    with pytest.raises(HostKeyError, match=r"certificate authority .* is REVOKED"):
        hosts.verify(NAME, certified(cert), accept_new=False)


def test_certificate_of_an_untrusted_ca_falls_back_to_the_plain_key(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    cert = sign(keys["ca2"], keys["host"])
    hosts = known(tmp_path, f"@cert-authority * {keys['ca'].public}",
                  f"{NAME} {keys['host'].public}")
    hosts.verify(NAME, certified(cert), accept_new=False)
    stranger = known(tmp_path, f"@cert-authority * {keys['ca'].public}")
    with pytest.raises(HostKeyError, match="unknown host key") as refused:
        stranger.verify(NAME, certified(cert), accept_new=False)
    assert "certificate authority is trusted" in (refused.value.hint or "")


def test_accept_new_records_the_plain_key_of_a_certificate(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    cert = sign(keys["ca2"], keys["host"])
    known(tmp_path).verify(NAME, certified(cert), accept_new=True)
    assert hostkeys.pshctl_known_hosts().read_text() == f"{NAME} {keys['host'].public}\n"
    assert hostkeys.pshctl_known_hosts().stat().st_mode & 0o777 == 0o600


def test_truncated_or_padded_certificates_are_refused(keys: dict[str, Key]) -> None:
    blob = base64.b64decode(sign(keys["ca"], keys["host"]).read_text().split()[1])
    certificates.parse(blob)
    for broken in (blob[:-1], blob + b"\0", blob[:40]):
        with pytest.raises(ValueError):
            certificates.parse(broken)


# --- pshctl's own file ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["directory", "/dev/null/x", "unwritable"])
def test_own_file_in_an_unusable_place_is_a_config_error(
    tmp_path: Path, keys: dict[str, Key], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import os

    if where == "directory":
        path = tmp_path / "dir"
        path.mkdir()
    elif where == "unwritable":
        if os.geteuid() == 0:
            path = Path("/proc/version")  # root writes everywhere but into /proc
        else:
            locked = tmp_path / "locked"
            locked.mkdir(mode=0o500)
            path = locked / "known_hosts"
    else:
        path = Path(where)
    monkeypatch.setenv("PSHCTL_KNOWN_HOSTS", str(path))
    with pytest.raises(ConfigError) as failed:
        KnownHosts(hostkeys.known_hosts_files()).verify(
            NAME, keys["host"].paramiko(), accept_new=True
        )
    assert failed.value.exit_code == 3
    assert f"PSHCTL_KNOWN_HOSTS={path}" in failed.value.message
