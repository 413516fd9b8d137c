"""Every command that acts on workers first says on what: project, environment, app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import CliRunner
from tests.testbed import PROMPT, TestBed

pytestmark = pytest.mark.integration

FAST = ("--grace", "1", "--verify", "0.5")
# Every command over workers, with arguments that succeed on the bed below.
COMMANDS = [
    ("status",), ("status", "--wide"), ("top",), ("wait", "--all", "--stable", "0"),
    ("restart", "queue", *FAST), ("stop", "queue", "--grace", "1"),
    ("start", "queue", "--verify", "0.5"), ("logs", "queue", "-n", "1"),
    ("ssh", "--all", "--", "true"), ("cp", "queue:/etc/hostname", "{tmp}/"),
]


@pytest.fixture
def root(testbed: TestBed) -> Path:
    testbed.add_service("queue", PROMPT)
    root = testbed.project(["queue"])
    config = root / ".pshctl.yaml"
    config.write_text(json.dumps({**json.loads(config.read_text()), "project": "abc123",
                                  "default_environment": "test"}))
    return root


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_first_line_names_project_environment_and_app(
    root: Path, cli: CliRunner, tmp_path: Path, command: tuple[str, ...]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = cli(*args, cwd=root)
    assert result.exit_code == 0, result
    assert result.stderr.splitlines()[0] == (
        "project abc123 · environment test (from default_environment in .pshctl.yaml) · "
        "app app")
    given = cli("-e", "test", *args, cwd=root)
    assert given.stderr.splitlines()[0] == "project abc123 · environment test · app app"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c[0] not in ("ssh",)], ids=" ".join)
def test_json_output_has_no_context_line(root: Path, cli: CliRunner, tmp_path: Path,
                                         testbed: TestBed, command: tuple[str, ...]) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    with testbed.log_file("queue").open("a") as log:
        log.write("a line\n")
    result = cli(*args, "--json", cwd=root)
    assert result.exit_code == 0, result
    assert "environment test" not in result.stderr
    # ... the JSON says it instead, first in the document (each line, for logs).
    first = json.loads(result.stdout.splitlines()[0]) if command[0] == "logs" else result.json
    assert list(first.items())[:3] == [("project", "abc123"), ("environment", "test"),
                                       ("app", "app")], first


def test_a_command_whose_output_passes_through_says_nothing_more(root: Path,
                                                                 cli: CliRunner) -> None:
    one = cli("ssh", "--worker", "queue", "--", "echo", "hi", cwd=root)
    assert (one.exit_code, one.stdout, one.stderr) == (0, "hi\n", "")
    pipe = cli("ssh", "--pipe", "--worker", "queue", cwd=root)
    assert pipe.exit_code == 0 and pipe.stderr == ""
