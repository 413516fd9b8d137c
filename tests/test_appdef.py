"""The app definition: Platform.sh's inheritance rule, multi-app projects, file:line errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pshctl.appdef import find_project_root, load_app, load_apps
from pshctl.errors import ConfigError, ExitCode, NameNotFound, UsageError

REFERENCE = Path(__file__).parent / "data" / "reference"


def write_app(root: Path, text: str, name: str = ".platform.app.yaml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def config_error(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_app(root)
    return info.value


# --- the reference examples ------------------------------------------------------------


def test_reference_examples_one_and_two_yield_identical_workers() -> None:
    top = load_app(REFERENCE / "inherit-top")
    own = load_app(REFERENCE / "inherit-worker")
    assert list(top.workers) == list(own.workers) == ["queue", "mail"]
    for name in ("queue", "mail"):
        assert top.worker(name).effective() == own.worker(name).effective()
    for worker in top.workers.values():
        assert worker.disk == 256
        assert worker.mounts == {"test": {"source": "local", "source_path": "test"}}
        assert worker.relationships == {"database": "mysqldb:mysql"}
        assert worker.inherited == {"disk", "mounts", "relationships"}
        assert worker.own == frozenset()
    for worker in own.workers.values():
        assert worker.inherited == frozenset()
        assert worker.own == {"disk", "mounts", "relationships"}


def test_reference_example_three_customized_workers() -> None:
    app = load_app(REFERENCE / "customized")
    queue, mail = app.worker("queue"), app.worker("mail")

    assert queue.size == "M"
    assert queue.disk == 512
    assert queue.mounts == {"scratch": {"source": "local", "source_path": "scratch"}}
    assert queue.relationships == {
        "database": "mysqldb:mysql",
        "messages": "rabbitqueue:rabbitmq",
    }
    assert queue.variables == {"env": {"type": "worker"}}
    assert queue.env == {"type": "worker"}
    assert queue.inherited == {"relationships"}
    assert queue.start_command == "python queue-worker.py"

    assert mail.size == "S"
    assert mail.disk == 256
    assert mail.mounts == {}
    assert mail.relationships == {"emails": "rabbitqueue:rabbitmq"}
    assert mail.env == {"type": "worker"}
    assert mail.inherited == frozenset()


def test_reference_example_three_web_container() -> None:
    web = load_app(REFERENCE / "customized").web
    assert web is not None
    assert web.kind == "web"
    assert web.start_command == "gunicorn -b $PORT project.wsgi:application"
    assert web.env == {"type": "web"}
    assert list(web.mounts) == ["uploads"]
    assert web.disk == 2048
    assert web.inherited == {"disk", "relationships"}


def test_hooks_crons_and_web_are_not_a_workers(tmp_path: Path) -> None:
    app = load_app(REFERENCE / "customized")
    for worker in app.workers.values():
        data = worker.to_dict()
        assert not {"hooks", "crons", "web", "locations"} & set(data)
    write_app(tmp_path, """
        name: app
        crons:
            nightly: {spec: '0 0 * * *', commands: {start: 'true'}}
        workers:
            q: {commands: {start: run}}
    """)
    assert "crons" not in load_app(tmp_path).worker("q").to_dict()


def test_to_dict_has_the_documented_keys() -> None:
    data = load_app(REFERENCE / "customized").worker("queue").to_dict()
    for key in ("name", "size", "disk", "mounts", "relationships", "variables", "commands",
                "inherited"):
        assert key in data
    assert data["inherited"] == ["relationships"]
    assert data["commands"] == {"start": "python queue-worker.py"}


# --- inheritance details ---------------------------------------------------------------


def test_worker_key_replaces_top_level_whole(tmp_path: Path) -> None:
    write_app(tmp_path, """
        name: app
        variables:
            env: {A: '1', B: '2'}
            php: {memory_limit: 256M}
        relationships: {database: 'db:mysql', cache: 'redis:redis'}
        workers:
            w:
                commands: {start: run}
                variables:
                    env: {A: 'x'}
    """)
    worker = load_app(tmp_path).worker("w")
    assert worker.variables == {"env": {"A": "x"}}  # no merge with the top level
    assert worker.relationships == {"database": "db:mysql", "cache": "redis:redis"}
    assert worker.inherited == {"relationships"}
    assert worker.source_of("variables") == "own"
    assert worker.source_of("relationships") == "inherited"
    assert worker.source_of("size") == "default"


def test_empty_mounts_means_no_mounts(tmp_path: Path) -> None:
    write_app(tmp_path, """
        name: app
        mounts: {data: {source: local, source_path: data}}
        workers:
            w: {commands: {start: run}, mounts: {}}
    """)
    worker = load_app(tmp_path).worker("w")
    assert worker.mounts == {}
    assert "mounts" in worker.own


def test_env_values_are_strings(tmp_path: Path) -> None:
    write_app(tmp_path, """
        name: app
        variables: {env: {COUNT: 3, DEBUG: true, NAME: x}}
        workers:
            w: {commands: {start: run}}
    """)
    assert load_app(tmp_path).worker("w").env == {"COUNT": "3", "DEBUG": "true", "NAME": "x"}


def test_no_workers(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\ntype: php:8.2\n")
    app = load_app(tmp_path)
    assert app.workers == {}
    assert app.web is None
    with pytest.raises(NameNotFound) as info:
        app.worker("queue")
    assert "(none defined)" in (info.value.hint or "")


# --- errors with file:line -------------------------------------------------------------


def test_missing_start_command_names_the_worker_line(tmp_path: Path) -> None:
    write_app(tmp_path, """
        name: app
        type: python:3.11
        workers:
            queue:
                commands:
                    start: run
            mail:
                size: S
    """)
    error = config_error(tmp_path)
    assert str(error) == ".platform.app.yaml:7: worker 'mail': commands.start is required"
    assert error.exit_code == ExitCode.CONFIG


def test_empty_start_command_is_missing(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\nworkers:\n  w:\n    commands: {start: '  '}\n")
    assert str(config_error(tmp_path)) == (
        ".platform.app.yaml:3: worker 'w': commands.start is required"
    )


def test_yaml_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\nworkers:\n  w:\n    commands: {start: run\n  x: 1\n")
    message = str(config_error(tmp_path))
    assert message.startswith(".platform.app.yaml:5: invalid YAML")


def test_unclosed_quote_says_where_it_opened(tmp_path: Path) -> None:
    write_app(tmp_path, 'name: app\nworkers:\n  w:\n    commands:\n      start: "run\n  x: 1\n')
    assert str(config_error(tmp_path)) == (
        ".platform.app.yaml:7: invalid YAML: found unexpected end of stream "
        "(while scanning a quoted scalar that starts on line 5)"
    )


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\nworkers:\n  w: {commands: {start: a}}\n"
                        "  w: {commands: {start: b}}\n")
    assert str(config_error(tmp_path)) == ".platform.app.yaml:4: invalid YAML: duplicate key 'w'"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("size: [S]", ".platform.app.yaml:4: worker 'w': size must be one of"),
        ("disk: lots", ".platform.app.yaml:4: worker 'w': disk must be a whole number"),
        ("mounts: [a]", ".platform.app.yaml:4: worker 'w': mounts must map"),
        ("variables: {env: 1}", ".platform.app.yaml:4: worker 'w': variables must map"),
        ("relationships: [db]", ".platform.app.yaml:4: worker 'w': relationships must be"),
        ("commands: run", ".platform.app.yaml:4: worker 'w': 'commands' must be a mapping"),
    ],
)
def test_bad_values_point_at_their_key(tmp_path: Path, body: str, expected: str) -> None:
    write_app(tmp_path, f"name: app\nworkers:\n  w:\n    {body}\n    commands: {{start: r}}\n"
              if not body.startswith("commands") else f"name: app\nworkers:\n  w:\n    {body}\n")
    assert str(config_error(tmp_path)).startswith(expected)


def test_bad_top_level_value(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\n\ndisk: -5\nworkers: {}\n")
    assert str(config_error(tmp_path)).startswith(
        ".platform.app.yaml:3: app 'app': disk must be")


def test_missing_app_name(tmp_path: Path) -> None:
    write_app(tmp_path, "type: php:8.2\n")
    assert str(config_error(tmp_path)) == ".platform.app.yaml:1: the app's 'name' is required"


def test_unsafe_worker_name(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\nworkers:\n  'a b;rm': {commands: {start: r}}\n")
    assert str(config_error(tmp_path)).startswith(".platform.app.yaml:3: worker name")


def test_not_a_mapping(tmp_path: Path) -> None:
    write_app(tmp_path, "- a\n- b\n")
    assert str(config_error(tmp_path)) == (
        ".platform.app.yaml:1: the app definition must be a mapping"
    )


# --- several apps ----------------------------------------------------------------------


APPLICATIONS = """
    - name: api
      type: python:3.11
      source: {root: backend}
      workers:
          queue: {commands: {start: python queue.py}}
    - name: admin
      type: nodejs:20
      source: {root: admin}
"""


def test_applications_yaml_lists_apps(tmp_path: Path) -> None:
    write_app(tmp_path, APPLICATIONS, ".platform/applications.yaml")
    apps = load_apps(tmp_path)
    assert list(apps) == ["api", "admin"]
    assert apps["api"].root == tmp_path / "backend"
    assert list(apps["api"].workers) == ["queue"]
    assert load_app(tmp_path, "admin").workers == {}


def test_several_apps_need_a_choice(tmp_path: Path) -> None:
    write_app(tmp_path, APPLICATIONS, ".platform/applications.yaml")
    with pytest.raises(UsageError) as info:
        load_app(tmp_path)
    assert "api, admin" in (info.value.hint or "")
    (tmp_path / "backend" / "src").mkdir(parents=True)
    assert load_app(tmp_path, cwd=tmp_path / "backend" / "src").name == "api"


def test_unknown_app_suggests_the_closest(tmp_path: Path) -> None:
    write_app(tmp_path, APPLICATIONS, ".platform/applications.yaml")
    with pytest.raises(NameNotFound) as info:
        load_app(tmp_path, "apii")
    assert "did you mean 'api'?" in str(info.value)
    assert info.value.hint == "valid app names: admin, api"
    assert info.value.exit_code == ExitCode.CONFIG


def test_applications_yaml_error_has_its_file(tmp_path: Path) -> None:
    write_app(tmp_path, "- name: api\n  workers:\n    q: {}\n", ".platform/applications.yaml")
    assert str(config_error(tmp_path)) == (
        ".platform/applications.yaml:3: worker 'q': commands.start is required"
    )


def test_app_files_in_subdirectories(tmp_path: Path) -> None:
    (tmp_path / ".platform").mkdir()
    write_app(tmp_path / "web", "name: web\n")
    write_app(tmp_path / "jobs", "name: jobs\nworkers:\n  q: {commands: {start: r}}\n")
    assert sorted(load_apps(tmp_path)) == ["jobs", "web"]
    assert find_project_root(tmp_path / "jobs") == tmp_path.resolve()


def test_same_app_twice_is_an_error(tmp_path: Path) -> None:
    write_app(tmp_path, "- name: app\n", ".platform/applications.yaml")
    write_app(tmp_path, "name: app\n")
    assert "app 'app' is defined twice" in str(config_error(tmp_path))


def test_find_project_root(tmp_path: Path) -> None:
    write_app(tmp_path, "name: app\n")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    assert find_project_root(tmp_path / "src" / "deep") == tmp_path.resolve()
    assert find_project_root(tmp_path.parent) is None


def test_no_app_definition(tmp_path: Path) -> None:
    (tmp_path / ".platform").mkdir()
    with pytest.raises(ConfigError, match="no app definition"):
        load_apps(tmp_path)
