"""`ssh $(pshctl ssh --pipe)` never becomes an ssh option.

The regression: a checked-in host of ``-oProxyCommand=./evil.sh x`` was printed verbatim
by ``--pipe``, and the shell's word splitting made it an ssh option that ran the
repository's script. ``--pipe`` prints only a checked ``user@host`` (or
``ssh://user@host:port``); a hostile destination from any source is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pshctl.errors import ConfigError
from pshctl.ssh.config import destination
from pshctl.targets import Target
from tests.helpers import CliRunner

APP = "name: app\nworkers:\n  queue: {commands: {start: run-queue}}\n"
EVIL = "-oProxyCommand=./evil.sh x"


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A project whose checked-in files carry a script and a hostile host."""
    (tmp_path / ".platform.app.yaml").write_text(APP)
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {tmp_path / 'pwned'}\nexit 1\n")
    evil.chmod(0o755)
    return tmp_path


def _configure(root: Path, **entry: object) -> None:
    config = {"environments": {"evil": {**entry, "workers": {"queue": {}}}}}
    (root / ".pshctl.yaml").write_text(json.dumps(config, indent=2) + "\n")


def _shell(root: Path, pipe: str) -> subprocess.CompletedProcess[str]:
    """The documented use, in a real shell with the real OpenSSH client."""
    script = f"ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=2 $({pipe}) true"
    return subprocess.run(["sh", "-c", script], cwd=root, capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_injection_is_real_without_the_check(repository: Path) -> None:
    """The control: printed verbatim, the destination runs the repository's script."""
    _shell(repository, f"echo '{EVIL}'")
    assert (repository / "pwned").exists()


@pytest.mark.parametrize("entry", [{"host": EVIL}, {"host": "ok.example", "user": EVIL},
                                   {"host": "ok.example", "user": "u", "port": EVIL}],
                         ids=["host", "user", "port"])
def test_a_hostile_destination_is_refused(cli: CliRunner, repository: Path,
                                          entry: dict[str, str]) -> None:
    _configure(repository, **entry)
    result = cli("-e", "evil", "ssh", "--pipe", "--worker", "queue", cwd=repository)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr.startswith("error: .pshctl.yaml:") and EVIL in result.stderr, result
    pipe = f"{sys.executable} -m pshctl -e evil ssh --pipe --worker queue"
    _shell(repository, pipe)
    assert not (repository / "pwned").exists()


@pytest.mark.parametrize("target", [
    Target(name="queue", worker="queue", host=EVIL),
    Target(name="queue", worker="queue", host="ok.example", user=EVIL),
    Target(name="queue", worker="queue", host="ok.example", user="-u"),
    Target(name="queue", worker="queue", host="ok.example", user="u\x1b]52;c;eA==\x07"),
    Target(name="queue", worker="queue", host="ok.example", user="u", port=10**30),
    Target(name="queue", worker="queue", host="ok.example", user="1.u -oProxyCommand=x"),
], ids=["host", "user", "dash-user", "escape-user", "port", "instance-user"])
def test_destination_refuses_what_no_reader_checked(target: Target) -> None:
    """A target straight from an API or a plugin, which no file reader saw."""
    with pytest.raises(ConfigError, match="refused"):
        destination(target)


def test_checked_destinations_print_as_before() -> None:
    assert destination(Target(name="q", worker="q", host="ssh.eu-3.platform.sh",
                              user="abc--app--q")) == "abc--app--q@ssh.eu-3.platform.sh"
    assert destination(Target(name="q", worker="q", host="::1", user="1.u", port=2222,
                              instance=1)) == "ssh://1.u@[::1]:2222"
