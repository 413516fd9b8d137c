"""Tab completion answered from the cached command tree gives typer's own answers.

:mod:`pshctl.cli.tabtree` answers a Tab press without importing typer. These tests put
both side by side on every command, option, value and argument of the real app, in the
three shells: the fast answer must be typer's, byte for byte and with its exit status,
or None (then typer answers, as before).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pshctl.cli import tabtree
from tests.test_completion import APP_YAML, PSHCTL_YAML, heavy_imports

SHELLS = ("bash", "zsh", "fish")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / ".platform.app.yaml").write_text(APP_YAML)
    (root / ".pshctl.yaml").write_text(PSHCTL_YAML)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="module")
def typer_root() -> Any:
    from typer.main import get_command

    from pshctl.cli.root import app

    return get_command(app)


@pytest.fixture(scope="module")
def tree() -> dict[str, Any]:
    return tabtree.build_tree()[0]


def request_env(shell: str, words: str, action: str = "get-args") -> dict[str, str]:
    """What each shell's completion script sets for a Tab press after ``words``."""
    env = {"_PSHCTL_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        env.update(COMP_WORDS=words, COMP_CWORD=str(cword))
    else:
        env["_TYPER_COMPLETE_ARGS"] = words
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = action
    return env


def typer_answer(root: Any, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> tuple[str | None, int]:
    """typer's reply to the request, as its completion entry point prints it."""
    from typer.completion import shell_complete

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    try:
        status = shell_complete(root, {}, "pshctl", "_PSHCTL_COMPLETE", env["_PSHCTL_COMPLETE"])
    except SystemExit as exc:  # fish's is-args answers by exit status alone
        status = int(exc.code or 0)
    out = capsys.readouterr().out
    return (out if out else None), status


def fast_answer(tree: dict[str, Any], env: dict[str, str],
                monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, int] | None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shell = env["_PSHCTL_COMPLETE"].split("_", 1)[1]
    try:
        args, incomplete = tabtree.completion_args(shell, os.environ)
        items = tabtree.Resolver(tree).complete(args, incomplete)
        text, status = tabtree.render(shell, items, os.environ)
    except tabtree.Unsupported:
        return None
    return (None if text is None else text + "\n"), status


def word_lists(tree: dict[str, Any]) -> Iterator[str]:
    """Command lines ending where Tab is pressed: every command, option and value."""
    yield from ["pshctl ", "pshctl s", "pshctl -", "pshctl --", "pshctl --e", "pshctl x",
                "pshctl -e ", "pshctl -e st", "pshctl --environment=", "pshctl --environment=s",
                "pshctl -A ", "pshctl -A s", "pshctl -v -", "pshctl -vv ", "pshctl -e",
                "pshctl -estaging ", "pshctl -e staging -", "pshctl --bogus ", "pshctl -x r",
                "pshctl -- ", "pshctl --help ", "pshctl -h -", "pshctl --version ",
                "pshctl =", "pshctl -e staging restart ", "pshctl -A shop restart q",
                "pshctl restart -e staging q", "pshctl status -w queue ",
                "pshctl status -w queue -w ", "pshctl status --worker=q",
                "pshctl restart queue mail ", "pshctl restart --all --", "pshctl restart -- q",
                "pshctl restart -- -", "pshctl ssh --worker ", "pshctl ssh --worker q",
                "pshctl ssh --worker queue -- ls -", "pshctl ssh ls -", "pshctl ssh ls --w",
                "pshctl ssh -I 2 --", "pshctl completion ", "pshctl completion b",
                "pshctl completion Shell", "pshctl completion bash ", "pshctl workers ",
                "pshctl workers s", "pshctl workers show ", "pshctl workers show q",
                "pshctl workers show queue ", "pshctl workers --json show ",
                "pshctl workers -A shop show ", "pshctl workers show -", "pshctl auth ",
                "pshctl auth passphrase ", "pshctl auth passphrase set ", "pshctl sandbox up ",
                "pshctl sandbox up -", "pshctl logs -n ", "pshctl logs -f q",
                "pshctl logs -n 10 -f ", "pshctl restart --grace ", "pshctl restart --grace=5 -",
                "pshctl restart 'qu", 'pshctl restart "queue" ', "pshctl restart q\\",
                "pshctl restart --unknown q", "pshctl restart -fx q", "pshctl wait -",
                "pshctl nosuch -", "pshctl restart queue --json -"]

    def walk(node: dict[str, Any], path: str) -> Iterator[str]:
        yield f"{path} "
        yield f"{path} -"
        yield f"{path} --"
        for param in node["params"]:
            for opt in param["opts"] + param["secondary"]:
                if not param["option"]:
                    continue
                yield f"{path} {opt[:3]}"
                yield f"{path} {opt} "
                yield f"{path} {opt} -"
                if not param.get("flag") and not param.get("count"):
                    yield f"{path} {opt}="
                    yield f"{path} {opt}=q"
                    yield f"{path} {opt} q"
                    yield f"{path} {opt} queue "
        for name, sub in node.get("commands", {}).items():
            yield f"{path} {name[:2]}"
            yield from walk(sub, f"{path} {name}")

    yield from walk(tree, "pshctl")


def test_fast_answers_are_typers_in_every_shell(
    shop: Path, tree: dict[str, Any], typer_root: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps nothing: every answer can be fast
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)
    answered = declined = 0
    mismatches = []
    for words in dict.fromkeys(word_lists(tree)):
        for shell in SHELLS:
            for action in (("get-args", "is-args") if shell == "fish" else ("get-args",)):
                env = request_env(shell, words, action)
                fast = fast_answer(tree, env, monkeypatch)
                slow = typer_answer(typer_root, env, monkeypatch, capsys)
                if fast is None:
                    declined += 1
                    continue
                answered += 1
                if fast != slow:
                    mismatches.append((shell, action, words, fast, slow))
    assert not mismatches, mismatches[:5]
    # Declined: only what typer must render itself (--version acts while completing).
    assert answered > 20 * declined, (answered, declined)


def test_help_that_rich_would_wrap_is_left_to_typer(
    shop: Path, tree: dict[str, Any], typer_root: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    env = request_env("zsh", "pshctl restart --")
    assert fast_answer(tree, env, monkeypatch) is None
    assert typer_answer(typer_root, env, monkeypatch, capsys)[0]  # typer still answers
    # Short helps fit: those answers stay fast, and equal.
    monkeypatch.setenv("COLUMNS", "60")
    env = request_env("zsh", "pshctl w")
    assert fast_answer(tree, env, monkeypatch) == typer_answer(typer_root, env, monkeypatch,
                                                               capsys)


def test_an_option_whose_callback_acts_is_left_to_typer(
    shop: Path, tree: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # typer runs --version's callback while completing: it prints the version.
    assert fast_answer(tree, request_env("bash", "pshctl --version "), monkeypatch) is None


# --- the real entry point: cold, then warm ---------------------------------------------


def tab(words: str, cwd: Path, *, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "pshctl"],
        cwd=cwd, env={**os.environ, **request_env("bash", words)}, capture_output=True,
        text=True, timeout=60, check=False,
    )


def imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in stderr.splitlines() if line.startswith("import time:") and "|" in line}


def test_first_tab_builds_the_tree_next_ones_answer_without_typer(shop: Path) -> None:
    path = tabtree.cache_path()
    assert not path.exists()
    cold = tab("pshctl restart q", shop)
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.split() == ["queue"]
    assert path.is_file()
    assert path.stat().st_mode & 0o077 == 0
    warm = tab("pshctl restart q", shop, importtime=True)
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout)
    assert "typer" not in imported(warm.stderr)
    assert not heavy_imports(warm.stderr)
    for words in ("pshctl wor", "pshctl restart queue ", "pshctl -e st", "pshctl completion "):
        assert tab(words, shop).stdout == subprocess.run(
            [sys.executable, "-c", "from pshctl.cli.root import run; run()"], cwd=shop,
            env={**os.environ, **request_env("bash", words)}, capture_output=True, text=True,
            timeout=60, check=False).stdout, words


def test_a_changed_source_makes_the_tree_stale(shop: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tree, modules = tabtree.build_tree()
    tabtree.save_tree(tree, modules)
    assert tabtree.load_tree() == tree
    # The stamp holds the sources' sizes and times: a different one no longer matches.
    stamp = tabtree.fingerprint(modules)
    entry = next(s for s in stamp if isinstance(s, list) and s[0].endswith("tabtree.py"))
    real = tabtree._stat
    monkeypatch.setattr(tabtree, "_stat", lambda p: [p, 0, 0] if p == entry[0] else real(p))
    assert tabtree.load_tree() is None


def test_a_broken_cache_means_typer_answers(shop: Path) -> None:
    path = tabtree.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert tabtree.load_tree() is None
    proc = tab("pshctl wor", shop)
    assert proc.stdout.split() == ["workers"]
    assert tabtree.load_tree() is not None  # typer's answer rebuilt it
