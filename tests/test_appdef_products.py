"""Both products' formats and inheritance rules, on fixture projects (tests/data/fixtures/).

Each fixture holds the constructs one part of the docs allows; the tests assert what every
worker effectively gets and where each key came from (own, inherited, default, platform).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pshctl.appdef import AppDefinition, load_app, load_project, rules_for
from pshctl.context import Selection, resolve_context
from pshctl.errors import ConfigError, UsageError

FIXTURES = Path(__file__).parent / "data" / "fixtures"


def copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    return root


def app(fixture: str, name: str) -> AppDefinition:
    return load_project(FIXTURES / fixture).app(name)


# --- Upsun -----------------------------------------------------------------------------


def test_upsun_apps_are_the_keys_of_applications() -> None:
    project = load_project(FIXTURES / "upsun")
    assert project.choice.product == "upsun"
    assert list(project.apps) == ["backend", "frontend"]
    backend = project.apps["backend"]
    assert backend.root == FIXTURES / "upsun" / "backend"  # source.root
    assert backend.product == "upsun"
    assert backend.file == ".upsun/config.yaml"
    assert backend.web is not None and backend.web.start_command == "gunicorn app:app"
    assert list(backend.workers) == ["queue", "mail"]


def test_upsun_worker_inherits_what_upsun_says() -> None:
    queue = app("upsun", "backend").worker("queue")
    assert queue.product == "upsun"
    assert queue.inherited == {"container_profile", "relationships", "mounts", "variables",
                               "access", "additional_hosts", "firewall", "timezone"}
    assert queue.own == frozenset()
    assert queue.container_profile == "HIGH_MEMORY"
    assert queue.relationships == {"database": "database", "cache": "redis:redis"}
    assert queue.mounts == {"var/uploads": {"source": "storage", "source_path": "uploads"},
                            "var/cache": {"source": "tmp"}}
    assert queue.variables == {"env": {"ROLE": "web"}, "python": {"optimize": 1}}
    assert queue.access == {"ssh": "contributor"}
    assert queue.additional_hosts == {"api.example.com": "192.0.2.23"}
    assert queue.firewall == {"outbound": [{"domains": ["api.example.com"], "ports": [443]}]}
    assert queue.timezone == "Europe/Paris"
    # No size or disk on Upsun: resources come from `upsun resources:set`.
    assert (queue.size, queue.disk, queue.resources) == (None, None, None)
    assert queue.source_of("resources") == "platform"
    assert queue.source_of("size") == "default"


def test_upsun_worker_sets_its_own_keys_whole() -> None:
    mail = app("upsun", "backend").worker("mail")
    assert mail.own == {"container_profile", "relationships", "mounts", "variables",
                        "firewall", "additional_hosts"}
    assert mail.inherited == {"access", "timezone"}
    assert mail.container_profile == "BALANCED"
    assert mail.relationships == {"mailer": "rabbitmq:rabbitmq"}
    assert mail.mounts == {}
    assert mail.variables == {"env": {"ROLE": "mail"}}  # the app's `python:` is gone too
    assert mail.additional_hosts == {}
    assert mail.timezone == "Europe/Paris"  # the app's: a worker cannot set it


def test_upsun_keys_it_does_not_use_are_warnings_naming_the_worker() -> None:
    mail = app("upsun", "backend").worker("mail")
    assert mail.size is None
    assert mail.warnings == (
        ".upsun/config.yaml:54: worker 'mail': 'size' is not used on Upsun: resources come "
        "from `upsun resources:set`",
        ".upsun/config.yaml:55: worker 'mail': 'timezone' cannot be set here; the app's "
        "applies (Upsun)",
    )


def test_pre_start_and_post_start_are_read() -> None:
    queue = app("upsun", "backend").worker("queue")
    assert queue.commands == {"pre_start": "./migrate-queue.sh", "start": "python queue.py",
                              "post_start": "./ready.sh"}
    assert (queue.pre_start, queue.post_start) == ("./migrate-queue.sh", "./ready.sh")


def test_upsun_local_project_file_gives_the_project_id() -> None:
    context = resolve_context(Selection(environment="main", app="backend"),
                              cwd=FIXTURES / "upsun")
    assert context.project == "upsunproject1"


def test_upsun_files_merge_and_the_later_definition_wins_whole() -> None:
    project = load_project(FIXTURES / "upsun-files")
    assert list(project.apps) == ["api", "admin"]
    api = project.apps["api"]
    assert api.file == ".upsun/20-override.yaml"
    assert list(api.workers) == ["messenger"]  # 10-apps.yaml's old-worker is gone
    messenger = api.worker("messenger")
    assert messenger.relationships == {}  # 10-apps.yaml's relationships are gone too
    assert messenger.start_command == "php bin/console messenger:consume async"
    assert api.root == FIXTURES / "upsun-files" / "api"  # "/api/"
    assert project.warnings == (
        "app 'api' is defined in .upsun/10-apps.yaml and in .upsun/20-override.yaml; "
        "the one in .upsun/20-override.yaml is used whole",
    )


def test_upsun_string_form_mount_and_local_alias() -> None:
    messenger = app("upsun-files", "api").worker("messenger")
    assert messenger.mounts == {"/var/cache": {"source": "local", "source_path": "cache"},
                                "/var/log": {"source": "local", "source_path": "log"}}
    assert messenger.warnings == ()  # `local` is Upsun's alias of `instance`


def test_upsun_app_pulled_in_whole_with_include() -> None:
    admin = app("upsun-files", "admin")
    assert admin.file == ".upsun/apps/admin.yaml"
    assert admin.root == FIXTURES / "upsun-files"  # source.root "/"
    assert admin.worker("report").start_command == "node report.js"
    assert FIXTURES / "upsun-files" / ".upsun" / "10-apps.yaml" in admin.files
    assert FIXTURES / "upsun-files" / "scripts" / "report.sh" in admin.files


def test_archive_tags_in_services_do_not_stop_the_apps() -> None:
    assert "api" in load_project(FIXTURES / "upsun-files").apps


def test_anchor_holders_are_not_apps() -> None:
    project = load_project(FIXTURES / "upsun-files")
    assert ".defaults" not in project.apps


# --- Platform.sh -----------------------------------------------------------------------


def test_platformsh_mapping_form_with_anchor_holder() -> None:
    project = load_project(FIXTURES / "platformsh")
    assert project.choice.product == "platformsh"
    assert list(project.apps) == ["api", "builder-a", "builder-b", "search"]
    api = project.apps["api"]
    assert api.type == "python:3.12"  # from the `.common` anchor
    assert api.root == FIXTURES / "platformsh" / "api"


def test_platformsh_worker_inherits_what_platformsh_says() -> None:
    queue = app("platformsh", "api").worker("queue")
    assert queue.product == "platformsh"
    assert queue.inherited == {"size", "disk", "resources", "relationships", "mounts",
                               "variables", "additional_hosts", "firewall", "timezone"}
    assert queue.size == "XS"
    assert queue.disk == 1024
    assert queue.resources == {"base_memory": 128, "memory_ratio": 180}
    assert queue.additional_hosts == {"api.example.com": "192.0.2.23"}
    assert queue.firewall == {"outbound": [{"ips": ["10.0.0.0/8"]}]}
    assert queue.timezone == "Europe/Paris"
    assert queue.source_of("access") == "default"
    assert queue.commands == {"pre_start": "./prepare.sh", "start": "python queue.py",
                              "post_start": "./check.sh"}


def test_platformsh_string_form_mounts_are_the_mapping_form() -> None:
    queue = app("platformsh", "api").worker("queue")
    assert queue.mounts == {
        "/var/cache": {"source": "local", "source_path": "cache"},
        "/var/sessions": {"source": "local", "source_path": "sessions"},
        "tmp": {"source": "tmp", "source_path": "tmp"},
    }


def test_platformsh_worker_overrides() -> None:
    mail = app("platformsh", "api").worker("mail")
    assert mail.own == {"size", "disk", "resources", "mounts", "additional_hosts"}
    assert mail.inherited == {"relationships", "variables", "firewall", "timezone"}
    assert (mail.size, mail.disk, mail.mounts) == ("S", 256, {})
    assert mail.resources == {"base_memory": 64, "memory_ratio": 128}


def test_unknown_size_is_a_warning_naming_the_worker() -> None:
    api = app("platformsh", "api")
    huge = api.worker("huge")
    assert huge.size == "XXXL"
    assert huge.warnings == (".platform/applications.yaml:53: worker 'huge': size 'XXXL' is "
                             "not one of AUTO, XS, S, M, L, XL, 2XL, 4XL; shown as written",)
    assert api.worker("queue").warnings == ()


def test_platformsh_app_wide_keys_cannot_be_set_per_worker() -> None:
    tz = app("platformsh", "api").worker("tz")
    assert tz.timezone == "Europe/Paris"
    assert tz.firewall == {"outbound": [{"ips": ["10.0.0.0/8"]}]}
    assert [w.split(": ", 1)[1] for w in tz.warnings] == [
        "worker 'tz': 'timezone' cannot be set here; the app's applies (Platform.sh)",
        "worker 'tz': 'firewall' cannot be set here; the app's applies (Platform.sh)",
    ]


def test_source_root_slash_builds_several_apps_from_the_root() -> None:
    project = load_project(FIXTURES / "platformsh")
    assert project.apps["builder-a"].root == FIXTURES / "platformsh"
    assert project.apps["builder-b"].root == FIXTURES / "platformsh"
    assert list(project.apps["builder-b"].workers) == ["sync"]


def test_applications_file_and_app_files_together() -> None:
    search = app("platformsh", "search")
    assert search.file == "search/.platform.app.yaml"
    assert search.worker("indexer").start_command == "python index.py"


def test_whole_app_included_into_applications_yaml() -> None:
    included = app("platformsh-included", "app")
    assert included.file == ".platform/app.yaml"
    assert included.root == FIXTURES / "platformsh-included" / "app"
    queue = included.worker("queue")
    assert queue.variables == {"env": {"FROM": "included"}}  # relative to source.root
    assert queue.inherited == {"variables"}
    root = FIXTURES / "platformsh-included"
    assert set(included.files) == {root / ".platform" / "app.yaml",
                                   root / ".platform" / "applications.yaml",
                                   root / "app" / "variables.yaml"}


def test_platformsh_mapping_form_include(tmp_path: Path) -> None:
    root = copy("platformsh-included", tmp_path)
    (root / ".platform" / "applications.yaml").write_text("app: !include app.yaml\n")
    assert load_app(root).worker("queue").start_command == "python queue.py"


@pytest.mark.parametrize("product", ["upsun", "platformsh"])
def test_rules_tables_are_what_the_docs_say(product: str) -> None:
    rules = rules_for(product)
    if product == "upsun":
        assert set(rules.per_container) == {"relationships", "access", "mounts", "variables",
                                             "container_profile", "firewall",
                                             "additional_hosts"}
        assert "size" in rules.not_used and "disk" in rules.not_used
        assert set(rules.mount_sources) >= {"storage", "instance", "tmp", "service"}
    else:
        assert set(rules.per_container) == {"size", "relationships", "access", "disk",
                                             "mounts", "variables", "resources",
                                             "additional_hosts"}
        assert set(rules.mount_sources) >= {"local", "service", "tmp"}
    assert rules.app_wide and "timezone" in rules.app_wide


# --- both in one repository ------------------------------------------------------------


def test_mixed_repository_reads_upsun_by_default_and_says_so() -> None:
    project = load_project(FIXTURES / "mixed")
    choice = project.choice
    assert (choice.product, choice.reason) == ("upsun", "default")
    assert choice.ignored == (".platform.app.yaml",)
    assert choice.note == (
        "both Upsun and Platform.sh app definitions are here: read .upsun/config.yaml, not "
        ".platform.app.yaml (the default; 'product: platformsh' in .pshctl.yaml reads the "
        "other)")
    queue = project.apps["app"].worker("queue")
    assert (queue.product, queue.start_command, queue.disk) == ("upsun", "./bin/queue", None)


def test_mixed_repository_setting_chooses_platformsh(tmp_path: Path) -> None:
    root = copy("mixed", tmp_path)
    (root / ".pshctl.yaml").write_text("product: platformsh\n")
    project = load_project(root)
    assert (project.choice.product, project.choice.reason) == ("platformsh", "setting")
    assert project.choice.ignored == (".upsun/config.yaml",)
    queue = project.apps["app"].worker("queue")
    assert (queue.product, queue.start_command, queue.disk) == ("platformsh",
                                                                "./bin/queue --fixed", 512)
    assert queue.inherited == {"disk", "relationships"}


@pytest.mark.parametrize(("linked", "expected"), [("platformsh", "platformsh"),
                                                   ("upsun", "upsun")])
def test_mixed_repository_follows_the_linked_cli(tmp_path: Path, linked: str,
                                                 expected: str) -> None:
    root = copy("mixed", tmp_path)
    local = root / (".platform" if linked == "platformsh" else ".upsun") / "local"
    local.mkdir(parents=True)
    (local / "project.yaml").write_text("id: linked1\n")
    choice = load_project(root).choice
    assert (choice.product, choice.reason) == (expected, "linked")
    assert "linked" in (choice.note or "")


def test_mixed_repository_setting_wins_over_the_linked_cli(tmp_path: Path) -> None:
    root = copy("mixed", tmp_path)
    (root / ".platform" / "local").mkdir()
    (root / ".platform" / "local" / "project.yaml").write_text("id: linked1\n")
    (root / ".pshctl.yaml").write_text("product: upsun\n")
    assert load_project(root).choice.reason == "setting"


def test_setting_for_a_product_that_is_not_here_reads_the_one_that_is(tmp_path: Path) -> None:
    root = copy("upsun", tmp_path)
    (root / ".pshctl.yaml").write_text("product: platformsh\n")
    project = load_project(root)
    assert project.choice.product == "upsun"
    assert project.choice.note == ("'product: platformsh' is set, but only Upsun definitions "
                                   "exist here; read .upsun/")


def test_unknown_product_setting_is_an_error(tmp_path: Path) -> None:
    root = copy("mixed", tmp_path)
    (root / ".pshctl.yaml").write_text("product: fixed\n")
    with pytest.raises(ConfigError, match=r"^\.pshctl\.yaml:1: 'product' must be one of "
                                          r"upsun, platformsh, not 'fixed'"):
        load_project(root)


# --- one broken app, and where you stand ------------------------------------------------


def test_one_broken_app_does_not_block_the_others() -> None:
    project = load_project(FIXTURES / "broken")
    assert list(project.apps) == ["good"]
    good = project.app("good")
    assert good.warnings == ("app 'bad' is not loaded: .upsun/config.yaml:12: worker 'mail': "
                             "commands.start is required",)
    with pytest.raises(ConfigError, match=r"^\.upsun/config\.yaml:12: worker 'mail': "
                                          r"commands\.start is required$"):
        project.app("bad")


def test_a_file_that_cannot_be_parsed_leaves_the_other_files(tmp_path: Path) -> None:
    root = copy("upsun-files", tmp_path)
    (root / ".upsun" / "20-override.yaml").write_text("applications:\n  api: [\n")
    project = load_project(root)
    assert "admin" in project.apps
    assert project.warnings[-1].startswith(".upsun/20-override.yaml is not read: "
                                           ".upsun/20-override.yaml:3: invalid YAML")
    with pytest.raises(ConfigError, match=r"^\.upsun/20-override\.yaml:3: invalid YAML"):
        project.app("nothere")


def test_at_the_root_the_root_app_is_chosen() -> None:
    root = FIXTURES / "nested"
    assert load_app(root, cwd=root).name == "root-app"
    assert load_app(root, cwd=root / "sub").name == "sub-app"


def test_several_apps_at_the_same_directory_need_a_choice() -> None:
    root = FIXTURES / "platformsh"
    with pytest.raises(UsageError, match="several apps"):
        load_app(root, cwd=root)
    assert load_app(root, cwd=root / "api").name == "api"
