"""Config files' checks: each refusal names the file:line, the key and what is wanted."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pshctl import settings
from pshctl.context import Selection, resolve_context
from pshctl.errors import ConfigError
from pshctl.settings import load_settings
from pshctl.targets import resolve_targets


def write(root: Path, text: str) -> Path:
    (root / ".pshctl.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def refusal(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(root)
    return caught.value


# --- the checks the keys are built from ----------------------------------------------------
# ENDPOINT_KEYS is built from these when the module is imported; called here, a change
# to them is seen.


def test_a_choice_of_words_says_what_it_must_be_and_shows_the_value() -> None:
    supervisor = settings._problem(settings._one_of("auto", "runit", "systemd"),
                                   "one of auto, runit, systemd")
    assert [supervisor(word) for word in ("auto", "runit", "systemd")] == [None, None, None]
    assert supervisor("cron") == "must be one of auto, runit, systemd, not 'cron'"
    assert supervisor(["runit"]) == "must be one of auto, runit, systemd, not ['runit']"
    assert supervisor(None) == "must be one of auto, runit, systemd, not None"


def test_a_default_environment_cannot_look_like_an_option(tmp_path: Path) -> None:
    write(tmp_path, "default_environment: '-main'\n")
    assert str(refusal(tmp_path)) == (
        ".pshctl.yaml:1: 'default_environment' must be an environment name (a git branch's, "
        "one word), not '-main'")
    write(tmp_path, "default_environment: main-2\n")
    assert load_settings(tmp_path).default_environment == "main-2"


# --- api_url, auth_url ------------------------------------------------------------------


def test_api_and_auth_urls_are_read(tmp_path: Path) -> None:
    write(tmp_path, """
        api_url: https://api.example.com/
        auth_url: http://127.0.0.1:8080/auth
        """)
    loaded = load_settings(tmp_path)
    assert (loaded.api_url, loaded.auth_url) == ("https://api.example.com/",
                                                 "http://127.0.0.1:8080/auth")


@pytest.mark.parametrize(("text", "message"), [
    ("project: abc\napi_url: 443\n", ".pshctl.yaml:2: 'api_url' must be a URL, not 443"),
    ("auth_url: ' '\n", ".pshctl.yaml:1: 'auth_url' must be a URL, not ' '"),
    ("api_url: ftp://api.example.com\n",
     ".pshctl.yaml:1: 'api_url' refused: the URL must be an https:// URL, "
     "not 'ftp://api.example.com'"),
    ("auth_url: http://auth.example.com\n",
     ".pshctl.yaml:1: 'auth_url' refused: the URL 'http://auth.example.com' is plain http to "
     "another machine: the API token would travel unencrypted"),
])
def test_a_bad_url_is_refused_with_why(tmp_path: Path, text: str, message: str) -> None:
    assert str(refusal(write(tmp_path, text))) == message


# --- instances ----------------------------------------------------------------------------

WANTED = ("instances must be a number of instances (1-64) or a list of per-instance entries "
          "(host, port, ...)")


def environment(root: Path, name: str = "s") -> settings.EnvironmentEntry:
    entry = load_settings(root).environment(name)
    assert entry is not None
    return entry


@pytest.mark.parametrize("count", [1, 64])
def test_a_count_of_instances_from_1_to_64(tmp_path: Path, count: int) -> None:
    write(tmp_path, f"""
        environments:
          s:
            host: h
            workers:
              queue: {{instances: {count}}}
        """)
    assert environment(tmp_path).workers["queue"]["instances"] == count


@pytest.mark.parametrize(("value", "shown"), [("0", "0"), ("65", "65"), ("[]", "[]"),
                                              ("yes", "True"), ("'3'", "'3'")])
def test_a_count_out_of_range_is_refused_at_its_line(tmp_path: Path, value: str,
                                                     shown: str) -> None:
    write(tmp_path, f"""
        environments:
          s:
            host: h
            instances: {value}
        """)
    assert str(refusal(tmp_path)) == (
        f".pshctl.yaml:4: environment 's': {WANTED}, not {shown}")


def listing(root: Path, count: int) -> Path:
    entries = ", ".join(f"{{port: {2200 + n}}}" for n in range(count))
    return write(root, f"""
        environments:
          s:
            host: h
            instances: [{entries}]
        """)


def test_a_list_of_up_to_64_instances_is_read(tmp_path: Path) -> None:
    listed = environment(listing(tmp_path, 64)).keys["instances"]
    assert isinstance(listed, list)
    assert [i["port"] for i in listed] == list(range(2200, 2264))


def test_a_list_of_65_instances_is_refused(tmp_path: Path) -> None:
    message = str(refusal(listing(tmp_path, 65)))
    assert message.startswith(f".pshctl.yaml:4: environment 's': {WANTED}, not [{{'port': 2200}}")


def test_an_empty_instance_entry_takes_the_containers_keys(tmp_path: Path) -> None:
    write(tmp_path, """
        environments:
          s:
            host: h
            workers:
              queue:
                instances:
                  -
                  - {port: 2223}
        """)
    assert environment(tmp_path).workers["queue"]["instances"] == [{}, {"port": 2223}]


def test_an_instance_that_is_not_a_mapping_is_refused_at_the_list(tmp_path: Path) -> None:
    write(tmp_path, """
        environments:
          s:
            host: h
            workers:
              queue:
                port: 2222
                instances: [{port: 2223}, h2]
        """)
    assert str(refusal(tmp_path)) == (
        ".pshctl.yaml:7: environment 's': worker 'queue': instance 1: must be a mapping of "
        "keys such as host and port")


def test_an_instances_key_file_is_taken_from_the_config_files_directory(tmp_path: Path) -> None:
    write(tmp_path, """
        environments:
          s:
            host: h
            instances:
              - {identity_file: keys/zero}
              - {identity_file: /etc/keys/one}
        """)
    listed = environment(tmp_path).keys["instances"]
    assert listed == [{"identity_file": str(tmp_path / "keys" / "zero")},
                      {"identity_file": "/etc/keys/one"}]


def test_an_instance_has_no_workers(tmp_path: Path) -> None:
    write(tmp_path, """
        environments:
          s:
            host: h
            instances:
              - port: 2223
                workers: {queue: {}}
        """)
    error = refusal(tmp_path)
    assert str(error) == ".pshctl.yaml:6: environment 's': instance 0: unknown key 'workers'"


# --- workers ------------------------------------------------------------------------------


def test_a_workers_key_file_is_taken_from_the_config_files_directory(tmp_path: Path) -> None:
    write(tmp_path, """
        environments:
          s:
            host: h
            identity_file: ~/.ssh/id_app
            workers:
              queue: {identity_file: keys/queue, known_hosts: ../known_hosts}
        """)
    entry = environment(tmp_path)
    assert entry.for_worker("queue") == {
        "host": "h", "identity_file": str(tmp_path / "keys" / "queue"),
        "known_hosts": str(tmp_path / ".." / "known_hosts")}


@pytest.mark.parametrize(("workers", "message"), [
    ("workers: [queue]", ".pshctl.yaml:4: environment 's': 'workers' must be a mapping"),
    ("workers:\n      queue: {}\n      mail: 25",
     ".pshctl.yaml:6: environment 's': worker 'mail': must be a mapping"),
])
def test_workers_that_are_not_mappings_are_refused_at_their_line(
        tmp_path: Path, workers: str, message: str) -> None:
    (tmp_path / ".pshctl.yaml").write_text(f"environments:\n  s:\n    host: h\n    {workers}\n")
    assert str(refusal(tmp_path)) == message


# --- unknown keys -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("project: abc\nregion: eu-3.platform.sh\nregoin: eu-5.platform.sh\n",
     ".pshctl.yaml:3: unknown key 'regoin'", "did you mean 'region'?"),
    ("environments:\n  s:\n    host: h\n    port: 22\n    users: root\n",
     ".pshctl.yaml:5: environment 's': unknown key 'users'", "did you mean 'user'?"),
    ("ssh:\n  connect_timeout: 3\n  keepalive: 5\n  keepalive_cont: 2\n",
     ".pshctl.yaml:4: ssh: unknown key 'keepalive_cont'", "did you mean 'keepalive_count'?"),
])
def test_an_unknown_key_after_known_ones_is_refused_at_its_line(
        tmp_path: Path, text: str, message: str, hint: str) -> None:
    (tmp_path / ".pshctl.yaml").write_text(text)
    error = refusal(tmp_path)
    assert (str(error), error.hint) == (message, hint)


# --- ssh: ---------------------------------------------------------------------------------


def test_ssh_numbers_up_to_their_largest_are_read(tmp_path: Path) -> None:
    write(tmp_path, """
        ssh:
          connect_timeout: 3600
          banner_timeout: 0.5
          keepalive: 3600
          keepalive_count: 100
        """)
    assert load_settings(tmp_path).ssh == settings.SshTimeouts(
        connect_timeout=3600, banner_timeout=0.5, keepalive=3600, keepalive_count=100)


@pytest.mark.parametrize(("line", "message"), [
    ("auth_timeout: soon", "ssh.auth_timeout must be a number of seconds, not 'soon'"),
    ("keepalive_count: [3]", "ssh.keepalive_count must be a whole number, not [3]"),
    ("keepalive: 3601", "ssh.keepalive must be from 0 to 3600, not 3601"),
    ("keepalive_count: 101", "ssh.keepalive_count must be from 1 to 100, not 101"),
    ("connect_timeout: 3600.5",
     "ssh.connect_timeout must be more than 0 and at most 3600, not 3600.5"),
])
def test_a_bad_ssh_number_is_refused_at_its_line(tmp_path: Path, line: str,
                                                 message: str) -> None:
    (tmp_path / ".pshctl.yaml").write_text(f"ssh:\n  banner_timeout: 2\n  {line}\n")
    assert str(refusal(tmp_path)) == f".pshctl.yaml:3: {message}"


# --- environments ------------------------------------------------------------------------


def test_an_environment_with_nothing_under_it_is_an_empty_entry(tmp_path: Path) -> None:
    write(tmp_path, """
        project: abc
        environments:
          main:
          staging: {host: h}
        """)
    assert load_settings(tmp_path).environment("main") == settings.EnvironmentEntry(
        "main", origin=".pshctl.yaml:3")


def test_an_environment_whose_line_is_unknown_is_from_its_file(tmp_path: Path) -> None:
    # json.dumps writes a character beyond U+FFFF as two escapes, which YAML reads as two
    # characters: the JSON's names differ from YAML's, so the environments have no line.
    (tmp_path / ".pshctl.yaml").write_text(json.dumps(
        {"environments": {"rocket-\U0001F680": {"host": "h"}}}, indent=1))
    assert environment(tmp_path, "rocket-\U0001F680").origin == ".pshctl.yaml"


# --- self-hosted or Platform.sh -----------------------------------------------------------


def test_hosts_named_only_by_instances_make_a_self_hosted_environment(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\nworkers:\n  queue: {commands: {start: run-queue}}\n")
    write(tmp_path, """
        environments:
          own:
            user: deploy
            workers:
              queue:
                instances: [{host: 10.0.0.6}, {host: 10.0.0.7}]
        """)
    context = resolve_context(Selection(environment="own"), cwd=tmp_path)
    queue = resolve_targets(context, ["queue"])
    assert [(t.name, t.user, t.host) for t in queue] == [
        ("queue.0", "deploy", "10.0.0.6"), ("queue.1", "deploy", "10.0.0.7")]
