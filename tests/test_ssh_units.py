"""Pure logic of the SSH layer: no server needed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pshctl.settings import Settings, SshTimeouts
from pshctl.ssh import SshOptions, options_for
from pshctl.ssh.config import destination, resolve
from pshctl.ssh.hostkeys import host_key_name, pshctl_known_hosts
from pshctl.ssh.session import _hop_target, command_line
from pshctl.targets import Target


def _target(**kw: object) -> Target:
    return Target(name="queue", worker="queue", **{"host": "example.test", **kw})  # type: ignore[arg-type]


def test_argv_is_quoted_and_strings_are_taken_as_written() -> None:
    assert command_line(["echo", "a b", "it's", "x;y"]) == "echo 'a b' 'it'\"'\"'s' 'x;y'"
    assert command_line("sv status app") == "sv status app"


def test_settings_section_overrides_timeouts() -> None:
    assert SshOptions().with_settings(None) == SshOptions()
    quick = Settings(ssh=SshTimeouts(connect_timeout=3))
    assert SshOptions().with_settings(quick).connect_timeout == 3
    assert SshOptions().with_settings(quick).banner_timeout == 15
    assert SshOptions().with_settings(Settings(ssh=SshTimeouts(keepalive=0))).keepalive == 0
    assert SshOptions().with_settings(Settings()) == SshOptions()
    assert options_for(Settings(ssh=SshTimeouts(auth_timeout=2)), accept_new=True) == SshOptions(
        auth_timeout=2, accept_new=True
    )


def test_host_key_names_follow_openssh() -> None:
    assert host_key_name("h", 22) == "h"
    assert host_key_name("h", 2222) == "[h]:2222"


def test_own_known_hosts_lives_in_the_user_data_dir() -> None:
    assert pshctl_known_hosts() == Path.home() / ".local/share/pshctl/known_hosts"


@pytest.mark.parametrize(
    ("spec", "user", "host", "port"),
    [
        ("bastion", None, "bastion", None),
        ("me@bastion:2200", "me", "bastion", 2200),
        ("me@[::1]:2200", "me", "::1", 2200),
    ],
)
def test_proxy_jump_hops_parse(spec: str, user: str | None, host: str, port: int | None) -> None:
    hop = _hop_target(spec)
    assert (hop.user, hop.host, hop.port) == (user, host, port)


def test_destination_as_the_platform_cli_prints_it() -> None:
    assert destination(_target(user="abc-main--app")) == "abc-main--app@example.test"
    # An instance is reached at its own destination: nothing is guessed from its number.
    assert destination(_target(user="abc", instance=1, instances=3)) == "abc@example.test"
    assert destination(_target()) == "example.test"


def test_destination_off_port_22_carries_the_port() -> None:
    assert destination(_target(user="root", port=2222)) == "ssh://root@example.test:2222"
    assert destination(_target(user="root", port=22)) == "root@example.test"
    assert destination(_target(host="::1", port=2222)) == "ssh://[::1]:2222"


def test_target_fields_override_ssh_config(tmp_path: Path) -> None:
    key = tmp_path / "id_target"
    key.write_text("not read here")
    config = Path.home() / ".ssh" / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "Host example.test\n  HostName 10.0.0.9\n  User cfguser\n  Port 2022\n"
        "  IdentitiesOnly yes\n  ProxyJump hop1,hop2\n"
    )
    from_config = resolve(_target())
    assert (from_config.hostname, from_config.user, from_config.port) == (
        "10.0.0.9",
        "cfguser",
        2022,
    )
    assert from_config.identities_only and from_config.proxy_jump == "hop1,hop2"
    assert from_config.key_name == "[10.0.0.9]:2022"
    explicit = resolve(_target(user="me", port=2200, identity_file=str(key)))
    assert (explicit.user, explicit.port) == ("me", 2200)
    assert explicit.identities[0].path == key


def test_platformsh_certificate_is_offered(tmp_path: Path) -> None:
    session = Path.home() / ".platformsh" / ".session" / "sess-cli-default" / "ssh"
    session.mkdir(parents=True)
    (session / "id_ed25519").write_text("key")
    (session / "id_ed25519-cert.pub").write_text("cert")
    identities = resolve(_target()).identities
    assert identities[0].path == session / "id_ed25519"
    assert identities[0].certificate == session / "id_ed25519-cert.pub"


def test_paramiko_logging_never_reaches_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pshctl.ssh import trail

    monkeypatch.setattr(trail, "_configured_level", None)
    trail.configure(0)
    logging.getLogger("paramiko.transport").error("Socket exception: Traceback (boom)")
    assert capsys.readouterr().err == ""
    trail.configure(1)
    logging.getLogger("paramiko.transport").info("Connected (version 2.0)")
    logging.getLogger("paramiko.transport").debug("kex details")  # -vv only
    assert capsys.readouterr().err == "debug: paramiko: Connected (version 2.0)\n"
    trail.configure(0)


def test_missing_keyring_backend_is_said_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends.fail import Keyring as NoBackend

    from pshctl.ssh import secrets, trail

    monkeypatch.setattr(trail, "_configured_level", None)
    trail.configure(0)
    monkeypatch.setattr(secrets, "_no_backend_noted", False)
    previous = keyring.get_keyring()
    keyring.set_keyring(NoBackend())
    try:
        assert secrets.get_stored("/k") is None
        assert secrets.get_stored("/k") is None
    finally:
        keyring.set_keyring(previous)
    err = capsys.readouterr().err
    assert err.count("no OS keyring backend") == 1
