"""Generated files must match the CLI; the docs' own links must resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tools import devtools

OWN_PAGES = ["index.md", "recipes.md", "troubleshooting.md", "api.md", "completion.md"]


@pytest.mark.parametrize("what", ["docs", "completions"])
def test_generated_files_are_fresh(what: str) -> None:
    stale = devtools.stale(what)
    assert not stale, f"stale: {[str(p) for p in stale]}; run `make {what}` and commit"


def test_check_mode_fails_on_a_stale_copy(tmp_path: Path) -> None:
    def check(what: str) -> int:
        return subprocess.run(
            [sys.executable, "-m", "tools.devtools", what, "--check", "--root", str(tmp_path)],
            capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        ).returncode

    assert check("docs") == 1  # nothing generated there yet
    assert devtools.write("docs", tmp_path) == [devtools.COMMANDS_DOC]
    assert check("docs") == 0
    doc = tmp_path / devtools.COMMANDS_DOC
    doc.write_text(doc.read_text().replace("Print the Tab-completion", "Print a"))
    assert check("docs") == 1
    devtools.write("completions", tmp_path)
    assert check("completions") == 0


def test_reference_covers_every_command_and_option() -> None:
    text = (REPO / devtools.COMMANDS_DOC).read_text()
    for heading in ("## `pshctl`", "## `pshctl completion`", "## `pshctl workers show`"):
        assert heading in text
    assert "`-e, --environment <str>`" in text
    assert "| `SHELL <bash\\|zsh\\|fish>` |" in text


@pytest.mark.parametrize("page", OWN_PAGES)
def test_relative_links_resolve(page: str) -> None:
    path = REPO / "docs" / page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).resolve().exists(), f"{page}: broken link {target}"
