"""Tab completion of app and worker names from both products' definitions, without YAML.

The names come from the same definitions pshctl reads (``pshctl.appdef.layout`` finds the
root and chooses the product), through the completion's own line scanner.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pshctl.appdef import load_project
from pshctl.cli.complete import complete_app, complete_worker

FIXTURES = Path(__file__).parent / "data" / "fixtures"
PUBLIC = Path(__file__).parent / "data" / "public"


def test_upsun_apps_and_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "upsun")
    assert complete_app("") == ["backend", "frontend"]
    monkeypatch.chdir(FIXTURES / "upsun" / "backend")
    assert complete_worker("") == ["queue", "mail"]


def test_upsun_later_file_wins_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "upsun-files" / "api")
    assert complete_app("") == ["api", "admin"]  # not the `.defaults` anchor holder
    assert complete_worker("") == ["messenger"]  # not 10-apps.yaml's old-worker


def test_mixed_repository_follows_the_same_choice(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "mixed"
    shutil.copytree(FIXTURES / "mixed", root)
    (root / ".platform.app.yaml").write_text(
        "name: app\nworkers:\n  fixed-queue:\n    commands:\n      start: run\n")
    monkeypatch.chdir(root)
    assert complete_worker("") == ["queue"]
    (root / ".pshctl.yaml").write_text("product: platformsh\n")
    assert complete_worker("") == ["fixed-queue"]


def test_platformsh_anchor_holders_and_wrapped_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "platformsh")
    assert complete_app("") == ["api", "builder-a", "builder-b", "search"]


def test_upsun_completion_imports_no_yaml() -> None:
    code = ("from pshctl.cli.complete import complete_worker, complete_app\n"
            "print(complete_app(''), complete_worker(''))\n")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          cwd=FIXTURES / "upsun-files" / "api", capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "messenger" in proc.stdout
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "yaml" not in imported


@pytest.mark.parametrize("project", sorted(p for p in PUBLIC.iterdir() if p.is_dir()),
                         ids=lambda p: p.name)
def test_completion_names_real_apps_of_the_public_corpus(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    suggested = complete_app("")
    loaded = load_project(project)
    if project.name == "platformsh-templates+django4":  # `- !include pip.app.yaml`: not opened
        assert suggested == []
    else:
        assert sorted(suggested) == sorted([*loaded.apps, *loaded.errors])


def test_scanner_reads_items_whose_mapping_starts_below() -> None:
    from pshctl.cli.complete import scan

    tree = scan("- &base\n  name: a\n-\n  name: b\n- # c\n  name: c\n- name: d\n")
    assert [item.child("name").value for item in tree.items()] == ["a", "b", "c", "d"]
