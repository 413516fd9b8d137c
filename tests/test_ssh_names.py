"""Host names, users and ports are checked as OpenSSH 9.6+ checks them, at every chokepoint.

The regression: with ``Match exec "test %h = bastion"`` in ``~/.ssh/config``, a host of
``x$(touch FILE)`` from a checked-in ``.pshctl.yaml``, the platform's CLI or an API must
never reach paramiko's ``Match exec`` (which runs it in a shell).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pshctl.errors import ConfigError, ExitCode
from pshctl.ssh import connect, names
from pshctl.ssh.config import resolve
from pshctl.targets import Target, parse_ssh_url
from tests.helpers import CliResult, CliRunner

APP = "name: app\nworkers:\n  queue: {commands: {start: run-queue}}\n"


@pytest.mark.parametrize(
    "host",
    ["x$(touch /tmp/p)", "x`id`", "-oProxyCommand=./evil.sh", "a;b", "a|b", "a&b", "a>b",
     "a b", "a\tb", "a\nb", "a\x1b[2Jb", "a\u202eb", "a'b", 'a"b', "a\\b", "a{b}", "a(b)",
     "a,b", "u@h", "[::1]", "", "h" * 256],
)
def test_refused_host_names(host: str) -> None:
    assert names.host_problem(host) is not None


@pytest.mark.parametrize(
    "host", ["ssh.eu-3.platform.sh", "127.0.0.1", "::1", "fe80::1%eth0", "bastion", "a_b-c",
             "bücher.example", "h" * 255],
)
def test_accepted_host_names(host: str) -> None:
    assert names.host_problem(host) is None


@pytest.mark.parametrize(
    "user", ["-l", "a;b", "a b", "a`b`", "a$(b)", "a\\", "a\x00b", "a\x1bb", "", "u" * 256],
)
def test_refused_users(user: str) -> None:
    assert names.user_problem(user) is not None


@pytest.mark.parametrize(
    "user", ["abcdef123-main-bvxea6i--app--queue", "1.abc--app", "root", "machine$", "a@b"],
)
def test_accepted_users(user: str) -> None:
    assert names.user_problem(user) is None


@pytest.mark.parametrize("port", [0, 65536, -1, "²", "1e3", True, 22.0, "22 "])
def test_refused_ports(port: object) -> None:
    assert names.port_problem(port) is not None


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("abc--app@ssh.eu-3.platform.sh", ("abc--app", "ssh.eu-3.platform.sh", None)),
        ("ssh://u@[::1]:2222", ("u", "::1", 2222)),
        ("ssh://u@127.0.0.1:2222/", ("u", "127.0.0.1", 2222)),
        ("bare-host", (None, "bare-host", None)),
    ],
)
def test_ssh_urls_parse(url: str, parsed: tuple[object, ...]) -> None:
    assert parse_ssh_url(url) == parsed


@pytest.mark.parametrize(
    "url", ["u@x$(id)", "u@h:99999", "u@h:x", "@h", "-oProxyCommand=sh@h", "u@[::1", "u@",
            "a b@h", "u@h\x1b[2J"],
)
def test_hostile_ssh_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_ssh_url(url)
    assert "\x1b" not in str(refused.value)  # the URL is shown escaped


# --- the Match exec regression --------------------------------------------------------


@pytest.fixture
def match_exec(isolation: Path) -> Path:
    """A ``~/.ssh/config`` whose ``Match exec`` runs ``%h`` through a shell."""
    config = isolation / ".ssh" / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('Match exec "test %h = bastion"\n  User via-match\n')
    return config


def _hostile(marker: Path) -> str:
    return f"x$(touch {marker})"


def test_the_injection_is_real_without_the_check(
    match_exec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: paramiko's own lookup runs the host name in a shell."""
    import io

    import paramiko

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # invoke copies stdin to the command
    marker = tmp_path / "pwned"
    paramiko.SSHConfig.from_path(str(match_exec)).lookup(_hostile(marker))
    assert marker.exists()


def test_project_file_host_runs_nothing(cli: CliRunner, match_exec: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / ".platform.app.yaml").write_text(APP)
    config = {"environments": {"evil": {"host": _hostile(marker),
                                        "workers": {"queue": {}}}}}
    (tmp_path / ".pshctl.yaml").write_text(json.dumps(config, indent=2) + "\n")
    for argv in (["ssh", "--worker", "queue", "--", "true"], ["status", "queue"],
                 ["ssh", "--pipe", "--worker", "queue"]):
        result = cli("-e", "evil", *argv, cwd=tmp_path)
        _refused(result, ".pshctl.yaml:4: environment 'evil': host ")
    assert not marker.exists()


def test_target_from_an_api_is_checked_again_before_ssh_config(
    match_exec: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    for target in (
        Target(name="queue", worker="queue", host=_hostile(marker)),
        Target(name="queue", worker="queue", host="ok.example", user="-oProxyCommand=x"),
        Target(name="queue", worker="queue", host="ok.example", port=10**30),
    ):
        with pytest.raises(ConfigError, match="refused"):
            resolve(target)
        with pytest.raises(ConfigError):
            connect(target)
    assert not marker.exists()


def test_platform_cli_answer_is_checked(
    cli: CliRunner, match_exec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "platform"
    fake.write_text(f"#!/bin/sh\necho 'p-main--app@{_hostile(marker)}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / ".platform.app.yaml").write_text(APP)
    result = cli("-p", "p", "-e", "main", "ssh", "--worker", "queue", "--", "true", cwd=tmp_path)
    _refused(result, "SSH URL ")
    assert not marker.exists()


def test_bad_port_in_ssh_config_is_a_config_error(match_exec: Path) -> None:
    match_exec.write_text("Host box\n  Port twenty-two\n")
    with pytest.raises(ConfigError, match=r"Port in .*config"):
        resolve(Target(name="app", worker=None, host="box"))


def test_bad_proxy_jump_port_is_an_error_not_a_traceback(
    match_exec: Path, tmp_path: Path
) -> None:
    match_exec.write_text("Host inner\n  HostName 127.0.0.1\n  ProxyJump me@jump:notaport\n")
    with pytest.raises(ConfigError, match="port 'notaport' refused"):
        connect(Target(name="app", worker=None, host="inner"))


def _refused(result: CliResult, expected: str) -> None:
    assert result.exit_code == ExitCode.CONFIG, result
    assert expected in result.stderr, result
    assert "refused" in result.stderr and "Traceback" not in result.stderr


def test_match_exec_never_reads_our_stdin(
    match_exec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """paramiko's invoke would copy stdin (the data of `pshctl ssh -- CMD < data`)."""
    import io

    from pshctl.ssh.config import lookup

    seen = tmp_path / "seen"
    match_exec.write_text(f'Match exec "cat > {seen}"\n  User from-match\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("data meant for the remote command\n"))
    assert lookup("box")["user"] == "from-match"
    assert seen.read_text() == ""


def test_a_value_read_from_yaml_is_shown_bounded_even_an_alias_bomb() -> None:
    from pshctl.yamlutil import loads

    # 2**40 leaves once expanded: a plain repr would never end.
    bomb = "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{p: *a{i - 1}, q: *a{i - 1}}}\n"
                                        for i in range(1, 41))
    assert names.shown(loads(bomb, file="f")["a40"]) == (
        "{'p': {'p': {...}, 'q': {...}}, 'q': {'p': {...}, 'q': {...}}}")
    assert names.shown(loads("[[[[1, 2, 3, 4, 5, 6]]], [1, 2, 3, 4, 5, 6]]", file="f")) == (
        "[[[...]], [1, 2, 3, 4, ...]]")
