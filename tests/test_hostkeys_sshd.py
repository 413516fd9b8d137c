"""known_hosts against a real OpenSSH sshd: host certificates, revoked keys, bad lines."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pshctl.errors import HostKeyError
from pshctl.sandbox.servers import SshServer, generate_key, login_name
from pshctl.ssh import connect
from pshctl.targets import Target
from tests.helpers import CliRunner
from tests.test_hostkeys import Key, keygen, sign
from tests.testbed import TestBed

pytestmark = pytest.mark.integration

GARBAGE = (
    b"garbage-without-fields\n"
    b"\xff\xfe\xfa not utf-8 at all\n"
    b"@cert-authority\n"
    b"@revoked * ssh-ed25519 !!!!\n"
    b"host ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
)

StartServer = Callable[..., tuple[SshServer, Target]]


@pytest.fixture
def certified_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start sshds whose host key carries a certificate made by ``sign(ca, key, **how)``."""
    client = generate_key(tmp_path / "client" / "id_ed25519")
    authorized = tmp_path / "authorized_keys"
    authorized.write_text(client.with_suffix(".pub").read_text())
    started: list[SshServer] = []

    def start(ca: Key, **how: object) -> tuple[SshServer, Target]:
        workdir = tmp_path / f"sshd{len(started)}"
        # SshServer keeps a host key it finds: make it first, to certify it.
        host = Key(generate_key(workdir / "ssh_host_ed25519_key"))
        cert = sign(ca, host, **how)  # type: ignore[arg-type]
        server = SshServer.start(workdir, authorized_keys=authorized,
                                 extra_config=f"HostCertificate {cert}\n")
        started.append(server)
        target = Target(name="app", worker=None, host=server.host, port=server.port,
                        user=login_name(), identity_file=str(client),
                        known_hosts=str(tmp_path / "known_hosts"))
        return server, target

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def test_host_certificate_is_trusted_through_cert_authority(
    tmp_path: Path, certified_server: StartServer, capfd: pytest.CaptureFixture[str]
) -> None:
    ca = keygen(tmp_path / "ca")
    _, target = certified_server(ca)
    (tmp_path / "known_hosts").write_bytes(
        GARBAGE + f"@cert-authority [127.0.0.1]:* {ca.public}\n".encode()
    )
    with connect(target) as session:  # the plain host key is listed nowhere
        assert session.run(["echo", "certified"]).stdout == "certified\n"
        assert session.transport.host_key_type == "ssh-ed25519-cert-v01@openssh.com"
    warnings = capfd.readouterr().err
    for line in range(1, 6):
        assert f"known_hosts:{line}: skipping a known_hosts line" in warnings
    assert "Traceback" not in warnings


@pytest.mark.parametrize(
    ("how", "problem"),
    [
        ({"validity": "20000101:20000102"}, "expired"),
        ({"principals": "somewhere.else"}, "not '127.0.0.1'"),
    ],
)
def test_invalid_host_certificate_is_refused(
    tmp_path: Path, certified_server: StartServer, how: dict[str, object], problem: str
) -> None:
    ca = keygen(tmp_path / "ca")
    _, target = certified_server(ca, **how)
    (tmp_path / "known_hosts").write_text(f"@cert-authority * {ca.public}\n")
    with pytest.raises(HostKeyError, match=problem):
        connect(target)


def test_revoked_certificate_authority_is_refused(
    tmp_path: Path, certified_server: StartServer
) -> None:
    ca = keygen(tmp_path / "ca")
    _, target = certified_server(ca)
    (tmp_path / "known_hosts").write_text(
        f"@cert-authority * {ca.public}\n@revoked * {ca.public}\n"
    )
    with pytest.raises(HostKeyError, match="REVOKED"):
        connect(target)


def test_revoked_key_is_refused_though_listed_and_bad_lines_do_not_break_others(
    testbed: TestBed, cli: CliRunner
) -> None:
    root = testbed.project(["queue"])
    listed = testbed.known_hosts.read_bytes()
    testbed.known_hosts.write_bytes(GARBAGE + listed)
    ok = cli("-e", "test", "ssh", "--worker", "queue", "--", "echo", "through", cwd=root)
    assert (ok.exit_code, ok.stdout) == (0, "through\n")
    assert "skipping a known_hosts line" in ok.stderr and "Traceback" not in ok.stderr

    host_key = " ".join(listed.decode().split()[1:3])
    user_file = Path.home() / ".ssh" / "known_hosts"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(f"@revoked * {host_key}\n")
    refused = cli("-e", "test", "ssh", "--worker", "queue", "--", "true", cwd=root)
    assert refused.exit_code == 255
    assert "REVOKED" in refused.stderr and "Traceback" not in refused.stderr
    status = cli("-e", "test", "status", "queue", cwd=root)
    assert status.exit_code == 4, status


def test_openssh_agrees_with_the_certificate_setup(
    tmp_path: Path, certified_server: StartServer
) -> None:
    """The same known_hosts makes OpenSSH's client connect: the test's CA setup is real."""
    ca = keygen(tmp_path / "ca")
    server, target = certified_server(ca)
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority [127.0.0.1]:* {ca.public}\n")
    done = subprocess.run(
        ["ssh", "-F", "none", "-p", str(server.port), "-i", str(target.identity_file),
         "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
         f"{target.user}@{server.host}", "echo", "openssh"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert (done.returncode, done.stdout) == (0, "openssh\n"), done.stderr
