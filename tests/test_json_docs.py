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
def test_the_examples_have_the_shape_of_the_real_output(cli: CliRunner, tmp_path: Path) -> None:
    """Every command with --json, run on a real sandbox (the example app: SSH into each
    container, runit): each output has the documented shape, the envelope first."""
    shop = shutil.copytree(REPO / "examples", tmp_path / "shop",
                           ignore=shutil.ignore_patterns("__pycache__"))
    source = tmp_path / "dump.sql"
    source.write_text("select 1;\n")

    def run(*args: str) -> Any:
        result = cli(*args, cwd=shop)
        assert result.exit_code == 0, result
        return result

    real: dict[str, Any] = {}
    try:
        real["sandbox up --json"] = run("sandbox", "up", "--json").json
        queue = next(c for c in real["sandbox up --json"]["containers"] if c["name"] == "queue")
        with open(queue["log_file"], "a") as log:
            log.write("2026-12-01T10:00:00Z job 42 done\n")
        on = ("-e", "sandbox")
        real["sandbox status --json"] = run("sandbox", "status", "--json").json
        real["sandbox status --all --json"] = run("sandbox", "status", "--all", "--json").json
        real["status --json"] = run(*on, "status", "--json").json
        real["status --wide --json"] = run(*on, "status", "--wide", "--json").json
        real["top --json"] = run(*on, "top", "--json").json
        real["wait --json"] = run(*on, "wait", "--all", "--stable", "0", "--json").json
        real["restart --json"] = run(*on, "restart", "queue", "--verify", "0.5", "--json").json
        real["restart --dry-run --json"] = run(*on, "restart", "queue", "--dry-run",
                                               "--json").json
        lines = run(*on, "logs", "queue", "-n", "50", "--json").stdout.splitlines()
        real["logs --json"] = next(row for row in map(json.loads, lines)
                                   if "job 42 done" in row["line"])
        real["cp --json"] = run(*on, "cp", str(source), f"queue:{queue['app_dir']}/var/jobs/",
                                "--json").json
        real["workers --json"] = run("workers", "--json").json
        real["workers show --json"] = run("workers", "show", "queue", "--json").json
        real["sandbox env --json"] = run("sandbox", "env", "--json").json
        api = {k: v for k, v in real["sandbox env --json"].items() if k.startswith("PSHCTL_")}
        real["auth status --json"] = cli("auth", "status", "--json", cwd=shop, env=api).json
        real["auth logout --json"] = run("auth", "logout", "--json").json
    finally:
        down = cli("sandbox", "down", str(shop), "--json", cwd=shop)
        manager.down(shop)
    assert down.exit_code == 0, down
    real["sandbox down --json"] = down.json

    for command, document in real.items():
        assert list(document)[:3] == list(ENVELOPE), (command, list(document))
    assert real["status --json"]["environment"] == "sandbox"
    assert real["status --json"]["app"] == real["workers --json"]["app"] == "shop"
    assert real["logs --json"]["line"] == "2026-12-01T10:00:00Z job 42 done"
    docs = documented()
    status = docs["sandbox status --json"]
    item = {k: v for k, v in status.items() if k != "project"}
    compare = {
        "sandbox up --json": status,
        "sandbox status --json": status,
        "sandbox down --json": docs["sandbox down --json"],
        "status --json": docs["status --json"],
        # status's document, with usage filled as top's
        "status --wide --json": {**docs["status --json"], "workers": [
            {**docs["status --json"]["workers"][0],
             "usage": docs["top --json"]["workers"][0]["usage"]}]},
        "top --json": docs["top --json"],
        "wait --json": docs["wait --json"],
        "restart --json": docs["restart --json"],
        "restart --dry-run --json": docs["restart --dry-run --json"],
        "logs --json": docs["logs --json"],
        "cp --json": docs["cp --json"],
        "workers --json": docs["workers --json"],
        "sandbox env --json": docs["sandbox env --json"],
        "auth status --json": docs["auth status --json"],
        "auth logout --json": docs["auth logout --json"],
    }
    problems = [f"{command}: {p}" for command, example in compare.items()
                for p in same_shape(example, real[command])]
    every = real["sandbox status --all --json"]
    assert [every[k] for k in ENVELOPE] == [None, "sandbox", None]
    problems += same_shape(item, every["sandboxes"][0], "sandbox status --all: $.sandboxes")
    shown = real["workers show --json"]
    problems += same_shape(docs["workers --json"]["workers"][0], shown["worker"],
                           "workers show: $.worker")
    assert [shown[k] for k in ENVELOPE] == [real["workers --json"][k] for k in ENVELOPE]
    assert not problems, "\n".join(problems)


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
        env.copy(str(source), f"queue:{testbed.root}/"),
    ]
    for value in values:
        missing = [key for key in value.to_dict() if not hasattr(value, key)]
        assert not missing, f"{type(value).__name__}: JSON keys with no attribute: {missing}"
