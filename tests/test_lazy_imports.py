"""--help, --version and Tab completion must not import the heavy libraries.

Every Tab press runs pshctl, so start-up time is completion latency: paramiko, fabric,
invoke, keyring and the YAML parser are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

HEAVY = ("paramiko", "fabric", "invoke", "keyring", "yaml", "urllib3", "cryptography")


def imported_modules(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level package names imported by ``python -X importtime -m pshctl ARGS``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pshctl", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and not name.startswith("imported"):
                modules.add(name.split(".")[0])
    assert "pshctl" in modules  # the trace really covered pshctl
    return modules


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--help"], None),
        (["--version"], None),
        ([], {"_PSHCTL_COMPLETE": "complete_bash", "COMP_WORDS": "pshctl ", "COMP_CWORD": "1"}),
        ([], {"_PSHCTL_COMPLETE": "complete_bash", "COMP_WORDS": "pshctl workers ",
              "COMP_CWORD": "2"}),
        # environment names come from the API's cache: no HTTP library, no keyring
        ([], {"_PSHCTL_COMPLETE": "complete_bash", "COMP_WORDS": "pshctl -e ",
              "COMP_CWORD": "2", "PSHCTL_PROJECT": "abc"}),
    ],
    ids=["help", "version", "complete-command", "complete-subcommand", "complete-environment"],
)
def test_fast_paths_import_nothing_heavy(args: list[str], env: dict[str, str] | None) -> None:
    heavy = set(HEAVY) & imported_modules(*args, env=env)
    assert not heavy, f"imported at start-up: {sorted(heavy)}"


def test_completion_request_answers() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pshctl"],
        cwd=REPO,
        env={**os.environ, "_PSHCTL_COMPLETE": "complete_bash", "COMP_WORDS": "pshctl wor",
             "COMP_CWORD": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "workers" in proc.stdout
