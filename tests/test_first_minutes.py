"""The first ten minutes: the README's completion install, and the demo's hints, as printed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PSHCTL = Path(sys.executable).with_name("pshctl")
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def _readme_block(after: str) -> list[str]:
    """The commands (``$ ...`` lines) of the first console block after ``after``."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```console\n(.*?)```", text[text.index(after):], re.DOTALL)
    assert block, f"no console block after {after!r} in README.md"
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def test_the_readme_names_the_bash_completion_package() -> None:
    text = (REPO / "README.md").read_text()
    assert "`bash-completion` package" in text and "apt-get install\nbash-completion" in text


def test_the_readme_completion_install_works_in_a_fresh_home(tmp_path: Path) -> None:
    if not PSHCTL.exists():
        pytest.skip("needs the venv's pshctl; run through `make test`")
    if not BASH_COMPLETION.exists():
        pytest.fail("bash-completion is missing: run `make test` (it installs it)")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": f"{PSHCTL.parent}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    commands = _readme_block("Tab completion in bash")
    assert any("completion bash" in c for c in commands), commands
    for command in commands:  # as a user would paste them, in a shell of a fresh account
        done = subprocess.run(["bash", "-c", command], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, (command, done.stderr)

    # A new interactive shell: bash-completion loads the file on the first Tab for pshctl.
    project = tmp_path / "app"
    project.mkdir()
    (project / ".platform.app.yaml").write_text(
        "name: app\nworkers:\n  queue: {commands: {start: run}}\n")
    tab = (
        f"source {BASH_COMPLETION}\n"
        "_completion_loader pshctl\n"
        "complete -p pshctl\n"
        "COMP_WORDS=(pshctl restart q); COMP_CWORD=2; COMP_LINE='pshctl restart q'\n"
        "COMP_POINT=${#COMP_LINE}\n"
        "$(complete -p pshctl | sed -E 's/.* -F ([^ ]+) .*/\\1/') pshctl q restart\n"
        'printf "offered: %s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "--norc", "-c", tab], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^complete .*pshctl$", done.stdout, re.MULTILINE), done.stdout
    assert "offered: queue" in done.stdout, done.stdout + done.stderr


@pytest.mark.integration
def test_the_demos_hints_work_as_printed(tmp_path: Path) -> None:
    """After `make demo` (the README's first command) every command it suggests runs."""
    if not PSHCTL.exists():
        pytest.skip("the demo drives the venv's pshctl; run through `make test`")
    env = {**os.environ, "PSHCTL_STATE_DIR": str(tmp_path / "state"),
           "PATH": "/usr/bin:/bin"}  # a fresh shell: the venv is not on PATH
    examples = REPO / "examples"
    try:
        demo = subprocess.run([str(REPO / "scripts" / "demo")], env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        out = re.sub(r"\x1b\[[0-9;]*m", "", demo.stdout)
        assert out.lstrip().startswith("==> Start the sandbox"), out[:400]
        hints = out[out.index("The sandbox keeps running."):]
        commands = re.findall(r"^  (\S*pshctl .+?)(?:\s+#.*)?$", hints, re.MULTILINE)
        assert commands and all(c.startswith(str(PSHCTL)) for c in commands), hints
        assert f'export PATH="{PSHCTL.parent}:$PATH"' in hints
        # The printed ones that end (not the shell and the follow) work as printed, from
        # the directory the hints name.
        for command in commands:
            argv = shlex.split(command)
            if "ssh" in argv or "-f" in argv:
                continue
            if argv[-2:] == ["down", str(examples)]:
                continue  # last: it stops the sandbox
            done = subprocess.run(argv, cwd=examples, env=env, capture_output=True, text=True,
                                  timeout=120, check=False)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        # The `sandbox up` output's own hints name the same program.
        assert f"{PSHCTL} -e sandbox status" in out
    finally:
        down = subprocess.run([str(PSHCTL), "sandbox", "down", str(examples)], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
