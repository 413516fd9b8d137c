"""Platform.sh's ``!include`` tag in app definitions: string, binary and yaml includes."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from pshctl.appdef import load_app, load_project
from pshctl.cli.complete import complete_worker
from pshctl.errors import ConfigError, ExitCode
from pshctl.yamlutil import loads
from tests.helpers import CliRunner

START_SH = "set -e\npython3 queue.py --verbose\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (path -> text, dedented, or bytes) under ``root``; return ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


def config_error(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_app(root)
    return str(info.value)


def app_with_start(tag: str) -> dict[str, str | bytes]:
    """An app whose worker ``queue`` has ``commands.start: TAG`` on line 5."""
    return {
        ".platform.app.yaml": f"""
            name: app
            workers:
              queue:
                commands:
                  start: {tag}
            """,
    }


# --- string, binary, yaml ---------------------------------------------------------------


def test_string_include_is_the_start_command(tmp_path: Path) -> None:
    write(tmp_path, {**app_with_start("!include {type: string, path: start.sh}"),
                     "start.sh": START_SH})
    assert load_app(tmp_path).worker("queue").start_command == START_SH.strip()


def test_block_mapping_form(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": """
            name: app
            workers:
              queue:
                commands:
                  start: !include
                    type: string
                    path: start.sh
            """,
        "start.sh": START_SH,
    })
    assert load_app(tmp_path).worker("queue").start_command == START_SH.strip()


def test_workers_show_json_has_the_included_text(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, {**app_with_start("!include {type: string, path: start.sh}"),
                     "start.sh": START_SH})
    result = cli("workers", "show", "queue", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert result.json["worker"]["commands"] == {"start": START_SH.strip()}
    assert result.json["worker"]["line"] == 3
    listing = cli("workers", "--json", cwd=tmp_path)
    assert listing.json["workers"][0]["commands"]["start"] == START_SH.strip()


def test_binary_include_is_base64(tmp_path: Path) -> None:
    blob = bytes(range(256))
    write(tmp_path, {
        ".platform.app.yaml": """
            name: app
            workers:
              queue:
                commands: {start: run}
                variables:
                  env:
                    BLOB: !include {type: binary, path: data/blob.bin}
            """,
        "data/blob.bin": blob,
    })
    env = load_app(tmp_path).worker("queue").env
    assert base64.b64decode(env["BLOB"]) == blob


WORKER_YAML = """
    size: M
    commands:
      start: python3 queue.py
    """


def test_yaml_include_of_a_worker_keeps_inheritance(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": """
            name: app
            disk: 512
            relationships: {database: "db:mysql"}
            workers:
              queue: !include {type: yaml, path: workers/queue.yaml}
              mail: !include workers/mail.yaml
            """,
        "workers/queue.yaml": WORKER_YAML,
        "workers/mail.yaml": "commands: {start: python3 mail.py}\ndisk: 128\n",
    })
    app = load_app(tmp_path)
    assert list(app.workers) == ["queue", "mail"]
    queue, mail = app.worker("queue"), app.worker("mail")
    assert queue.size == "M" and queue.disk == 512
    assert queue.start_command == "python3 queue.py"
    assert queue.own == {"size"}
    assert queue.inherited == {"disk", "relationships"}
    assert mail.disk == 128  # the scalar shorthand means type: yaml
    assert mail.own == {"disk"}
    assert mail.inherited == {"relationships"}


def test_yaml_include_of_variables_inherited_and_own(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": """
            name: app
            variables: !include {type: yaml, path: vars.yaml}
            workers:
              queue:
                commands: {start: run}
              mail:
                commands: {start: run}
                variables: !include mail-vars.yaml
            """,
        "vars.yaml": "env:\n  MODE: production\n  WORKERS: 4\n",
        "mail-vars.yaml": "env: {MODE: mail}\n",
    })
    app = load_app(tmp_path)
    queue, mail = app.worker("queue"), app.worker("mail")
    assert queue.env == {"MODE": "production", "WORKERS": "4"}
    assert queue.source_of("variables") == "inherited"
    assert mail.env == {"MODE": "mail"}
    assert mail.source_of("variables") == "own"
    shown = cli("workers", "show", "queue", "--json", cwd=tmp_path)
    assert shown.json["worker"]["inherited"] == ["variables"]
    assert shown.json["worker"]["variables"] == {"env": {"MODE": "production", "WORKERS": 4}}


def test_included_yaml_may_include_relative_to_the_app(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  queue: !include workers/queue.yaml\n",
        "workers/queue.yaml": "commands:\n  start: !include {type: string, path: start.sh}\n",
        "start.sh": START_SH,  # relative to the app's directory, not to workers/
    })
    app = load_app(tmp_path)
    assert app.worker("queue").start_command == START_SH.strip()
    # Every file the definition came from: the sandbox sees an edit to any of them.
    root = tmp_path.resolve()
    assert [p.resolve() for p in app.files] == [
        root / ".platform.app.yaml", root / "workers/queue.yaml", root / "start.sh"
    ]


def test_whole_workers_section_included(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers: !include workers.yaml\n",
        "workers.yaml": "queue: {commands: {start: a}}\nmail: {commands: {start: b}}\n",
    })
    assert list(load_app(tmp_path).workers) == ["queue", "mail"]


# --- where paths lead --------------------------------------------------------------------


def test_applications_yaml_paths_are_relative_to_source_root(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform/applications.yaml": """
            - name: api
              source: {root: backend}
              workers:
                queue:
                  commands:
                    start: !include {type: string, path: scripts/queue.sh}
                mail:
                  commands:
                    start: !include {type: string, path: ../shared/mail.sh}
            """,
        "backend/scripts/queue.sh": "python3 queue.py\n",
        "shared/mail.sh": "python3 mail.py\n",
    })
    app = load_app(tmp_path)
    assert app.worker("queue").start_command == "python3 queue.py"
    assert app.worker("mail").start_command == "python3 mail.py"
    root = tmp_path.resolve()
    assert [p.resolve() for p in app.included] == [
        root / "backend/scripts/queue.sh", root / "shared/mail.sh"
    ]


def test_parent_directory_inside_the_project_is_allowed(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform/routes.yaml": "{}\n",
        "backend/.platform.app.yaml": (
            "name: backend\nworkers:\n"
            "  queue: {commands: {start: !include {type: string, path: ../shared/run.sh}}}\n"
        ),
        "shared/run.sh": "python3 run.py\n",
    })
    assert load_app(tmp_path).worker("queue").start_command == "python3 run.py"


def test_path_escaping_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(tmp_path, {"outside.sh": "echo no\n"})
    write(project, app_with_start("!include {type: string, path: ../outside.sh}"))
    assert config_error(project) == (
        f".platform.app.yaml:5: !include: '../outside.sh' is outside the project "
        f"({project.resolve()})"
    )


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(tmp_path, {"outside.sh": "echo no\n"})
    write(project, app_with_start("!include {type: string, path: start.sh}"))
    (project / "start.sh").symlink_to(tmp_path / "outside.sh")
    assert "!include: 'start.sh' is outside the project" in config_error(project)


def test_absolute_path_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {**app_with_start("!include {type: string, path: /etc/hostname}")})
    assert config_error(tmp_path) == (
        ".platform.app.yaml:5: !include: '/etc/hostname' must be relative to the app's directory"
    )


# --- one clear error each ----------------------------------------------------------------


def test_missing_file(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, app_with_start("!include {type: string, path: start.sh}"))
    message = ".platform.app.yaml:5: !include: cannot read 'start.sh' (No such file or directory)"
    assert config_error(tmp_path) == message
    result = cli("workers", cwd=tmp_path)
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("!include {type: text, path: start.sh}",
         "unknown type 'text'; valid types: string, binary, yaml"),
        ("!include {type: archive, path: scripts}",
         "type 'archive' (a directory) is not supported; valid types: string, binary, yaml"),
        ("!include {type: string}", "'path' is required"),
        ("!include", "'path' is required"),
        ("!include {type: string, path: [a, b]}", "'path' must be a string, not ['a', 'b']"),
        ("!include {type: string, paht: start.sh}",
         "unknown key 'paht' (expected 'type' and 'path')"),
        ("!include [start.sh]", "expected a file path, or a mapping with 'type' and 'path'"),
    ],
)
def test_bad_tags(tmp_path: Path, tag: str, problem: str) -> None:
    write(tmp_path, {**app_with_start(tag), "start.sh": START_SH})
    assert config_error(tmp_path) == f".platform.app.yaml:5: !include: {problem}"


def test_not_utf8_text_suggests_binary(tmp_path: Path) -> None:
    write(tmp_path, {**app_with_start("!include {type: string, path: start.sh}"),
                     "start.sh": b"\xff\xfe"})
    assert config_error(tmp_path) == (
        ".platform.app.yaml:5: !include: 'start.sh' is not UTF-8 text "
        "(type: binary takes any file)"
    )


def test_include_cycle(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  queue: !include a.yaml\n",
        "a.yaml": "commands: !include b.yaml\n",
        "b.yaml": "# b includes a\nstart: !include a.yaml\n",
    })
    assert config_error(tmp_path) == (
        "b.yaml:2: !include: include cycle: .platform.app.yaml -> a.yaml -> b.yaml -> a.yaml"
    )


def test_including_the_definition_itself_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\nworkers: !include .platform.app.yaml\n"})
    assert config_error(tmp_path) == (
        ".platform.app.yaml:2: !include: include cycle: .platform.app.yaml -> .platform.app.yaml"
    )


def test_yaml_error_in_the_included_file_names_it(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  queue: !include workers/queue.yaml\n",
        "workers/queue.yaml": "# the queue\nsize: M\n  commands: {start: run}\n",
    })
    assert config_error(tmp_path) == (
        "workers/queue.yaml:3: invalid YAML: mapping values are not allowed here"
    )


def test_duplicate_key_in_the_included_file_has_its_line(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  queue: !include queue.yaml\n",
        "queue.yaml": "size: M\ncommands: {start: run}\nsize: L\n",
    })
    assert config_error(tmp_path) == "queue.yaml:3: invalid YAML: duplicate key 'size'"


def test_later_problem_in_included_data_is_reported_at_the_tag(tmp_path: Path) -> None:
    # Lines of included mappings are the tag's: the definition file's line numbers stay true.
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  queue: !include queue.yaml\n",
        "queue.yaml": "# a comment\n\ndisk: lots\ncommands: {start: run}\n",
    })
    assert config_error(tmp_path).startswith(
        ".platform.app.yaml:3: worker 'queue': disk must be a whole number"
    )


def test_include_is_not_merged_with_merge_key(tmp_path: Path) -> None:
    write(tmp_path, {
        ".platform.app.yaml": (
            "name: app\nworkers:\n  queue:\n    <<: !include {path: queue.yaml}\n"
        ),
        "queue.yaml": "commands: {start: run}\n",
    })
    assert config_error(tmp_path) == (
        ".platform.app.yaml:4: invalid YAML: !include cannot be merged with '<<'"
    )


def test_other_yaml_files_do_not_accept_the_tag() -> None:
    with pytest.raises(ConfigError) as info:
        loads("environments: !include envs.yaml\n", file=".pshctl.yaml")
    assert str(info.value).startswith(
        ".pshctl.yaml:1: invalid YAML: could not determine a constructor for the tag '!include'"
    )


# --- Tab completion ----------------------------------------------------------------------


def test_completion_lists_workers_whose_values_are_includes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {
        ".platform.app.yaml": """
            name: app
            variables: !include vars.yaml
            workers:
              queue: !include {type: yaml, path: queue.yaml}
              mail: !include mail.yaml
              cron:
                commands:
                  start: !include
                    type: string
                    path: cron.sh
              reports:
                commands: {start: !include {type: string, path: reports.sh}}
            """,
    })
    monkeypatch.chdir(tmp_path)
    assert complete_worker("") == ["queue", "mail", "cron", "reports"]
    assert complete_worker("m") == ["mail"]


# --- the bounds, at the bound and one past it ----------------------------------------------


def include_chain(length: int) -> dict[str, str | bytes]:
    """Worker ``q`` included through ``length + 1`` files, each including the next."""
    files: dict[str, str | bytes] = {
        ".platform.app.yaml": "name: app\nworkers:\n  q: !include f0.yaml\n"}
    files.update({f"f{i}.yaml": f"!include f{i + 1}.yaml\n" for i in range(length)})
    files[f"f{length}.yaml"] = "commands: {start: run}\n"
    return files


def test_includes_nested_up_to_the_bound(tmp_path: Path) -> None:
    write(tmp_path / "ok", include_chain(15))
    assert load_app(tmp_path / "ok").worker("q").start_command == "run"
    write(tmp_path / "over", include_chain(16))
    assert config_error(tmp_path / "over") == (
        "f15.yaml:1: !include: includes nested more than 16 deep")


def test_files_included_up_to_the_bound(tmp_path: Path) -> None:
    def app(count: int) -> dict[str, str | bytes]:
        env = "".join(f"    V{i}: !include {{type: string, path: v.txt}}\n" for i in range(count))
        return {".platform.app.yaml": f"name: app\nvariables:\n  env:\n{env}", "v.txt": "x"}

    write(tmp_path / "ok", app(500))  # each tag counts, the same file or not
    assert load_app(tmp_path / "ok").included == (tmp_path / "ok" / "v.txt",)
    write(tmp_path / "over", app(501))
    assert config_error(tmp_path / "over") == (
        ".platform.app.yaml:504: !include: more than 500 files included by one app")


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize(("text", "problem"), [
    (f"  x: {nested(62)}\n", None),
    (f"  x: {nested(63)}\n", ".platform.app.yaml:3: nested more than 64 levels deep"),
    # An alias counts at its own depth plus the depth of what it refers to.
    (f"  a: &a {nested(5, '0')}\n  y: {nested(57, '*a')}\n", None),
    (f"  a: &a {nested(5, '0')}\n  y: {nested(58, '*a')}\n",
     ".platform.app.yaml:4: nested more than 64 levels deep"),
    # A mapping too: where the alias is used, not where its anchor is.
    ("  a: &a {k: {k: {k: {k: {k: 0}}}}}\n" f"  y: {nested(58, '*a')}\n",
     ".platform.app.yaml:4: nested more than 64 levels deep"),
    # Each mapping at its own line: the first too deep is the one at line 63.
    ("".join("  " * i + f"k{i}:\n" for i in range(1, 63)) + "  " * 63 + "k: 1\n", None),
    ("".join("  " * i + f"k{i}:\n" for i in range(1, 64)) + "  " * 64 + "k: 1\n",
     ".platform.app.yaml:66: nested more than 64 levels deep"),
])
def test_nesting_up_to_the_bound(tmp_path: Path, text: str, problem: str | None) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\naccess:\n" + text})
    if problem is None:
        assert load_app(tmp_path).name == "app"
    else:
        assert config_error(tmp_path) == problem


def test_a_list_too_deep_in_an_included_file_is_reported_at_its_own_line(
        tmp_path: Path) -> None:
    # Lists carry their line as mappings do: the included file's, not the tag's.
    write(tmp_path, {".platform.app.yaml": "name: app\naccess:\n  x: !include deep.yaml\n",
                     "deep.yaml": f"# too deep\n{nested(70)}\n"})
    assert config_error(tmp_path) == "deep.yaml:2: nested more than 64 levels deep"
    # One list a line, each in the one above, the first at level 3 (app, access, x): the
    # 63rd, on line 64, is the first too deep.
    write(tmp_path, {"deep.yaml": "# too deep\n" + "".join(
        "  " * i + "-\n" for i in range(70)) + "  " * 70 + "- 0\n"})
    assert config_error(tmp_path) == "deep.yaml:64: nested more than 64 levels deep"


@pytest.mark.parametrize(("extra", "fits"), [(793, True), (794, False)])
def test_values_up_to_the_bound(tmp_path: Path, extra: int, fits: bool) -> None:
    # 1 + 1 (name) + 1 + the access mapping: 1 + 1001 (x) + 1 + 198 * 1001 + 1 (y)
    # + 1 + 1 + extra (z): 200,000 values with 793 extra ones.
    write(tmp_path, {".platform.app.yaml": (
        "name: app\naccess:\n  x: &a [" + ",".join(["0"] * 999) + "]\n"
        "  y: [" + ",".join(["*a"] * 198) + "]\n  z: [" + ",".join(["0"] * extra) + "]\n")})
    if fits:
        assert load_app(tmp_path).name == "app"
    else:
        assert config_error(tmp_path) == (
            ".platform.app.yaml:1: more than 200000 values once YAML aliases are expanded")


# --- the other tags and places --------------------------------------------------------------


def test_archive_is_kept_as_written_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\nvariables:\n  env:\n"
                                           "    X: !archive scripts\n"
                                           "    Y: !archive {path: assets}\nworkers:\n"
                                           "  q: {commands: {start: run}}\n"})
    app = load_app(tmp_path)
    assert app.warnings == (
        ".platform.app.yaml:4: !archive 'scripts' (a directory) is not read by pshctl",
        ".platform.app.yaml:5: !archive 'assets' (a directory) is not read by pshctl")
    assert app.worker("q").variables == {"env": {"X": {"archive": "scripts"},
                                                 "Y": {"archive": "assets"}}}
    assert app.files == (tmp_path / ".platform.app.yaml",)


def test_include_as_a_key(tmp_path: Path) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\nvariables:\n  env:\n"
                                           "    ? !include a.yaml\n    : 1\n"})
    assert config_error(tmp_path) == ".platform.app.yaml:4: !include: cannot be used as a key"


def test_included_data_takes_the_line_of_its_tag(tmp_path: Path) -> None:
    # Keys nested anywhere in the included file, lists included, are at the tag's line.
    write(tmp_path, {
        ".platform.app.yaml": "name: app\nworkers:\n  queue: !include queue.yaml\n",
        "queue.yaml": """
            # the queue
            variables:
              env:
                5: five
            commands: {start: run}
        """,
    })
    assert config_error(tmp_path) == (".platform.app.yaml:3: worker 'queue': variables.env: "
                                      "the name 5 must be a string (quote it)")
    write(tmp_path, {"queue.yaml": """
        # the queue
        commands: {start: run}

        firewall:
          outbound: [{ips: [10.0.0.0/8]}]
    """})
    assert load_app(tmp_path).worker("queue").warnings == (
        ".platform.app.yaml:3: worker 'queue': 'firewall' cannot be set here; the app's "
        "applies (Platform.sh)",)


@pytest.mark.parametrize(("tag", "files", "problem"), [
    ("!include queue.yaml", {}, "workers/queue.yaml:1: !include: cannot read 'queue.yaml' "
                                "(No such file or directory)"),
    ("!include queue.yaml", {"queue.yaml": b"commands: {start: \xff}\n"},
     "workers/queue.yaml:1: !include: 'queue.yaml' is not UTF-8 text (type: binary takes any "
     "file)"),
])
def test_problems_of_a_nested_yaml_include_name_its_file(
        tmp_path: Path, tag: str, files: dict[str, str | bytes], problem: str) -> None:
    write(tmp_path, {".platform.app.yaml": "name: app\nworkers:\n"
                                           "  q: !include workers/queue.yaml\n",
                     "workers/queue.yaml": f"{tag}\n", **files})
    assert config_error(tmp_path) == problem


@pytest.mark.parametrize(("entry", "problem"), [
    ("!include {type: string, path: app.yaml}",
     "!include: an app must be included as YAML, not type 'string'"),
    ("!include applications.yaml",
     "!include: include cycle: .platform/applications.yaml -> .platform/applications.yaml"),
    ("!include {path: ''}", "!include: 'path' is required"),
    ("!include ../../app.yaml", "!include: '../../app.yaml' is outside the project ({root})"),
    ("!include nothere.yaml",
     "!include: cannot read 'nothere.yaml' (No such file or directory)"),
    ("!include latin1.yaml",
     "!include: 'latin1.yaml' is not UTF-8 text (type: binary takes any file)"),
])
def test_whole_app_include_problems(tmp_path: Path, entry: str, problem: str) -> None:
    write(tmp_path, {".platform/applications.yaml": f"- name: ok\n- {entry}\n",
                     ".platform/app.yaml": "name: app\n",
                     ".platform/latin1.yaml": b"name: caf\xe9\n"})
    project = load_project(tmp_path)
    assert list(project.apps) == ["ok"]
    assert [str(e) for e in project.file_errors] == [
        ".platform/applications.yaml:2: " + problem.format(root=tmp_path.resolve())]


def test_whole_app_include_with_a_yaml_error_names_its_file(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": "- !include app.yaml\n",
                     ".platform/app.yaml": "name: app\nworkers: [\n"})
    assert config_error(tmp_path).startswith(".platform/app.yaml:3: invalid YAML")


def test_whole_app_include_reads_relative_to_its_file(tmp_path: Path) -> None:
    write(tmp_path, {".platform/applications.yaml": "- !include apps/app.yaml\n",
                     ".platform/apps/app.yaml": "name: app\nsource: {root: code}\n"
                                                "variables: !include vars.yaml\n",
                     "code/vars.yaml": "env: {A: from-code}\n"})
    app = load_app(tmp_path)
    assert (app.file, app.root, app.source) == (".platform/apps/app.yaml", tmp_path / "code",
                                                tmp_path / ".platform/apps/app.yaml")
    assert app.files == (tmp_path / ".platform/apps/app.yaml",
                         tmp_path / ".platform/applications.yaml", tmp_path / "code/vars.yaml")
