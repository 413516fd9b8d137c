"""Hostile app definitions: each is a ``file:line`` error or a documented limit, never a hang,
a blown memory or a traceback (docs/configuration.md, "Limits")."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pshctl import yamlutil
from pshctl.appdef import load_app, load_project
from pshctl.errors import ConfigError
from tests.helpers import REPO, CliRunner
from tests.test_properties_readers import within_memory


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def error_of(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        within_memory(lambda: load_app(root))
    return str(info.value)


@pytest.fixture(params=[True, False], ids=["libyaml", "pure"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every case with both parsers: libyaml's and the pure-Python one."""
    if request.param and not yamlutil.libyaml_available():
        pytest.skip("PyYAML without libyaml")
    monkeypatch.setattr(yamlutil, "PREFER_LIBYAML", request.param)
    return bool(request.param)


APP_WITH = "name: app\nworkers:\n  q:\n    commands:\n      start: {start}\n"


# --- files that are not files ----------------------------------------------------------


def test_fifo_pulled_in_by_include(tmp_path: Path, parser: bool) -> None:
    write(tmp_path, {".platform.app.yaml": APP_WITH.format(start="!include {type: string, "
                                                                 "path: pipe}")})
    os.mkfifo(tmp_path / "pipe")  # nobody writes: reading it would block for ever
    assert error_of(tmp_path) == (".platform.app.yaml:5: !include: cannot read 'pipe' "
                                  "(not a regular file (a FIFO))")


def test_fifo_as_the_definition_itself(tmp_path: Path) -> None:
    (tmp_path / ".upsun").mkdir()
    os.mkfifo(tmp_path / ".upsun" / "config.yaml")
    project = load_project(tmp_path)
    assert [str(e) for e in project.file_errors] == [
        ".upsun/config.yaml: cannot read: not a regular file (a FIFO)"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_device_pulled_in_by_include(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": APP_WITH.format(start="!include {type: binary, "
                                                                 "path: zero}")})
    os.mknod(tmp_path / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
    assert error_of(tmp_path).endswith("cannot read 'zero' (not a regular file (a device))")


def test_symlink_to_a_device_outside_the_project(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": APP_WITH.format(start="!include {type: binary, "
                                                                 "path: zero}")})
    (tmp_path / "zero").symlink_to("/dev/zero")
    assert "is outside the project" in error_of(tmp_path)


def test_file_bigger_than_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlutil, "MAX_FILE_BYTES", 1000)
    write(tmp_path, {".platform.app.yaml": APP_WITH.format(start="!include {type: string, "
                                                                 "path: big}"),
                     "big": "x" * 5000})
    assert error_of(tmp_path) == (".platform.app.yaml:5: !include: cannot read 'big' (bigger "
                                  "than 1000 bytes)")


# --- YAML that expands --------------------------------------------------------------------

ALIAS_BOMB = """\
name: app
variables:
  env:
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
    i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
workers:
  q:
    commands: {start: run}
"""


def test_alias_bomb(tmp_path: Path, parser: bool) -> None:
    write(tmp_path, {".platform.app.yaml": ALIAS_BOMB})
    # Reported where the expansion first goes past the bound: `f`, a million values.
    assert error_of(tmp_path) == (".platform.app.yaml:9: more than 200000 values once YAML "
                                  "aliases are expanded")


def test_alias_bomb_through_a_merge_key(tmp_path: Path, parser: bool) -> None:
    bomb = ALIAS_BOMB.replace("workers:\n  q:\n", "workers:\n  q:\n    <<: {variables: *i}\n")
    write(tmp_path, {".platform.app.yaml": bomb})
    assert "once YAML aliases are expanded" in error_of(tmp_path)


@pytest.mark.parametrize("value", ["&a [*a]", "&a {x: *a}"])
def test_structure_containing_itself(tmp_path: Path, parser: bool, value: str) -> None:
    write(tmp_path, {".platform.app.yaml": f"name: app\naccess: {{x: {value}}}\nworkers: {{}}\n"})
    assert error_of(tmp_path) == (".platform.app.yaml:2: invalid YAML: found unconstructable "
                                  "recursive node")


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting(tmp_path: Path, parser: bool, depth: int) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\naccess:\n  x: " + "[" * depth
                     + "]" * depth + "\n"})
    # Not under tracemalloc: PyYAML's pure scanner reads deep flow collections in quadratic
    # time (about a second here), which tracing multiplies thirtyfold.
    with pytest.raises(ConfigError) as info:
        load_app(tmp_path)
    message = str(info.value)
    assert message.startswith(".platform.app.yaml:")
    assert message.endswith("nested more than 64 levels deep")


def test_deep_nesting_in_block_style(tmp_path: Path, parser: bool) -> None:
    lines = "".join("  " * i + f"k{i}:\n" for i in range(1, 200))
    write(tmp_path, {".platform.app.yaml": "name: app\naccess:\n" + lines})
    assert error_of(tmp_path).endswith("nested more than 64 levels deep")


def test_include_chain_of_300_files(tmp_path: Path) -> None:
    files = {".platform.app.yaml": "name: app\naccess: !include f0.yaml\nworkers: {}\n"}
    files.update({f"f{i}.yaml": f"x: !include f{i + 1}.yaml\n" for i in range(300)})
    files["f300.yaml"] = "x: 1\n"
    write(tmp_path, files)
    message = error_of(tmp_path)
    assert message.startswith("f")  # in the file where the bound is met
    assert "nested" in message


def test_include_nesting_bound_by_itself(tmp_path: Path) -> None:
    files = {".platform.app.yaml": "name: app\nworkers:\n  q: !include f0.yaml\n"}
    files.update({f"f{i}.yaml": f"!include f{i + 1}.yaml\n" for i in range(40)})
    files["f40.yaml"] = "commands: {start: run}\n"
    write(tmp_path, files)
    assert error_of(tmp_path).endswith("!include: includes nested more than 16 deep")


# --- keys and names -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["[a, b]", "{a: 1}", "? [a]\n  "])
def test_sequence_or_mapping_as_a_key(tmp_path: Path, parser: bool, key: str) -> None:
    write(tmp_path, {".platform.app.yaml": f"name: app\nworkers:\n  {key}: x\n"})
    assert error_of(tmp_path) == (".platform.app.yaml:3: invalid YAML: a key must be a plain "
                                  "value, not a list or a mapping")


@pytest.mark.parametrize(("value", "message"), [
    ("!!timestamp soon", "not a valid !!timestamp: 'soon'"),
    ("!!bool maybe", "not a valid !!bool: 'maybe'"),
    ("!!int 0x", "not a valid !!int: '0x'"),
    ("!!float fast", "not a valid !!float: 'fast'"),
    ("!!map [[1, 2]]", "not a valid !!map: a list"),
    ("!!map x", "not a valid !!map: 'x'"),
    ("[1, !!timestamp 2026-13-45]", "not a valid !!timestamp: '2026-13-45'"),
])
def test_a_value_its_explicit_tag_does_not_fit(tmp_path: Path, parser: bool, value: str,
                                               message: str) -> None:
    """PyYAML's own constructors raise Python errors on these: they are YAML errors here."""
    write(tmp_path, {".platform.app.yaml": APP_WITH.format(start="w") + f"    size: {value}\n"})
    assert error_of(tmp_path) == f".platform.app.yaml:6: invalid YAML: {message}"


def test_nul_in_an_include_path(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": APP_WITH.format(start='!include "a\\0b"')})
    assert error_of(tmp_path) == (".platform.app.yaml:5: !include: 'path' cannot contain a "
                                  "NUL character: 'a\\x00b'")


def test_name_with_a_trailing_newline(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": 'name: app\nworkers:\n  "queue\\n":\n'
                                           "    commands: {start: run}\n"})
    assert error_of(tmp_path) == (".platform.app.yaml:3: worker name 'queue\\n' must be "
                                  "letters, digits, '-' or '_' (starting with a letter or digit)")


@pytest.mark.parametrize("kind", ["app", "worker"])
def test_very_long_names(tmp_path: Path, kind: str) -> None:
    long = "w" * 250
    app, worker = (long, "q") if kind == "app" else ("app", long)
    write(tmp_path, {".platform.app.yaml": f"name: {app}\nworkers:\n  {worker}:\n"
                                           "    commands: {start: run}\n"})
    assert error_of(tmp_path).endswith(f"{kind} name 'wwwwwwwwwwwwwwwwwwwwwwww...' is 250 "
                                       "characters long; at most 63 are allowed")
    name = "w" * 63  # the limit itself is fine
    (tmp_path / ".platform.app.yaml").write_text(
        f"name: app\nworkers:\n  {name}:\n    commands: {{start: run}}\n")
    assert list(load_app(tmp_path).workers) == [name]


def test_integer_variable_name(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\nvariables:\n  env:\n    1: one\n"
                                           "workers: {}\n"})
    assert error_of(tmp_path) == (".platform.app.yaml:4: app 'app': variables.env: the name 1 "
                                  "must be a string (quote it)")


# --- directories ------------------------------------------------------------------------


def test_source_root_symlink_out_of_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = write(tmp_path / "project", {".upsun/config.yaml": """
        applications:
          app:
            source:
              root: code
            workers:
              q: {commands: {start: run}}
        """})
    (root / "code").symlink_to(outside)
    assert error_of(root) == (f".upsun/config.yaml:4: source.root 'code' leads out of the "
                              f"project (to {outside.resolve()})")


def test_source_root_with_dotdot(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": "- name: a\n  source:\n    root: ../x\n"})
    assert error_of(tmp_path) == (".platform/applications.yaml:3: source.root '../x' must be a "
                                  "directory inside the repository")


def test_current_directory_that_is_gone(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = ("import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]);"
              "from pshctl.cli import main; main(['workers'])")
    proc = subprocess.run([sys.executable, "-c", script, str(gone)], capture_output=True,
                          text=True, timeout=60, cwd=REPO, check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("error: cannot use the current directory:")
    assert "Traceback" not in proc.stderr


def _unprivileged() -> list[str]:
    """A command prefix running as an ordinary user (directory modes bind), or none."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("no setpriv to drop root")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory an ordinary user can reach (pytest's own is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="pshctl-appdef-"))
    path.chmod(0o755)
    yield path
    for directory, dirnames, _ in os.walk(path):
        for name in dirnames:
            os.chmod(os.path.join(directory, name), 0o755)
    shutil.rmtree(path)


def run_as_user(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "NO_COLOR": "1",
           "XDG_CONFIG_HOME": str(cwd / ".config")}
    return subprocess.run([*_unprivileged(), sys.executable, "-m", "pshctl", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def test_unreadable_upsun_directory(shared_tmp: Path) -> None:
    root = write(shared_tmp / "p", {".upsun/config.yaml": "applications: {}\n"})
    for path in (root,):
        path.chmod(0o755)
    (root / ".upsun").chmod(0o311)  # enter, not list
    try:
        proc = run_as_user(root, "workers")
    finally:
        (root / ".upsun").chmod(0o755)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: .upsun/: cannot list the directory: "
                                  "Permission denied"), proc.stderr


def test_unreadable_app_directory_is_skipped(shared_tmp: Path) -> None:
    root = write(shared_tmp / "p", {".platform/routes.yaml": "{}\n",
                                    "web/.platform.app.yaml": "name: web\n",
                                    "locked/.platform.app.yaml": "name: locked\n"})
    for path in (root, root / ".platform", root / "web"):
        path.chmod(0o755)
    (root / "web" / ".platform.app.yaml").chmod(0o644)
    (root / "locked").chmod(0o000)
    try:
        proc = run_as_user(root / "web", "workers", "--json")
    finally:
        (root / "locked").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["workers"] == []


def test_unreadable_current_directory(shared_tmp: Path) -> None:
    root = write(shared_tmp / "p", {".platform.app.yaml": "name: app\n"})
    for path in (root,):
        path.chmod(0o755)
    (root / "sub").mkdir()
    (root / "sub").chmod(0o111)  # enter, not read
    try:
        proc = run_as_user(root / "sub", "workers", "--json")
    finally:
        (root / "sub").chmod(0o755)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr  # the project above is still found


def test_cli_reports_limits_without_a_traceback(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": ALIAS_BOMB})
    result = cli("workers", "--json", cwd=tmp_path)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == ("error: .platform.app.yaml:9: more than 200000 values once YAML "
                             "aliases are expanded\n")
