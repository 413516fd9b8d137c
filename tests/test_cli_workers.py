"""`pshctl workers` and `pshctl workers show NAME`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import CliRunner

REFERENCE = Path(__file__).parent / "data" / "reference"


@pytest.fixture
def customized(tmp_path: Path) -> Path:
    """The reference doc's third example, copied so no outer directory interferes."""
    root = tmp_path / "app"
    shutil.copytree(REFERENCE / "customized", root)
    return root


def test_table_marks_inherited_values_in_text(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", cwd=customized)
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME", "SIZE", "DISK", "MOUNTS", "RELATIONSHIPS", "START", "COMMAND",
    ]
    queue = next(line for line in lines if line.startswith("queue"))
    mail = next(line for line in lines if line.startswith("mail"))
    assert "database, messages (inherited)" in queue
    assert "scratch" in queue and "512" in queue and "python queue-worker.py" in queue
    assert "(inherited)" not in mail
    assert "none" in mail  # no mounts
    assert result.stderr == ""


def test_inherited_size_and_disk_are_marked(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\nsize: L\ndisk: 1024\nworkers:\n  w:\n    commands:\n      start: |\n"
        "        echo one\n        echo two\n"
    )
    result = cli("workers", cwd=tmp_path)
    row = result.stdout.splitlines()[1]
    assert "L (inherited)" in row
    assert "1024 (inherited)" in row
    assert "echo one …" in row


def test_json_lists_workers(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "--json", cwd=customized)
    assert result.exit_code == 0, result
    queue, mail = result.json
    assert queue["name"] == "queue"
    assert queue["size"] == "M"
    assert queue["disk"] == 512
    assert list(queue["mounts"]) == ["scratch"]
    assert sorted(queue["relationships"]) == ["database", "messages"]
    assert queue["variables"] == {"env": {"type": "worker"}}
    assert queue["commands"] == {"start": "python queue-worker.py"}
    assert queue["inherited"] == ["relationships"]
    assert mail["mounts"] == {}
    assert mail["relationships"] == {"emails": "rabbitqueue:rabbitmq"}
    assert mail["inherited"] == []


def test_show_marks_every_key(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "show", "queue", cwd=customized)
    assert result.exit_code == 0, result
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["size"] == ["size", "M", "own"]
    assert rows["disk"] == ["disk", "512", "own"]
    assert rows["access"] == ["access", "-", "default"]
    assert rows["relationships.database"][1:] == ["mysqldb:mysql", "inherited"]
    assert rows["relationships.messages"][-1] == "inherited"
    assert rows["mounts.scratch.source_path"] == ["mounts.scratch.source_path", "scratch", "own"]
    assert rows["variables.env.type"] == ["variables.env.type", "worker", "own"]
    assert rows["commands.start"][-1] == "own"


def test_show_empty_mounts(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "show", "mail", cwd=customized)
    assert "mounts" in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.startswith("mounts"))
    assert line.split() == ["mounts", "none", "own"]


def test_show_json(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "show", "mail", "--json", cwd=customized)
    assert result.exit_code == 0, result
    assert result.json["name"] == "mail"
    assert result.json["own"] == ["disk", "mounts", "relationships", "size", "variables"]


def test_json_before_the_subcommand(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "--json", "show", "mail", cwd=customized)
    assert result.json["name"] == "mail"


def test_show_unknown_worker(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "show", "mial", cwd=customized)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "error: unknown worker 'mial'; did you mean 'mail'?" in result.stderr
    assert "valid worker names: mail, queue" in result.stderr


def test_unknown_worker_with_json_keeps_stdout_clean(cli: CliRunner, customized: Path) -> None:
    result = cli("workers", "show", "nope", "--json", cwd=customized)
    assert result.exit_code == 3
    assert result.stdout == ""


def test_no_workers(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text("name: app\n")
    result = cli("workers", "--json", cwd=tmp_path)
    assert (result.exit_code, result.json) == (0, [])
    assert "defines no workers" in cli("workers", cwd=tmp_path).stderr


MULTI = """\
- name: api
  workers:
    queue: {commands: {start: python queue.py}}
- name: admin
  workers:
    report: {commands: {start: node report.js}}
"""


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "applications.yaml").write_text(MULTI)
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["-A", "admin", "workers", "--json"],
        ["workers", "-A", "admin", "--json"],
        ["workers", "--app", "admin", "--json"],
        ["-A", "api", "workers", "-A", "admin", "--json"],  # after the command wins
    ],
)
def test_app_before_or_after_the_command(cli: CliRunner, multi: Path, argv: list[str]) -> None:
    result = cli(*argv, cwd=multi)
    assert result.exit_code == 0, result
    assert [w["name"] for w in result.json] == ["report"]


def test_app_from_environment_variable(cli: CliRunner, multi: Path) -> None:
    result = cli("workers", "--json", cwd=multi, env={"PSHCTL_APP": "api"})
    assert [w["name"] for w in result.json] == ["queue"]


def test_app_for_show_before_the_subcommand(cli: CliRunner, multi: Path) -> None:
    assert cli("workers", "-A", "admin", "show", "report", cwd=multi).exit_code == 0
    assert cli("workers", "show", "report", "-A", "admin", cwd=multi).exit_code == 0


def test_several_apps_without_a_choice(cli: CliRunner, multi: Path) -> None:
    result = cli("workers", cwd=multi)
    assert result.exit_code == 2
    assert "several apps" in result.stderr
    assert "api, admin" in result.stderr


def test_unknown_app(cli: CliRunner, multi: Path) -> None:
    result = cli("workers", "-A", "apy", cwd=multi)
    assert result.exit_code == 3
    assert "did you mean 'api'?" in result.stderr
    assert "valid app names: admin, api" in result.stderr


def test_broken_definition_points_at_the_line(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\nworkers:\n  queue:\n    commands: {start: run}\n  mail:\n    size: S\n"
    )
    result = cli("workers", cwd=tmp_path)
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        "error: .platform.app.yaml:5: worker 'mail': commands.start is required"
    )


def test_outside_a_project(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("workers", cwd=tmp_path)
    assert result.exit_code == 3
    assert "no app definition here" in result.stderr


# --- both products ---------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "data" / "fixtures"


def test_upsun_list_has_upsun_columns(cli: CliRunner) -> None:
    result = cli("workers", "-A", "backend", cwd=FIXTURES / "upsun")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROFILE", "MOUNTS", "RELATIONSHIPS", "START", "COMMAND"]
    queue = next(line for line in lines if line.startswith("queue"))
    assert "HIGH_MEMORY (inherited)" in queue
    assert "var/uploads, var/cache (inherited)" in queue
    assert "warning: .upsun/config.yaml:54: worker 'mail': 'size' is not used on Upsun" \
        in result.stderr


def test_show_says_which_rules_applied(cli: CliRunner) -> None:
    upsun = cli("workers", "show", "mail", "-A", "backend", cwd=FIXTURES / "upsun")
    rows = {line.split()[0]: line.split() for line in upsun.stdout.splitlines()[1:]
            if line.strip()}
    assert rows["product"] == ["product", "Upsun", "rules"]
    assert rows["resources"][-1] == "platform"
    assert "size" not in rows and "disk" not in rows
    assert rows["container_profile"] == ["container_profile", "BALANCED", "own"]
    assert rows["timezone"] == ["timezone", "Europe/Paris", "inherited"]
    fixed = cli("workers", "show", "mail", "-A", "api", cwd=FIXTURES / "platformsh")
    rows = {line.split()[0]: line.split() for line in fixed.stdout.splitlines()[1:]
            if line.strip()}
    assert rows["product"] == ["product", "Platform.sh", "rules"]
    assert rows["resources.base_memory"] == ["resources.base_memory", "64", "own"]
    assert rows["firewall.outbound"][-1] == "inherited"
    assert rows["additional_hosts"] == ["additional_hosts", "none", "own"]


def test_show_lists_pre_start_and_post_start_beside_start(cli: CliRunner) -> None:
    result = cli("workers", "show", "queue", "-A", "api", cwd=FIXTURES / "platformsh")
    keys = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("comm")]
    assert keys == ["commands.pre_start", "commands.start", "commands.post_start"]


def test_json_says_which_product_and_why(cli: CliRunner) -> None:
    result = cli("workers", "--json", cwd=FIXTURES / "mixed")
    assert result.exit_code == 0, result
    (queue,) = result.json
    assert queue["product"] == "upsun"
    assert queue["choice"]["reason"] == "default"
    assert queue["choice"]["ignored"] == [".platform.app.yaml"]
    assert result.stderr.startswith("both Upsun and Platform.sh app definitions are here: "
                                    "read .upsun/config.yaml, not .platform.app.yaml")


def test_mixed_note_in_text_mode_too(cli: CliRunner) -> None:
    result = cli("workers", cwd=FIXTURES / "mixed")
    assert "read .upsun/config.yaml, not .platform.app.yaml" in result.stderr
    assert "./bin/queue" in result.stdout


def test_broken_app_is_a_warning_and_the_other_is_listed(cli: CliRunner) -> None:
    good = cli("workers", "-A", "good", cwd=FIXTURES / "broken")
    assert good.exit_code == 0, good
    assert good.stdout.splitlines()[1].startswith("queue")
    assert good.stderr == ("warning: app 'bad' is not loaded: .upsun/config.yaml:12: worker "
                           "'mail': commands.start is required\n")
    bad = cli("workers", "-A", "bad", cwd=FIXTURES / "broken")
    assert bad.exit_code == 3
    assert bad.stderr == "error: .upsun/config.yaml:12: worker 'mail': commands.start is required\n"


def test_show_wraps_to_the_terminal_width_and_json_keeps_values_whole(
        cli: CliRunner, tmp_path: Path) -> None:
    long = "python worker.py " + " ".join(f"--option-{i}=value-{i}" for i in range(30))
    (tmp_path / ".platform.app.yaml").write_text(
        f"name: app\nworkers:\n  w:\n    commands:\n      start: '{long}'\n")
    text = cli("workers", "show", "w", cwd=tmp_path, env={"COLUMNS": "80"})
    assert text.exit_code == 0, text
    assert max(len(line) for line in text.stdout.splitlines()) <= 80
    lines = text.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("commands.start"))
    continued = [line for line in lines[first + 1:] if line.startswith(" ")]
    assert len(continued) >= 3  # continued on rows of its own, under the value column
    words = " ".join(lines[first:first + 1 + len(continued)]).split()
    assert [w for w in words if w.startswith("--option")] == long.split()[2:]
    data = cli("workers", "show", "w", "--json", cwd=tmp_path, env={"COLUMNS": "80"})
    assert data.json["commands"]["start"] == long


def test_show_warns_about_that_worker_only(cli: CliRunner) -> None:
    queue = cli("workers", "show", "queue", "-A", "api", cwd=FIXTURES / "platformsh")
    assert queue.stderr == ""
    huge = cli("workers", "show", "huge", "-A", "api", cwd=FIXTURES / "platformsh")
    assert huge.stderr.startswith("warning: .platform/applications.yaml:53: worker 'huge'")
    assert "'tz'" not in huge.stderr


def test_other_commands_say_which_definitions_were_read(cli: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    shutil.copytree(FIXTURES / "mixed", root)
    (root / ".pshctl.yaml").write_text("environments:\n  local:\n    host: 127.0.0.1\n"
                                       "    port: 1\n")
    result = cli("restart", "queue", "--dry-run", "-e", "local", cwd=root)
    assert "read .upsun/config.yaml, not .platform.app.yaml" in result.stderr, result
