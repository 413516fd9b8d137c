"""fabric in a runbook: the example of docs/api.md, run against the test bed."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from pshctl.api import HostKeyError, open_environment
from pshctl.errors import InstanceNotFound
from tests.helpers import REPO
from tests.testbed import PROMPT, TestBed

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def no_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """fabric's run() copies our stdin to the command, as a terminal runbook would."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())


def docs_example() -> str:
    text = (REPO / "docs" / "api.md").read_text()
    marker = "<!-- tests/test_runbook.py runs the next example against the test bed -->"
    found = re.search(re.escape(marker) + r"\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, "the runbook example of docs/api.md is gone"
    return found.group(1)


def test_the_fabric_runbook_of_the_docs_runs(testbed: TestBed, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    testbed.add_service("queue", PROMPT)
    root = testbed.project(["queue"])
    remote = tmp_path / "remote"
    remote.mkdir()
    (root / "release.txt").write_text("2026.12.1\n")
    old_pid = testbed.pid("queue")
    code = docs_example().replace('"staging"', '"test"').replace("/app/", f"{remote}/")
    monkeypatch.chdir(root)
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(code, "docs/api.md", "exec"), {})
    assert out.getvalue() == "queue has release 2026.12.1\n"
    assert (remote / "release.txt").read_text() == "2026.12.1\n"
    assert testbed.pid("queue") not in (None, old_pid)


def test_the_connection_keeps_pshctls_host_key_policy(testbed: TestBed) -> None:
    empty = testbed.root / "empty_known_hosts"
    empty.touch()
    root = testbed.project(["queue"], overrides={"queue": {"known_hosts": str(empty)}})
    env = open_environment("test", cwd=root)
    with env.connection("queue") as c, pytest.raises(HostKeyError, match="unknown host key"):
        c.run("true")  # fabric alone would have added the key and run it
    trusting = open_environment("test", cwd=root, accept_new=True)
    with trusting.connection("queue") as c:
        assert c.run("echo $((6*7))", hide=True).stdout == "42\n"
        assert c.session is not None and c.transport is c.session.transport
    assert c.session is None  # closed with the block


def test_the_connection_reaches_the_app_container_and_an_instance(testbed: TestBed) -> None:
    env = open_environment("test", cwd=testbed.project(["queue"]))
    with env.connection() as c:
        assert c.run("echo app", hide=True).stdout == "app\n"
    assert env.target("queue", instance=0) == env.target("queue")
    with pytest.raises(InstanceNotFound):  # one instance: nothing is guessed from a number
        env.target("queue", instance=2)


def test_no_command_imports_fabric_or_invoke_and_paramiko_leaves_invoke_out(
    tmp_path: Path,
) -> None:
    code = ("import sys, pshctl.ssh, paramiko, pshctl.api, pshctl.cli; "
            "print(sorted({'fabric', 'invoke'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=tmp_path, env={**os.environ})
    assert proc.stdout.strip() == "[]"
    import fabric  # installed for the tests: still importable after paramiko

    assert fabric.Connection
