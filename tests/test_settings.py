"""Config files: format, validation with file:line, project file over user file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pshctl.errors import ConfigError
from pshctl.settings import SshTimeouts, load_settings, user_config_path

PROJECT = """
project: abcdef123
region: eu-3.platform.sh
ssh:
  connect_timeout: 3
environments:
  staging:
    host: 127.0.0.1
    port: 2222
    user: root
    identity_file: keys/id_ed25519
    service_dir: /etc/service
    workers:
      queue: {port: 2223, service_dir: /srv/queue/service, log_dir: /srv/queue/log}
      mail:
  main:
    ssh_url: abcdef123-main-bvxea6i--app@ssh.eu-3.platform.sh
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_user_config_is_under_xdg_config_home(isolation: Path) -> None:
    assert user_config_path() == isolation / ".config" / "pshctl" / "config.yaml"


def test_no_files_gives_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.project is None
    assert settings.ssh == SshTimeouts()
    assert settings.environments == {}
    assert settings.files == ()


def test_project_file(tmp_path: Path) -> None:
    write(tmp_path / ".pshctl.yaml", PROJECT)
    settings = load_settings(tmp_path)
    assert settings.project == "abcdef123"
    assert settings.region == "eu-3.platform.sh"
    assert settings.ssh.connect_timeout == 3
    assert settings.ssh.banner_timeout == 15
    staging = settings.environment("staging")
    assert staging is not None and staging.explicit
    assert staging.keys["identity_file"] == str(tmp_path / "keys" / "id_ed25519")
    assert staging.origin == ".pshctl.yaml:6"
    assert staging.for_worker("queue") == {
        **staging.keys,
        "port": 2223,
        "service_dir": "/srv/queue/service",
        "log_dir": "/srv/queue/log",
    }
    assert staging.for_worker("mail") == staging.keys  # an empty entry inherits everything
    assert staging.for_worker("other") is None
    main = settings.environment("main")
    assert main is not None and not main.explicit
    assert settings.environment("nope") is None


def test_project_file_wins_key_by_key_over_user_file(tmp_path: Path) -> None:
    write(user_config_path(), """
        project: from-user
        region: us-2.platform.sh
        ssh: {connect_timeout: 30, keepalive: 0}
        environments:
          staging:
            user: alice
            identity_file: ~/.ssh/alice
            workers:
              queue: {user: bob}
          personal:
            host: example.test
    """)
    write(tmp_path / ".pshctl.yaml", PROJECT)
    settings = load_settings(tmp_path)
    assert settings.files == (tmp_path / ".pshctl.yaml", user_config_path())
    assert settings.project == "abcdef123"
    assert settings.region == "eu-3.platform.sh"
    assert settings.ssh.connect_timeout == 3
    assert settings.ssh.keepalive == 0
    staging = settings.environments["staging"]
    assert staging.keys["user"] == "root"
    assert staging.keys["identity_file"] == str(tmp_path / "keys" / "id_ed25519")
    assert staging.workers["queue"] == {
        "user": "bob",
        "port": 2223,
        "service_dir": "/srv/queue/service",
        "log_dir": "/srv/queue/log",
    }
    assert set(settings.environments) == {"staging", "main", "personal"}


def test_user_file_alone_expands_home(tmp_path: Path, isolation: Path) -> None:
    write(user_config_path(), "environments:\n  box: {host: h, identity_file: ~/.ssh/k}\n")
    entry = load_settings(tmp_path).environments["box"]
    assert entry.keys["identity_file"] == str(isolation / ".ssh" / "k")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "environments:\n  s:\n    hots: x\n",
            ".pshctl.yaml:3: environment 's': unknown key 'hots'",
        ),
        ("environments:\n  s:\n    port: 70000\n", ".pshctl.yaml:3: environment 's': port must be"),
        ("environments:\n  s:\n    port: '22'\n", ".pshctl.yaml:3: environment 's': port must be"),
        ("ssh:\n  connect_timeout: 0\n", ".pshctl.yaml:2: ssh.connect_timeout must be"),
        ("ssh:\n  keepalive: 1.5\n", ".pshctl.yaml:2: ssh.keepalive must be a whole number"),
        ("ssh:\n  timeout: 3\n", ".pshctl.yaml:2: ssh: unknown key 'timeout'"),
        ("projet: x\n", ".pshctl.yaml:1: unknown key 'projet'"),
        ("environments: [a]\n", ".pshctl.yaml:1: 'environments' must be a mapping"),
        (
            "environments:\n  s:\n    workers:\n      q: {prot: 1}\n",
            ".pshctl.yaml:4: environment 's': worker 'q': unknown key 'prot'",
        ),
        ("environments:\n  s: {host: [\n", ".pshctl.yaml:3: invalid YAML"),
        ("- a\n", ".pshctl.yaml:1: must be a mapping"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path / ".pshctl.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value).startswith(expected)


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    write(tmp_path / ".pshctl.yaml", "environments:\n  s: {hots: x}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert info.value.hint == "did you mean 'host'?"


def test_user_file_errors_name_its_path(tmp_path: Path) -> None:
    write(user_config_path(), "region: [\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value).startswith(f"{user_config_path()}:")


def test_empty_file_is_fine(tmp_path: Path) -> None:
    write(tmp_path / ".pshctl.yaml", "# nothing yet\n")
    assert load_settings(tmp_path).environments == {}


def test_json_is_accepted(tmp_path: Path) -> None:
    write(tmp_path / ".pshctl.yaml", '{"environments": {"t": {"host": "h", "port": 22}}}')
    assert load_settings(tmp_path).environments["t"].keys == {"host": "h", "port": 22}
