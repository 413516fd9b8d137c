"""Config files: format, validation with file:line, project file over user file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pshctl.errors import ConfigError
from pshctl.settings import (
    EnvironmentEntry,
    SshTimeouts,
    entry_from_registration,
    load_settings,
    user_config_path,
)
from tests.helpers import CliRunner

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
        (
            "environments:\n  s:\n    workers:\n      q: {log_source: journald}\n",
            ".pshctl.yaml:4: environment 's': worker 'q': log_source must be one of auto, file,",
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


# --- untrusted values: names, numbers, odd files -----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssh:\n  connect_timeout: .inf\n", ".pshctl.yaml:2: ssh.connect_timeout must be a finite"),
        ("ssh:\n  connect_timeout: .nan\n", ".pshctl.yaml:2: ssh.connect_timeout must be a finite"),
        ("ssh:\n  banner_timeout: 1.0e+400\n", ".pshctl.yaml:2: ssh.banner_timeout must be a fin"),
        ('{"ssh": {"auth_timeout": 1e400}}', ".pshctl.yaml:1: ssh.auth_timeout must be a finite"),
        ("ssh:\n  auth_timeout: -5\n", ".pshctl.yaml:2: ssh.auth_timeout must be more than 0"),
        ("ssh:\n  connect_timeout: 1000000\n", ".pshctl.yaml:2: ssh.connect_timeout must be more"),
        ("ssh:\n  keepalive: 1000000000000000000000000000000\n",
         ".pshctl.yaml:2: ssh.keepalive must be from 0 to 3600"),
        ("ssh:\n  keepalive_count: 0\n", ".pshctl.yaml:2: ssh.keepalive_count must be from 1"),
        ("ssh:\n  connect_timeout: '3'\n", ".pshctl.yaml:2: ssh.connect_timeout must be a number"),
        ("ssh:\n  keepalive: true\n", ".pshctl.yaml:2: ssh.keepalive must be a whole number"),
        ("environments:\n  s:\n    host: 'x$(touch /tmp/p)'\n",
         ".pshctl.yaml:3: environment 's': host 'x$(touch /tmp/p)' refused: "),
        ("environments:\n  s:\n    host: -oProxyCommand=sh\n",
         ".pshctl.yaml:3: environment 's': host '-oProxyCommand=sh' refused: a host name cannot"),
        ("environments:\n  s:\n    user: 'a;b'\n", ".pshctl.yaml:3: environment 's': user 'a;b' "),
        ("environments:\n  s:\n    ssh_url: 'u@x`id`'\n",
         ".pshctl.yaml:3: environment 's': ssh_url refused: SSH URL 'u@x`id`': host"),
        ("environments:\n  s:\n    workers:\n      q: {host: \"a\\x1b[2Jb\"}\n",
         ".pshctl.yaml:4: environment 's': worker 'q': host 'a\\x1b[2Jb' refused"),
        ("region: 'eu-3;id'\n", ".pshctl.yaml:1: 'region' 'eu-3;id' refused"),
        ("project: '-x'\n", ".pshctl.yaml:1: 'project' '-x' refused"),
        ("environments:\n  s: {machine_name: 'main@evil'}\n",
         ".pshctl.yaml:2: environment 's': machine_name 'main@evil' refused"),
        ("environments: {s: {host: [[[[1, 2, 3, 4, 5, 6]]]]}}\n",
         ".pshctl.yaml:1: environment 's': host [[[...]]] refused: a host name must be text"),
    ],
)
def test_untrusted_values_are_config_errors_with_file_and_line(
    cli: CliRunner, tmp_path: Path, text: str, expected: str
) -> None:
    write(tmp_path / ".pshctl.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value).startswith(expected), str(info.value)
    assert "\x1b" not in str(info.value)
    (tmp_path / ".platform.app.yaml").write_text("name: app\n")
    result = cli("-e", "s", "status", cwd=tmp_path)
    assert result.exit_code == 3 and expected in result.stderr, result


def test_json_numbers_are_read_as_json_means_them(tmp_path: Path) -> None:
    write(tmp_path / ".pshctl.yaml",
          '{\n\t"ssh": {"connect_timeout": 1e1, "banner_timeout": 2.5E+1},\n'
          '\t"environments": {"t": {"host": "h", "port": 2222}}\n}\n')
    settings = load_settings(tmp_path)
    assert settings.ssh.connect_timeout == 10.0 and settings.ssh.banner_timeout == 25.0
    assert settings.environments["t"].origin == ".pshctl.yaml:3"
    write(tmp_path / ".pshctl.yaml", '{"environments": {"t": {"port": 1e1}}}')
    with pytest.raises(ConfigError, match=r"^\.pshctl\.yaml:1: environment 't': port must"):
        load_settings(tmp_path)


def test_yaml_keeps_yaml_1_1_numbers(tmp_path: Path) -> None:
    """In YAML (not JSON) `1e1` stays the string YAML 1.1 makes of it, e.g. a project id."""
    write(tmp_path / ".pshctl.yaml", "project: 1234567e12345\n")
    assert load_settings(tmp_path).project == "1234567e12345"


@pytest.mark.parametrize("kind", ["directory", "fifo", "huge", "binary"])
def test_a_config_file_that_is_not_one_is_an_error(tmp_path: Path, kind: str) -> None:
    import os

    path = tmp_path / ".pshctl.yaml"
    expected = {"directory": "is not a regular file", "fifo": "is not a regular file",
                "huge": "larger than 1024 KiB", "binary": ":2: not UTF-8"}[kind]
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "huge":
        path.write_text("# padding\n" * 200_000)
    else:
        path.write_bytes(b"project: abc\nregion: \xff\n")
    with pytest.raises(ConfigError, match=expected):
        load_settings(tmp_path)


# --- every refusal, word for word ------------------------------------------------------

EXACT_ERRORS = [
    ('environments:\n  s:\n    port: 70000\n',
     ".pshctl.yaml:3: environment 's': port must be a port number (1-65535), not 70000",
     None),
    ("environments:\n  s:\n    port: '22'\n",
     ".pshctl.yaml:3: environment 's': port must be a port number (1-65535), not '22'",
     None),
    ('ssh:\n  connect_timeout: 0\n',
     '.pshctl.yaml:2: ssh.connect_timeout must be more than 0 and at most 3600, not 0',
     None),
    ('ssh:\n  keepalive: 1.5\n',
     '.pshctl.yaml:2: ssh.keepalive must be a whole number, not 1.5',
     None),
    ('ssh:\n  timeout: 3\n',
     ".pshctl.yaml:2: ssh: unknown key 'timeout'",
     "did you mean 'auth_timeout'?"),
    ('ssh: 3\n',
     ".pshctl.yaml:1: 'ssh' must be a mapping",
     None),
    ('projet: x\n',
     ".pshctl.yaml:1: unknown key 'projet'",
     "did you mean 'project'?"),
    ('zzzz: x\n',
     ".pshctl.yaml:1: unknown key 'zzzz'",
     'known keys: project, region, product, default_environment, api_url, auth_url, ssh, '
     'environments'),
    ('environments: [a]\n',
     ".pshctl.yaml:1: 'environments' must be a mapping",
     None),
    ('environments:\n  s: [a]\n',
     ".pshctl.yaml:2: environment 's': must be a mapping",
     None),
    ('environments:\n  1: {host: h}\n',
     '.pshctl.yaml:2: environment names must be strings',
     None),
    ('environments:\n  s:\n    workers:\n      q: {prot: 1}\n',
     ".pshctl.yaml:4: environment 's': worker 'q': unknown key 'prot'",
     "did you mean 'port'?"),
    ('environments:\n  s:\n    workers: [q]\n',
     ".pshctl.yaml:3: environment 's': 'workers' must be a mapping",
     None),
    ('environments:\n  s:\n    workers:\n      q: [1]\n',
     ".pshctl.yaml:4: environment 's': worker 'q': must be a mapping",
     None),
    ('environments:\n  s:\n    workers:\n      q: {workers: {}}\n',
     ".pshctl.yaml:4: environment 's': worker 'q': unknown key 'workers'",
     'known keys: host, port, user, identity_file, known_hosts, service_dir, service_name, '
     'supervisor, log_dir, log_source, ssh_url, machine_name, region, instances'),
    ('environments:\n  s: {host: [\n',
     ".pshctl.yaml:3: invalid YAML: expected the node content, but found '<stream end>' (while "
     'parsing a flow node)',
     None),
    ('- a\n',
     '.pshctl.yaml:1: must be a mapping',
     None),
    ('product: fixed\n',
     ".pshctl.yaml:1: 'product' must be one of upsun, platformsh, not 'fixed'",
     None),
    ("default_environment: 'a b'\n",
     ".pshctl.yaml:1: 'default_environment' must be an environment name (a git branch's, one "
     "word), not 'a b'",
     None),
    ('default_environment: 7\n',
     ".pshctl.yaml:1: 'default_environment' must be an environment name (a git branch's, one "
     'word), not 7',
     None),
    ("environments:\n  s: {identity_file: ''}\n",
     ".pshctl.yaml:2: environment 's': identity_file must be a path to a private key, not ''",
     None),
    ('environments:\n  s: {supervisor: upstart}\n',
     ".pshctl.yaml:2: environment 's': supervisor must be one of auto, runit, systemd, not "
     "'upstart'",
     None),
    ('environments:\n  s: {service_name: 3}\n',
     ".pshctl.yaml:2: environment 's': service_name must be a service name (runit service, "
     'systemd user unit), not 3',
     None),
    ('environments:\n  s: {machine_name: 5}\n',
     ".pshctl.yaml:2: environment 's': machine_name must be a string, not 5",
     None),
    ("region: ''\n",
     ".pshctl.yaml:1: 'region' must be a string, not ''",
     None),
    ('ssh:\n  keepalive_count: 101\n',
     '.pshctl.yaml:2: ssh.keepalive_count must be from 1 to 100, not 101',
     None),
    ('ssh:\n  connect_timeout: 3601\n',
     '.pshctl.yaml:2: ssh.connect_timeout must be more than 0 and at most 3600, not 3601',
     None),
    ('{"ssh": {"x": 1}}',
     ".pshctl.yaml:1: ssh: unknown key 'x'",
     'known keys: connect_timeout, banner_timeout, auth_timeout, keepalive, keepalive_count'),
    ('[1, 2',
     ".pshctl.yaml:1: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing "
     'a flow sequence)',
     None),
    ('a: [1\n',
     ".pshctl.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing "
     'a flow sequence that starts on line 1)',
     None),
    ('? [a]\n: 1\n',
     '.pshctl.yaml:1: invalid YAML: a key must be a plain value, not a list or a mapping',
     None),
]


@pytest.mark.parametrize(("text", "message", "hint"), EXACT_ERRORS)
def test_refusals_word_for_word(tmp_path: Path, text: str, message: str,
                                hint: str | None) -> None:
    (tmp_path / ".pshctl.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert (str(info.value), info.value.hint) == (message, hint)
    assert (info.value.file, info.value.line) == (".pshctl.yaml", int(message.split(":")[1]))


def test_settings_read_whole(tmp_path: Path, isolation: Path) -> None:
    write(tmp_path / ".pshctl.yaml", PROJECT)
    write(user_config_path(), """
        region: us-2.platform.sh
        product: platformsh
        default_environment: staging
        ssh: {banner_timeout: 4, keepalive: 0}
        environments:
          staging:
            known_hosts: ~/kh
            workers:
              mail: {user: mailer}
          mine: {host: h.example}
    """)
    settings = load_settings(tmp_path)
    assert (settings.project, settings.region, settings.product) == (
        "abcdef123", "eu-3.platform.sh", "platformsh")
    assert (settings.default_environment, settings.default_environment_file) == (
        "staging", str(user_config_path()))
    assert settings.ssh == SshTimeouts(connect_timeout=3, banner_timeout=4, keepalive=0)
    assert settings.files == (tmp_path / ".pshctl.yaml", user_config_path())
    staging = settings.environments["staging"]
    assert staging == EnvironmentEntry(
        name="staging",
        keys={"host": "127.0.0.1", "port": 2222, "user": "root",
              "identity_file": str(tmp_path / "keys/id_ed25519"),
              "known_hosts": str(Path("~/kh").expanduser()),
              "service_dir": "/etc/service"},
        workers={"queue": {"port": 2223, "service_dir": "/srv/queue/service",
                           "log_dir": "/srv/queue/log"},
                 "mail": {"user": "mailer"}},
        origin=".pshctl.yaml:6")
    assert settings.environments["mine"] == EnvironmentEntry(
        name="mine", keys={"host": "h.example"}, origin=f"{user_config_path()}:10")
    assert settings.environment("nope") is None
    assert settings.environment("mine") is settings.environments["mine"]


def test_worker_keys_over_the_environments() -> None:
    entry = EnvironmentEntry("e", keys={"host": "h", "port": 1},
                             workers={"q": {"port": 2}, "m": {}})
    assert entry.for_worker("q") == {"host": "h", "port": 2}
    assert entry.for_worker("m") == {"host": "h", "port": 1}
    assert entry.for_worker("x") is None
    assert entry.explicit
    assert EnvironmentEntry("e", workers={"q": {"host": "h"}}).explicit
    assert not EnvironmentEntry("e", keys={"ssh_url": "u@h"}, workers={"q": {}}).explicit


def test_a_registration_is_read_like_an_entry_with_extra_keys_ignored() -> None:
    entry = entry_from_registration("sandbox", {"host": "127.0.0.1", "port": 2201,
                                                "pid": 7, "workers": {"q": {"port": 2202}}},
                                    file="/s/environment.json")
    assert entry == EnvironmentEntry("sandbox", keys={"host": "127.0.0.1", "port": 2201},
                                     workers={"q": {"port": 2202}}, origin="/s/environment.json")
    with pytest.raises(ConfigError) as info:
        entry_from_registration("sandbox", {"port": 0}, file="/s/environment.json")
    assert str(info.value) == "/s/environment.json: port must be a port number (1-65535), not 0"


def test_json_keeps_yaml_lines_only_where_the_shapes_agree(tmp_path: Path) -> None:
    write(tmp_path / ".pshctl.yaml",
          '{"environments": {\n "a": {"host": "h"},\n "b": {"host": "h",\n  "port": 0}}}')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (".pshctl.yaml:4: environment 'b': port must be a port "
                               "number (1-65535), not 0")
    write(tmp_path / ".pshctl.yaml", '{"environments": {"a": {"host": "h"}}}\n')
    assert load_settings(tmp_path).environments["a"].origin == ".pshctl.yaml:1"
    write(tmp_path / ".pshctl.yaml", '[\n{"a": 1}\n]')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml:1: must be a mapping"
    write(tmp_path / ".pshctl.yaml", '{"ssh": {"keepalive": NaN}}')
    with pytest.raises(ConfigError) as info:  # not JSON: YAML reads it, and refuses it
        load_settings(tmp_path)
    assert "ssh.keepalive must be a whole number" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("environments:\n  s: {service_dir: \"/a\\0b\"}\n",
         ".pshctl.yaml:2: environment 's': service_dir must be a directory path, not '/a\\x00b'"),
        ("default_environment: ''\n", ".pshctl.yaml:1: 'default_environment' must be an "
         "environment name (a git branch's, one word), not ''"),
        (f"default_environment: {'b' * 256}\n", ".pshctl.yaml:1: 'default_environment' must be "
         f"an environment name (a git branch's, one word), not '{'b' * 27}...{'b' * 28}'"),
        ("environments:\n  s: {machine_name: 'a@b'}\n", ".pshctl.yaml:2: environment 's': "
         "machine_name 'a@b' refused: it is part of the SSH user: '@' is not allowed"),
        # JSON keeps its lines: indented with tabs
        ('\t{\n\t"environments": {\n\t\t"t": {"host": "h",\n\t\t\t"port": 0}}}\n',
         ".pshctl.yaml:4: environment 't': port must be a port number (1-65535), not 0"),
        # JSON, an instance of a list
        ('{"environments": {"s": {"instances": [\n{"host": "h"},\n{"host": "h", "port": 0}]}}}',
         ".pshctl.yaml:3: environment 's': instance 1: port must be a port number (1-65535), "
         "not 0"),
    ],
)
def test_more_refusals_word_for_word(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".pshctl.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == message


@pytest.mark.parametrize("name", ["m", "b" * 255])
def test_environment_names_at_the_bounds(tmp_path: Path, name: str) -> None:
    (tmp_path / ".pshctl.yaml").write_text(f"default_environment: {name}\n")
    assert load_settings(tmp_path).default_environment == name


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    from pshctl.settings import MAX_FILE_BYTES

    path = tmp_path / ".pshctl.yaml"
    path.write_bytes(b"project: abc\n" + b"#" * (MAX_FILE_BYTES - 14) + b"\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_settings(tmp_path).project == "abc"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml: larger than 1024 KiB: not a config file"


def test_odd_files_are_named_in_the_error(tmp_path: Path) -> None:
    import os

    path = tmp_path / ".pshctl.yaml"
    path.mkdir()
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert (str(info.value), info.value.file) == (".pshctl.yaml: is not a regular file",
                                                 ".pshctl.yaml")
    path.rmdir()
    os.mkfifo(path)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml: is not a regular file"
    path.unlink()
    path.write_bytes(b"a: 1\n\n\xc3\x28\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml:3: not UTF-8 text (invalid continuation byte)"
    path.write_bytes(b"\xff")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml:1: not UTF-8 text (invalid start byte)"
    path.unlink()
    path.symlink_to(tmp_path / "loop")
    (tmp_path / "loop").symlink_to(path)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml: cannot read: Too many levels of symbolic links"


# --- JSON or YAML ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("[" * 5000 + "]" * 5000, ".pshctl.yaml: invalid JSON: nested too deeply", None),
        ("\n" + "{\"a\": " * 5000 + "1" + "}" * 5000,
         ".pshctl.yaml: invalid JSON: nested too deeply", None),
        ("environments: " + "[" * 5000 + "]" * 5000 + "\n",
         ".pshctl.yaml:1: nested more than 64 levels deep", 1),
        ("project: abc\nregion: !!map [[1, 2]]\n",
         ".pshctl.yaml:2: invalid YAML: not a valid !!map: a list", 2),
    ],
)
def test_unreadable_documents_name_the_file(tmp_path: Path, text: str, message: str,
                                            line: int | None) -> None:
    (tmp_path / ".pshctl.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert (str(info.value), info.value.file, info.value.line) == (message, ".pshctl.yaml", line)


def test_json_after_blank_lines_is_still_json(tmp_path: Path) -> None:
    (tmp_path / ".pshctl.yaml").write_text('\n  {"ssh": {"connect_timeout": 1e1}}\n')
    assert load_settings(tmp_path).ssh.connect_timeout == 10.0


def test_json_escapes_yaml_reads_otherwise_are_json_s(tmp_path: Path) -> None:
    """YAML reads `\\ud83d\\ude80` as two halves of a character, JSON as one: the names
    are JSON's, the lines kept only where both agree."""
    (tmp_path / ".pshctl.yaml").write_text(
        '{"environments": {"\\ud83d\\ude80": {"host": "h"}, "b": {"host": "h"}}}')
    environments = load_settings(tmp_path).environments
    assert (environments["\U0001f680"].keys, environments["b"].keys) == ({"host": "h"},
                                                                          {"host": "h"})


# --- reading a file ----------------------------------------------------------------------


def test_a_bad_byte_on_a_later_line_is_reported_there(tmp_path: Path) -> None:
    (tmp_path / ".pshctl.yaml").write_bytes(b"\n\xff")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == ".pshctl.yaml:2: not UTF-8 text (invalid start byte)"


@pytest.fixture
def swapped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The project file, which the check before opening it takes for a regular file:
    what a file swapped for something else just after that check looks like."""
    import stat

    from pshctl import files

    path = tmp_path / ".pshctl.yaml"
    real = files.existing_mode
    monkeypatch.setattr(files, "existing_mode",
                        lambda p: stat.S_IFREG | 0o644 if Path(p) == path else real(p))
    return path


@pytest.mark.timeout(30)
def test_a_fifo_swapped_in_is_read_without_waiting_for_a_writer(swapped: Path) -> None:
    import os

    os.mkfifo(swapped)
    assert load_settings(swapped.parent).environments == {}  # nothing to read: empty


@pytest.mark.parametrize(("kind", "reason"), [("directory", "Is a directory"),
                                              ("gone", "No such file or directory")])
def test_a_file_swapped_or_removed_after_its_check_is_named(swapped: Path, kind: str,
                                                            reason: str) -> None:
    if kind == "directory":
        swapped.mkdir()
    with pytest.raises(ConfigError) as info:
        load_settings(swapped.parent)
    assert (str(info.value), info.value.file) == (f".pshctl.yaml: cannot read: {reason}",
                                                  ".pshctl.yaml")


def test_a_huge_file_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    import tracemalloc

    with (tmp_path / ".pshctl.yaml").open("wb") as handle:
        handle.truncate(256 << 20)  # sparse: 256 MiB of nothing on disk
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="larger than 1024 KiB"):
            load_settings(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_a_registration_keeps_a_relative_key_path_as_written() -> None:
    entry = entry_from_registration("sandbox", {"host": "h", "identity_file": "keys/id",
                                                "known_hosts": "/abs/kh"}, file="/s/e.json")
    assert (entry.keys["identity_file"], entry.keys["known_hosts"]) == ("keys/id", "/abs/kh")


# --- the top-level keys ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("region: 'eu-3;id'", "'region' 'eu-3;id' refused: a host name cannot contain ';'"),
        ("project: '-x'", "'project' '-x' refused: it is part of the SSH user: a user name "
         "cannot start with '-'"),
        ("api_url: ftp://x", "'api_url' refused: the URL must be an https:// URL, not 'ftp://x'"),
        ("auth_url: http://example.com", "'auth_url' refused: the URL 'http://example.com' is "
         "plain http to another machine: the API token would travel unencrypted"),
        ("product: fixed", "'product' must be one of upsun, platformsh, not 'fixed'"),
        ("default_environment: 'a b'", "'default_environment' must be an environment name (a "
         "git branch's, one word), not 'a b'"),
        ("ssh: 3", "'ssh' must be a mapping"),
        ("environments: [a]", "'environments' must be a mapping"),
    ],
)
def test_a_refused_top_level_key_is_reported_at_its_line(tmp_path: Path, second_line: str,
                                                         message: str) -> None:
    first = "region: eu-3.platform.sh" if second_line.startswith("project") else "project: abc"
    (tmp_path / ".pshctl.yaml").write_text(f"{first}\n{second_line}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert (str(info.value), info.value.line) == (f".pshctl.yaml:2: {message}", 2)


def test_the_api_urls_are_read(tmp_path: Path) -> None:
    (tmp_path / ".pshctl.yaml").write_text(
        "api_url: https://api.example.test\nauth_url: http://127.0.0.1:8000\n")
    settings = load_settings(tmp_path)
    assert (settings.api_url, settings.auth_url) == ("https://api.example.test",
                                                     "http://127.0.0.1:8000")
