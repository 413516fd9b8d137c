"""The two products' readers, whole: which apps a project's files define, read from where,
at which line, and every problem word for word (pshctl/appdef/platformsh.py and upsun.py).

Each test compares the whole outline of a project (:func:`outline`): its apps with their
file, line, directory and files read, the broken ones with their errors, and its warnings.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from pshctl.appdef import layout, load_project


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def outline(root: Path) -> dict[str, Any]:
    """What the project's files define, paths relative to ``root``."""
    project = load_project(root)

    def rel(path: Path) -> str:
        return str(path.relative_to(root)) if path != root else "."

    return {
        "apps": {name: {"file": app.file, "line": app.line, "root": rel(app.root),
                        "source": rel(app.source), "included": [rel(p) for p in app.included],
                        "workers": {w.name: w.start_command for w in app.workers.values()},
                        "choice": app.choice == project.choice}
                 for name, app in project.apps.items()},
        "errors": {name: str(error) for name, error in project.errors.items()},
        "file_errors": [str(error) for error in project.file_errors],
        "warnings": list(project.warnings),
    }


def app(file: str, line: int, root: str = ".", source: str | None = None,
        included: tuple[str, ...] = (), **workers: str) -> dict[str, Any]:
    return {"file": file, "line": line, "root": root, "source": source or file,
            "included": list(included), "workers": workers, "choice": True}


NOTHING: dict[str, Any] = {"apps": {}, "errors": {}, "file_errors": [], "warnings": []}


# --- Platform.sh: .platform/applications.yaml ------------------------------------------

NAME_RULE = "must be letters, digits, '-' or '_' (starting with a letter or digit)"


def test_applications_list(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform/applications.yaml": """
            - name: api
              source: {root: api}
              workers: {q: {commands: {start: q.py}}}
            - !include admin.yaml
            - 5
            - name: bad name
            - type: php:8.3
        """,
        ".platform/admin.yaml": "name: admin\nworkers: {r: {commands: {start: r.js}}}\n",
    })
    bad = f".platform/applications.yaml:6: app name 'bad name' {NAME_RULE}"
    # An entry without a name cannot be told from the app asked for: it counts as the file's.
    nameless = [".platform/applications.yaml:1: each app must be a mapping",
                ".platform/applications.yaml:7: the app's 'name' is required"]
    assert outline(tmp_path) == {
        "apps": {"api": app(".platform/applications.yaml", 1, "api", q="q.py"),
                 "admin": app(".platform/admin.yaml", 1,
                              included=(".platform/applications.yaml",), r="r.js")},
        "errors": {"bad name": bad},
        "file_errors": nameless,
        "warnings": [f"app 'bad name' is not loaded: {bad}",
                     *(f".platform/applications.yaml is not read: {e}" for e in nameless)],
    }


def test_applications_mapping(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform/applications.yaml": """
            .common: &common
              type: python:3.12
            api:
              <<: *common
              workers: {q: {commands: {start: q.py}}}
            other:
              name: renamed
            web: 5
            'bad name': {}
            inc: !include inc.yaml
        """,
        ".platform/inc.yaml": "type: php:8.3\n",
    })
    bad = f".platform/applications.yaml:9: app name 'bad name' {NAME_RULE}"
    web = ".platform/applications.yaml:8: each app must be a mapping"
    assert outline(tmp_path) == {
        "apps": {"api": app(".platform/applications.yaml", 4, q="q.py"),
                 "renamed": app(".platform/applications.yaml", 7),
                 "inc": app(".platform/inc.yaml", 1, included=(".platform/applications.yaml",))},
        "errors": {"web": web, "bad name": bad},
        "file_errors": [],
        "warnings": [f"app 'web' is not loaded: {web}", f"app 'bad name' is not loaded: {bad}"],
    }
    assert load_project(tmp_path).apps["api"].type == "python:3.12"


def test_applications_wrapped_in_applications_key(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": """
        applications:
          a: {}
          .x: {}
          b: {workers: {w: {commands: {start: go}}}}
    """})
    assert outline(tmp_path) == {**NOTHING, "apps": {
        "a": app(".platform/applications.yaml", 2),
        "b": app(".platform/applications.yaml", 4, w="go")}}


def test_app_file_wrapped_in_applications_key(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": "applications:\n  a: {}\n  .x: {}\n"
                                           "  b: {workers: {w: {commands: {start: go}}}}\n",
                     "sub/.platform.app.yaml": "name: sub\napplications: {c: {}}\n"})
    assert outline(tmp_path) == {**NOTHING, "apps": {
        "a": app(".platform.app.yaml", 2), "b": app(".platform.app.yaml", 4, w="go"),
        "sub": app("sub/.platform.app.yaml", 1, "sub")}}


def test_applications_file_that_is_not_apps(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": "just text\n",
                     "web/.platform.app.yaml": "name: web\n"})
    error = (".platform/applications.yaml:1: must be a list of apps, or a mapping of app "
             "names to apps")
    assert outline(tmp_path) == {
        **NOTHING, "apps": {"web": app("web/.platform.app.yaml", 1, "web")},
        "file_errors": [error], "warnings": [f".platform/applications.yaml is not read: {error}"]}


def test_empty_applications_file(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": "", ".platform.app.yaml": "name: solo\n"})
    assert outline(tmp_path) == {**NOTHING, "apps": {"solo": app(".platform.app.yaml", 1)}}


@pytest.mark.parametrize(("text", "error"), [
    ("- a\n", ".platform.app.yaml:1: the app definition must be a mapping"),
    ("type: php:8.3\n\nworkers: {}\n", ".platform.app.yaml:1: the app's 'name' is required"),
    ("type: php:8.3\napplications: {a: {}}\n",
     ".platform.app.yaml:1: the app's 'name' is required"),
    ("type: php:8.3\nname: [a]\n", ".platform.app.yaml:2: app name ['a'] " + NAME_RULE),
    # the wrapped form (`applications:` of named apps): each of them a mapping
    ("applications:\n  web: {type: 'php:8.3'}\n  queue: 1\n",
     ".platform.app.yaml:3: each app must be a mapping"),
])
def test_app_file_that_is_not_an_app(tmp_path: Path, text: str, error: str) -> None:
    write(tmp_path, {".platform.app.yaml": text})
    assert outline(tmp_path) == {**NOTHING, "file_errors": [error],
                                 "warnings": [f".platform.app.yaml is not read: {error}"]}


# --- Upsun: .upsun/*.yaml -----------------------------------------------------------------


def test_upsun_files_one_by_one(tmp_path: Path) -> None:
    write(tmp_path, {
        ".upsun/a.yaml": "",
        ".upsun/b.yaml": "- 1\n",
        ".upsun/c.yaml": "services: {}\napplications: [a]\n",
        ".upsun/d.yaml": "services: {}\napplications:\n",
        ".upsun/e.yaml": """
            routes: {}

            applications:
              .x: {}
              ok: {}
              'bad name': {}
              five: 5
              inc: !include apps/inc.yaml
        """,
        ".upsun/apps/inc.yaml": "type: php:8.3\n",
        ".upsun/f.yaml": "applications:\n  5: {}\n",
        ".upsun/.hidden.yaml": "oops: [",
        ".upsun/notes.txt": "x",
    })
    errors = {"bad name": f".upsun/e.yaml:6: app name 'bad name' {NAME_RULE}",
              "five": ".upsun/e.yaml:7: app 'five' must be a mapping"}
    files = [".upsun/b.yaml:1: must be a mapping with applications, services and routes",
             ".upsun/c.yaml:2: 'applications' must be a mapping of app names to apps",
             f".upsun/f.yaml:2: app name 5 {NAME_RULE}"]
    assert outline(tmp_path) == {
        "apps": {"ok": app(".upsun/e.yaml", 5),
                 "inc": app(".upsun/apps/inc.yaml", 1, included=(".upsun/e.yaml",))},
        "errors": errors,
        "file_errors": files,
        "warnings": [*(f"app '{name}' is not loaded: {error}" for name, error in errors.items()),
                     *(f"{e.split(':')[0]} is not read: {e}" for e in files)],
    }


def test_upsun_applications_included_from_another_file(tmp_path: Path) -> None:
    write(tmp_path, {
        ".upsun/config.yaml": "services: {}\napplications: !include apps/all.yaml\n",
        ".upsun/apps/all.yaml": "one: {}\ntwo:\n  workers: {w: {commands: {start: go}}}\n"
                            "three: {workers: {w: {}}}\n",
        ".upsun/list.yaml": "applications: !include apps/list.yaml\n",
        # The same file included again: the same definitions, not a second one.
        ".upsun/more.yaml": "applications: !include apps/all.yaml\n",
        ".upsun/apps/list.yaml": "- one\n",
    })
    # The apps are defined in the included file, at its lines; editing either file changes them.
    error = ".upsun/apps/all.yaml:4: worker 'w': commands.start is required"
    files = ".upsun/apps/list.yaml:1: 'applications' must be a mapping of app names to apps"
    holder = (".upsun/more.yaml",)
    assert outline(tmp_path) == {
        "apps": {"one": app(".upsun/apps/all.yaml", 1, included=holder),
                 "two": app(".upsun/apps/all.yaml", 3, included=holder, w="go")},
        "errors": {"three": error},
        "file_errors": [files],
        "warnings": [f"app 'three' is not loaded: {error}",
                     f".upsun/apps/list.yaml is not read: {files}"],
    }


# --- a whole list of apps included -------------------------------------------------------


def test_applications_file_that_includes_the_list(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform/applications.yaml": "!include apps.yaml\n",
        ".platform/apps.yaml": "- name: a\n- name: b\n  workers: {w: {commands: {}}}\n"
                               "- !include c.yaml\n",
        ".platform/c.yaml": "name: c\n",
    })
    error = ".platform/apps.yaml:3: worker 'w': commands.start is required"
    holder = ".platform/applications.yaml"
    assert outline(tmp_path) == {
        "apps": {"a": app(".platform/apps.yaml", 1, included=(holder,)),
                 "c": app(".platform/c.yaml", 1, included=(holder, ".platform/apps.yaml"))},
        "errors": {"b": error}, "file_errors": [],
        "warnings": [f"app 'b' is not loaded: {error}"]}


def test_whole_app_included_that_is_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": "- name: ok\n- !include five.yaml\n"
                                                    "- !include list.yaml\n",
                     ".platform/five.yaml": "5\n", ".platform/list.yaml": "- a\n",
                     ".upsun/config.yaml": "applications:\n  five: !include apps/five.yaml\n",
                     ".upsun/apps/five.yaml": "# five\n5\n"})
    assert [str(e) for e in load_project(tmp_path, product="platformsh").file_errors] == [
        ".platform/five.yaml:1: each app must be a mapping",
        ".platform/list.yaml:1: each app must be a mapping"]
    assert str(load_project(tmp_path).errors["five"]) == (
        ".upsun/apps/five.yaml:1: app 'five' must be a mapping")


def test_an_upsun_directory_that_cannot_be_listed(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {".upsun/config.yaml": "applications: {app: {}}\n"})
    real_scandir = layout.os.scandir

    def scandir(path: Any) -> Any:
        if str(path) == str(tmp_path / ".upsun"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(layout.os, "scandir", scandir)
    error = ".upsun/: cannot list the directory: Permission denied"
    assert outline(tmp_path) == {**NOTHING, "file_errors": [error],
                                 "warnings": [f".upsun/ is not read: {error}"]}


def test_app_files_with_problems(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  q: {}\n",
        "a/.platform.app.yaml": "applications:\n  5: {}\n  ok: {}\n",
        ".platform/applications.yaml": "- name: listed\n- name: other\n  name: again\n",
    })
    errors = {"app": ".platform.app.yaml:3: worker 'q': commands.start is required"}
    files = [".platform/applications.yaml:3: invalid YAML: duplicate key 'name'",
             f"a/.platform.app.yaml:2: app name 5 {NAME_RULE}"]
    assert outline(tmp_path) == {
        "apps": {"ok": app("a/.platform.app.yaml", 3, "a")},
        "errors": errors,
        "file_errors": files,
        "warnings": [f"app 'app' is not loaded: {errors['app']}",
                     f".platform/applications.yaml is not read: {files[0]}",
                     f"a/.platform.app.yaml is not read: {files[1]}"],
    }
