"""Property tests of the app-definition reader, both products.

For generated and mutated app definitions (the public corpus mutated, and documents built
from the keys app definitions use), reading a project gives its apps, each broken app and
file with a located ``ConfigError``, or raises a ``PshctlError`` that says where; never another
exception, within the memory bound and deadline of tests/test_properties_readers.py. What
the reader returns must then render: every container's ``--json`` form is JSON.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pshctl.appdef import load_project
from pshctl.errors import ConfigError, PshctlError
from tests.test_properties_readers import BOUNDED, serialise, within_memory

PUBLIC = Path(__file__).parent / "data" / "public"
CORPUS = sorted(p for p in PUBLIC.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")
                and "local" not in p.parts)
PLACES = [".platform.app.yaml", ".platform/applications.yaml", ".upsun/config.yaml",
          "sub/.platform.app.yaml", ".upsun/b.yaml"]

KEYS = ["applications", "name", "type", "workers", "web", "commands", "start", "pre_start",
        "post_start", "mounts", "source", "root", "source_path", "service", "variables", "env",
        "relationships", "size", "disk", "resources", "access", "additional_hosts",
        "firewall", "timezone", "container_profile", "hooks", "crons", ".common", "q", "app"]
TOKENS = ["&a ", "*a", "<<: *a", "!include x", "!include inc.yaml", "!include {path: x}",
          "!include {type: binary, path: x}", "!include ../x", "!include /etc/passwd",
          "!archive dir", "!include sub", "!!python/object:os.system", "[", "]", "{", "}",
          ": ", "- ", "\t", "\x00", "'", '"', "\\", "\n", "? ", "|", ">", "#", "~", "null",
          "shared:files/x", "/", "..", "-1", "1e400", "XS", "queue\n", "x" * 70]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(TOKENS),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)),
                                            inner, max_size=5)),
    max_leaves=30,
)


@st.composite
def definitions(draw: st.DrawFn) -> str:
    """A generated document, or a public app definition, then mutated."""
    if draw(st.booleans()):
        text = draw(st.sampled_from(CORPUS)).read_text(encoding="utf-8")
    else:
        text = serialise(draw(documents), False)
    for _ in range(draw(st.integers(0, 5))):  # mutations: insert, delete, replace
        at = draw(st.integers(0, len(text)))
        token = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)))
        text = text[:at] + token + text[at + draw(st.integers(0, 4)):]
    return text


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("appdef")


def fresh(project_dir: Path, place: str, text: str) -> Path:
    root = project_dir / "p"
    shutil.rmtree(root, ignore_errors=True)
    (root / ".platform").mkdir(parents=True)
    (root / "x").write_text("echo included\n")
    (root / "inc.yaml").write_text("commands: {start: run}\n")
    (root / place).parent.mkdir(parents=True, exist_ok=True)
    (root / place).write_bytes(text.encode("utf-8", "surrogatepass"))
    return root


def located(error: PshctlError) -> bool:
    return isinstance(error, ConfigError) and bool(error.file)


def read(root: Path) -> Any:
    try:
        project = load_project(root)
    except PshctlError as exc:
        assert located(exc), repr(exc)
        return exc
    for error in [*project.errors.values(), *project.file_errors]:
        assert located(error), repr(error)
    for app in project.apps.values():
        for container in app.containers:
            json.dumps(container.to_dict())
    for name in [*project.apps, *project.errors]:
        try:
            project.app(name)
        except PshctlError as exc:
            assert located(exc), repr(exc)
    return project


@BOUNDED
@given(text=definitions(), place=st.sampled_from(PLACES))
@example(text="applications:\n  a: &a\n    workers: {q: *a}\n", place=".upsun/config.yaml")
@example(text="- !include x\n- !include inc.yaml\n", place=".platform/applications.yaml")
@example(text="name: a\nworkers:\n  q: !include {path: inc.yaml}\n"
              "  r: {commands: {start: !include x}}\n", place=".platform.app.yaml")
@example(text="applications: !include inc.yaml\n", place=".upsun/config.yaml")
@example(text="a: [" * 40 + "]" * 40, place=".upsun/config.yaml")
def test_reader_gives_apps_or_located_errors(project_dir: Path, text: str, place: str) -> None:
    root = fresh(project_dir, place, text)
    within_memory(lambda: read(root))


@pytest.mark.parametrize("text", ['a: "\\U001e4000"\n',
                                  '- "\\x0F": 1\n  "\\U001e40008F074": null\n'])
def test_an_escape_past_the_last_code_point_is_a_located_error(project_dir: Path,
                                                              text: str) -> None:
    """Found by the property test: PyYAML's scanner raised ValueError (chr() arg)."""
    result = read(fresh(project_dir, ".platform.app.yaml", text))
    errors = [result] if isinstance(result, PshctlError) else [*result.errors.values(),
                                                                *result.file_errors]
    assert any("invalid YAML" in str(error) for error in errors), result
