"""docs/json.md against the real `--json` output of every command (test bed and sandbox),
and the API's field names against the JSON's."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pshctl.api import open_environment
from pshctl.cli import app as cli_app
from pshctl.sandbox import manager
from tests.helpers import REPO, CliRunner
from tests.testbed import PROMPT, TestBed

DOC = REPO / "docs" / "json.md"
_SECTION = re.compile(r"^## `pshctl (?P<command>[^`]+)`\s*$(?P<body>.*?)(?=^## |\Z)",
                      re.MULTILINE | re.DOTALL)
_BLOCK = re.compile(r"```json\n(?P<json>.*?)```", re.DOTALL)
ENVELOPE = ("project", "environment", "app")


def documented() -> dict[str, Any]:
    """Section title (``status --json``) -> its example document."""
    found = {}
    for section in _SECTION.finditer(DOC.read_text()):
        block = _BLOCK.search(section["body"])
        assert block is not None, f"no example under {section['command']}"
        found[section["command"]] = json.loads(block["json"])
    return found


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# Mappings whose keys are the user's own names (mounts, variables ...), not pshctl's.
FREE_FORM = {"mounts", "relationships", "variables", "additional_hosts", "commands", "env",
             "resources", "access", "firewall"}


def same_shape(example: Any, real: Any, where: str = "$") -> list[str]:
    """Where the real document differs from the example: keys, and kinds of value (null
    in either means "may be null"; a list is compared by its first item; the keys of
    :data:`FREE_FORM` mappings are the user's)."""
    if example is None or real is None:
        return []
    if where.rsplit(".", 1)[-1] in FREE_FORM:
        return [] if kind(example) == kind(real) else [
            f"{where}: {kind(real)} in the output, {kind(example)} in the docs"]
    if kind(example) != kind(real):
        return [f"{where}: {kind(real)} in the output, {kind(example)} in the docs"]
    if isinstance(example, dict):
        problems = []
        if set(example) != set(real):
            problems.append(f"{where}: keys only in the output {sorted(set(real) - set(example))}"
                            f", only in the docs {sorted(set(example) - set(real))}")
        for key in set(example) & set(real):
            problems += same_shape(example[key], real[key], f"{where}.{key}")
        return problems
    if isinstance(example, list) and example and real:
        return same_shape(example[0], real[0], f"{where}[0]")
    return []


def test_every_document_starts_with_the_envelope() -> None:
    docs = documented()
    assert docs, "docs/json.md documents nothing"
    for command, example in docs.items():
        assert list(example)[:3] == list(ENVELOPE), command


def test_every_command_with_json_is_documented() -> None:
    import typer.main

    text = DOC.read_text()
    root = typer.main.get_command(cli_app)

    def walk(command: Any, path: list[str]) -> list[str]:
        found = []
        if any("--json" in getattr(p, "opts", ()) for p in command.params):
            found.append(" ".join(path))
        for name, sub in getattr(command, "commands", {}).items():
            found += walk(sub, [*path, name])
        return found

    commands = walk(root, [])
    assert "status" in commands and "workers show" in commands
    missing = [c for c in commands if f"`{c}" not in text and f"`pshctl {c}" not in text]
    assert not missing, f"commands with --json missing from docs/json.md: {missing}"


@pytest.mark.integration
def test_the_examples_have_the_shape_of_the_real_output(testbed: TestBed, cli: CliRunner,
                                                        tmp_path: Path) -> None:
    testbed.add_service("queue", PROMPT)
    root = testbed.project(["queue"])
    testbed.log_file("queue").write_text("2026-12-01T10:00:00Z started\n")
    source = tmp_path / "dump.sql"
    source.write_text("select 1;\n")

    def run(*args: str) -> Any:
        result = cli("-e", "test", *args, cwd=root)
        assert result.exit_code == 0, result
        return result

    real = {
        "status --json": run("status", "--json").json,
        "top --json": run("top", "--json").json,
        "wait --json": run("wait", "--all", "--stable", "0", "--json").json,
        "restart --json": run("restart", "queue", "--verify", "0.2", "--json").json,
        "restart --dry-run --json": run("restart", "queue", "--dry-run", "--json").json,
        "logs --json": json.loads(run("logs", "queue", "--json").stdout.splitlines()[0]),
        "cp --json": run("cp", str(source), f"queue:{testbed.root}/", "--json").json,
        "workers --json": run("workers", "--json").json,
    }
    docs = documented()
    problems = [f"{command}: {p}" for command, document in real.items()
                for p in same_shape(docs[command], document)]
    assert not problems, "\n".join(problems)
    shown = run("workers", "show", "queue", "--json").json
    assert same_shape(docs["workers --json"]["workers"][0], shown["worker"]) == []
    wide = run("status", "--wide", "--json").json
    assert same_shape(docs["top --json"], wide) == []


@pytest.mark.integration
def test_the_sandbox_examples_have_the_shape_of_the_real_output(cli: CliRunner,
                                                                tmp_path: Path) -> None:
    shop = shutil.copytree(REPO / "examples", tmp_path / "shop",
                           ignore=shutil.ignore_patterns("__pycache__"))
    try:
        up = cli("sandbox", "up", str(shop), "--json")
        assert up.exit_code == 0, up
        status = cli("sandbox", "status", str(shop), "--json").json
        every = cli("sandbox", "status", "--all", "--json").json
    finally:
        down = cli("sandbox", "down", str(shop), "--json")
        manager.down(shop)
    docs = documented()
    problems = same_shape(docs["sandbox status --json"], up.json)
    problems += same_shape(docs["sandbox status --json"], status)
    problems += same_shape(docs["sandbox down --json"], down.json)
    item = {k: v for k, v in docs["sandbox status --json"].items() if k != "project"}
    problems += same_shape(item, every["sandboxes"][0], "$.sandboxes")
    assert not problems, "\n".join(problems)
    assert [every[k] for k in ENVELOPE] == [None, "sandbox", None]


@pytest.mark.integration
def test_api_fields_are_named_as_in_json(testbed: TestBed, tmp_path: Path) -> None:
    """Every key of a value's JSON form is an attribute of that value, under that name."""
    testbed.add_service("queue", PROMPT)
    env = open_environment("test", cwd=testbed.project(["queue"]))
    source = tmp_path / "f.txt"
    source.write_text("x\n")
    values: list[Any] = [
        env.status(usage=True)["queue"].unwrap(),
        env.status(usage=True)["queue"].unwrap().usage,
        env.restart(["queue"], verify=0.2)["queue"].unwrap(),
    ]
    copy = getattr(env, "copy", None)
    if copy is not None:
        values.append(copy(str(source), f"queue:{testbed.root}/"))
    for value in values:
        missing = [key for key in value.to_dict() if not hasattr(value, key)]
        assert not missing, f"{type(value).__name__}: JSON keys with no attribute: {missing}"
