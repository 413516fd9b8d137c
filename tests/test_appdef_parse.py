"""One app's mapping, whole: every key of every container compared at once, and every error
and warning the parser gives, word for word with its ``file:line`` (pshctl/appdef/parse.py).

Small definitions written here; the fixture projects (tests/test_appdef_products.py) cover
the products' layouts.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pshctl.appdef import AppDefinition, ContainerConfig, ProductChoice, load_app
from pshctl.errors import ConfigError

PLATFORM_KEYS = frozenset({"size", "disk", "resources", "access", "mounts", "relationships",
                           "variables", "additional_hosts", "firewall", "timezone"})
UPSUN_KEYS = frozenset({"container_profile", "access", "mounts", "relationships", "variables",
                        "additional_hosts", "firewall", "timezone"})


def write(root: Path, text: str, name: str = ".platform.app.yaml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def error_of(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_app(root)
    return str(info.value)


# --- whole apps ------------------------------------------------------------------------

EVERY_KEY = """
    name: app
    type: python:3.12
    size: l
    disk: 2048
    resources: {base_memory: 128, memory_ratio: 180}
    access: {ssh: admin}
    mounts:
        data: {source: local, source_path: data}
        web/uploads: 'shared:files/uploads/'
        bare: shared:files
    relationships:
        database: 'db:mysql'
        cache:
        search: {service: solr, endpoint: main}
        queue: {service: rabbit}
        named: {endpoint: http}
    variables:
        env: {MODE: prod, COUNT: 3}
        php:
    additional_hosts: {api.example.com: 192.0.2.1}
    firewall: {outbound: [{ips: [10.0.0.0/8]}]}
    timezone: Europe/Paris
    hooks: {build: make}
    crons: {nightly: {spec: '0 0 * * *', commands: {start: 'true'}}}
    web:
        commands: {start: ' gunicorn app ', post_start: ''}
        disk: 1024
    workers:
        queue:
            commands: {pre_start: ' ./prep.sh ', start: python q.py, post_start: null}
        mail:
            size: ' s '
            disk: '512'
            mounts: {}
            variables: {env: {MODE: mail}}
            commands: {start: python mail.py}
"""

INHERITED = {
    "size": "L", "disk": 2048, "resources": {"base_memory": 128, "memory_ratio": 180},
    "access": {"ssh": "admin"},
    "mounts": {"data": {"source": "local", "source_path": "data"},
               "web/uploads": {"source": "local", "source_path": "uploads"},
               "bare": {"source": "local", "source_path": ""}},
    "relationships": {"database": "db:mysql", "cache": "cache", "search": "solr:main",
                      "queue": "rabbit", "named": "named:http"},
    "variables": {"env": {"MODE": "prod", "COUNT": 3}, "php": {}},
    "additional_hosts": {"api.example.com": "192.0.2.1"},
    "firewall": {"outbound": [{"ips": ["10.0.0.0/8"]}]}, "timezone": "Europe/Paris",
}


def test_platformsh_app_with_every_key_whole(tmp_path: Path) -> None:
    write(tmp_path, EVERY_KEY)
    app = load_app(tmp_path)
    source = tmp_path / ".platform.app.yaml"
    queue = ContainerConfig(
        name="queue", kind="worker", product="platformsh", **INHERITED,
        commands={"pre_start": "./prep.sh", "start": "python q.py"},
        inherited=PLATFORM_KEYS, own=frozenset(), from_platform=frozenset(), warnings=(),
        line=29, file=".platform.app.yaml")
    mail = ContainerConfig(
        name="mail", kind="worker", product="platformsh",
        **{**INHERITED, "size": "S", "disk": 512, "mounts": {},
           "variables": {"env": {"MODE": "mail"}}},
        commands={"start": "python mail.py"},
        inherited=PLATFORM_KEYS - {"size", "disk", "mounts", "variables"},
        own=frozenset({"size", "disk", "mounts", "variables"}), line=31)
    web = ContainerConfig(
        name="app", kind="web", product="platformsh", **{**INHERITED, "disk": 1024},
        commands={"start": "gunicorn app", "post_start": ""},
        inherited=PLATFORM_KEYS - {"disk"}, own=frozenset({"disk"}), line=25)
    assert app == AppDefinition(
        name="app", type="python:3.12", root=tmp_path, source=source,
        workers={"queue": queue, "mail": mail}, web=web, line=1, included=(),
        product="platformsh", choice=ProductChoice("platformsh", "only"), warnings=(),
        file=".platform.app.yaml")
    assert app.worker("queue").to_dict()["container_profile"] is None  # not a Platform.sh key


def test_upsun_app_with_every_key_whole(tmp_path: Path) -> None:
    write(tmp_path, """
        applications:
            app:
                type: nodejs:20
                container_profile: HIGH_CPU
                access: {ssh: viewer}
                mounts: {cache: {source: tmp}}
                relationships: {db: 'database:postgresql'}
                variables: {env: {A: '1'}}
                additional_hosts: {h.example: 192.0.2.9}
                firewall: {outbound: []}
                timezone: UTC
                size: XL
                workers:
                    sync:
                        container_profile: BALANCED
                        mounts: {out: {source: storage, source_path: out}}
                        disk: 10
                        commands: {start: node sync.js}
        """, ".upsun/config.yaml")
    app = load_app(tmp_path)
    assert app == AppDefinition(
        name="app", type="nodejs:20", root=tmp_path, source=tmp_path / ".upsun/config.yaml",
        workers={"sync": ContainerConfig(
            name="sync", kind="worker", product="upsun", container_profile="BALANCED",
            access={"ssh": "viewer"}, mounts={"out": {"source": "storage", "source_path": "out"}},
            relationships={"db": "database:postgresql"}, variables={"env": {"A": "1"}},
            additional_hosts={"h.example": "192.0.2.9"}, firewall={"outbound": []},
            timezone="UTC", commands={"start": "node sync.js"},
            inherited=UPSUN_KEYS - {"container_profile", "mounts"},
            own=frozenset({"container_profile", "mounts"}),
            from_platform=frozenset({"resources"}),
            warnings=(".upsun/config.yaml:17: worker 'sync': 'disk' is not used on Upsun: "
                      "resources come from `upsun resources:set`",),
            line=14, file=".upsun/config.yaml")},
        web=None, line=3, product="upsun", choice=ProductChoice("upsun", "only"),
        warnings=(".upsun/config.yaml:12: app 'app': 'size' is not used on Upsun: resources "
                  "come from `upsun resources:set`",
                  ".upsun/config.yaml:17: worker 'sync': 'disk' is not used on Upsun: "
                  "resources come from `upsun resources:set`"),
        file=".upsun/config.yaml")


def test_nothing_set_gives_the_empty_values(tmp_path: Path) -> None:
    write(tmp_path, "name: app\nweb: {commands: {start: run}}\nworkers:\n"
                    "  q: {commands: {start: run}}\n")
    app = load_app(tmp_path)
    assert app.worker("q") == ContainerConfig(name="q", kind="worker", commands={"start": "run"},
                                              line=4)
    assert app.web == ContainerConfig(name="app", kind="web", commands={"start": "run"}, line=2)
    assert app.worker("q").to_dict() == {
        "name": "q", "kind": "worker", "size": None, "disk": None, "resources": None,
        "container_profile": None, "access": None, "mounts": {}, "relationships": {},
        "variables": {}, "additional_hosts": {}, "firewall": None, "timezone": None,
        "commands": {"start": "run"}, "product": "platformsh", "env": {}, "inherited": [],
        "own": [], "from_platform": [], "warnings": [], "file": ".platform.app.yaml",
        "line": 4}


@pytest.mark.parametrize("web", ["", "web:\n", "web: {commands: {start: '  '}}\n",
                                 "web: {disk: 5}\n", "web: {commands: null}\n"])
def test_no_web_container_without_a_start_command(tmp_path: Path, web: str) -> None:
    write(tmp_path, f"name: app\n{web}")
    app = load_app(tmp_path)
    assert (app.web, app.workers) == (None, {})


def test_nulls_are_unset(tmp_path: Path) -> None:
    write(tmp_path, """
        name: app
        size:
        disk:
        resources:
        access:
        mounts:
        relationships:
        variables:
        additional_hosts:
        firewall:
        timezone:
        workers:
            q: {commands: {pre_start: null, start: run, post_start: null}}
    """)
    assert load_app(tmp_path).worker("q") == ContainerConfig(
        name="q", kind="worker", commands={"start": "run"}, inherited=PLATFORM_KEYS, line=13)


def test_mount_paths_and_sizes_at_their_edges(tmp_path: Path) -> None:
    write(tmp_path, """
        name: app
        disk: 0
        mounts:
            X: 'shared:files/X'
            /Xx/: {source: local, source_path: Xx}
        workers:
            q: {commands: {start: run}, disk: '0'}
    """)
    app = load_app(tmp_path)
    assert (app.worker("q").disk, app.web) == (0, None)
    assert app.worker("q").mounts == {"X": {"source": "local", "source_path": "X"},
                                      "/Xx/": {"source": "local", "source_path": "Xx"}}


def test_a_valid_size_is_written_in_capitals(tmp_path: Path) -> None:
    write(tmp_path, "name: app\nworkers:\n  q: {size: 2xl, commands: {start: r}}\n"
                    "  r: {size: 4, commands: {start: r}}\n")
    app = load_app(tmp_path)
    assert (app.worker("q").size, app.worker("q").warnings) == ("2XL", ())
    assert (app.worker("r").size, app.worker("r").warnings) == (
        "4", (".platform.app.yaml:4: worker 'r': size 4 is not one of AUTO, XS, S, M, L, XL, "
              "2XL, 4XL; shown as written",))


# --- errors, word for word -------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("name: app\ntype: [php]\n", "2: 'type' must be a string"),
    ("name: app\nworkers: [a]\n", "2: 'workers' must be a mapping of worker names"),
    ("name: app\nworkers:\n  q: run\n", "3: worker 'q': must be a mapping (with commands.start)"),
    ("name: app\nworkers:\n  q: {commands: {start: [a]}}\n",
     "3: worker 'q': commands.start must be a string"),
    ("name: app\nworkers:\n  q:\n    commands:\n      start: a\n      post_start: 1\n",
     "6: worker 'q': commands.post_start must be a string"),
    ("name: app\nweb: [a]\n", "2: 'web' must be a mapping"),
    ("name: app\nweb:\n  disk: 5\n  commands: run\n", "4: web: 'commands' must be a mapping"),
    ("name: app\nworkers:\n  q:\n    size: S\n\n    commands: [start]\n",
     "6: worker 'q': 'commands' must be a mapping"),
    ("name: app\nworkers:\n  q:\n    size: S\n    commands:\n      start: [a]\n",
     "6: worker 'q': commands.start must be a string"),
    (f"name: app\nworkers:\n  {'q' * 64}: {{commands: {{start: r}}}}\n",
     f"3: worker name '{'q' * 24}...' is 64 characters long; at most 63 are allowed"),
    ("name: app\n\nweb:\n  commands: {start: run}\n  disk: -1\n",
     "5: web: disk must be a whole number of MB, not -1"),
    ("name: app\ndisk: true\n", "2: app 'app': disk must be a whole number of MB, not True"),
    ("name: app\ndisk: 1.5\n", "2: app 'app': disk must be a whole number of MB, not 1.5"),
    ("name: app\nsize: {a: 1}\n",
     "2: app 'app': size must be one of AUTO, XS, S, M, L, XL, 2XL, 4XL, not {'a': 1}"),
    ("name: app\nsize: true\n",
     "2: app 'app': size must be one of AUTO, XS, S, M, L, XL, 2XL, 4XL, not True"),
    ("name: app\nresources: 128\n", "2: app 'app': resources must be a mapping"),
    ("name: app\naccess: [ssh]\n", "2: app 'app': access must be a mapping"),
    ("name: app\nfirewall: deny\n", "2: app 'app': firewall must be a mapping"),
    ("name: app\ntimezone: 5\n", "2: app 'app': timezone must be a string, not 5"),
    ("name: app\nmounts: data\n",
     "2: app 'app': mounts must map each path to a mapping (source, source_path)"),
    ("name: app\nmounts:\n  /: {source: local}\n",
     "2: app 'app': mount path '/' must name a directory of the app"),
    ("name: app\nmounts:\n  1: {source: local}\n",
     "2: app 'app': mount path 1 must name a directory of the app"),
    ("name: app\nmounts:\n  data: local\n",
     "2: app 'app': mount 'data': 'local' is not a mount; write a mapping (source, "
     "source_path) or the older 'shared:files/PATH'"),
    ("name: app\nmounts:\n  data: [local]\n",
     "2: app 'app': mount 'data' must be a mapping (source, source_path)"),
    ("name: app\nrelationships: db\n",
     "2: app 'app': relationships must be a mapping of name to 'service:endpoint'"),
    ("name: app\nrelationships:\n  db: 5\n",
     "2: app 'app': relationship 'db' must be 'service:endpoint'"),
    ("name: app\nrelationships:\n  db: {service: 5}\n",
     "2: app 'app': relationship 'db' must be 'service:endpoint'"),
    ("name: app\nrelationships:\n  db: {service: db, endpoint: [a]}\n",
     "2: app 'app': relationship 'db' must be 'service:endpoint'"),
    ("name: app\nvariables: [env]\n",
     "2: app 'app': variables must map each prefix (env, php, ...) to a mapping"),
    ("name: app\nvariables:\n  env: {A: '1'}\n  php: 1\n",
     "4: app 'app': variables must map each prefix (env, php, ...) to a mapping"),
    ("name: app\nvariables:\n  1: {A: '1'}\n",
     "3: app 'app': variables must map each prefix (env, php, ...) to a mapping"),
    ("name: app\nvariables:\n  env:\n    A: '1'\n    2: two\n",
     "5: app 'app': variables.env: the name 2 must be a string (quote it)"),
    ("name: app\nadditional_hosts: [h]\n",
     "2: app 'app': additional_hosts must map host names to IP addresses"),
    ("name: app\nadditional_hosts: {h: 1}\n",
     "2: app 'app': additional_hosts must map host names to IP addresses"),
    ("name: app\nadditional_hosts: {1: h}\n",
     "2: app 'app': additional_hosts must map host names to IP addresses"),
    ("name: app\nworkers:\n  -q: {commands: {start: r}}\n",
     "3: worker name '-q' must be letters, digits, '-' or '_' (starting with a letter or "
     "digit)"),
    ("name: 5\n", "1: app name 5 must be letters, digits, '-' or '_' (starting with a letter "
     "or digit)"),
])
def test_platformsh_errors(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, text)
    assert error_of(tmp_path) == f".platform.app.yaml:{expected}"


def test_a_worker_error_names_the_worker_and_its_key_line(tmp_path: Path) -> None:
    write(tmp_path, "name: app\nworkers:\n  q:\n    commands: {start: r}\n\n    disk: x\n")
    assert error_of(tmp_path) == (".platform.app.yaml:6: worker 'q': disk must be a whole "
                                  "number of MB, not 'x'")


def test_upsun_errors(tmp_path: Path) -> None:
    write(tmp_path, "applications:\n  app:\n    container_profile: [a]\n", ".upsun/config.yaml")
    assert error_of(tmp_path) == (".upsun/config.yaml:3: app 'app': container_profile must be "
                                  "a string, not ['a']")


# --- warnings, word for word -----------------------------------------------------------


def test_warnings_name_the_container_and_the_line(tmp_path: Path) -> None:
    write(tmp_path, """
        name: app
        size: HUGE
        mounts:
            a: {source_path: a}
            b: {source: nfs}
        workers:
            q:
                commands: {start: r}
                timezone: UTC
                mounts: {c: {}}
    """)
    app = load_app(tmp_path)
    sources = "local, service, tmp, instance"
    assert app.warnings[:3] == (  # the app's, then its containers'
        ".platform.app.yaml:2: app 'app': size 'HUGE' is not one of AUTO, XS, S, M, L, XL, "
        "2XL, 4XL; shown as written",
        f".platform.app.yaml:3: app 'app': mount 'a' has no 'source' (one of {sources})",
        f".platform.app.yaml:3: app 'app': mount 'b': source 'nfs' is not one of {sources}",
    )
    assert app.worker("q").warnings == app.warnings[3:] == (
        ".platform.app.yaml:9: worker 'q': 'timezone' cannot be set here; the app's applies "
        "(Platform.sh)",
        f".platform.app.yaml:10: worker 'q': mount 'c' has no 'source' (one of {sources})",
    )
    assert app.worker("q").size == "HUGE"


def test_upsun_container_profile_and_mount_sources(tmp_path: Path) -> None:
    write(tmp_path, """
        applications:
            app:
                container_profile: TINY
                mounts: {a: {source: instance}, b: {source: local}, c: {source: nfs}}
                web: {commands: {start: run}, container_profile: HIGH_MEMORY}
        """, ".upsun/config.yaml")
    app = load_app(tmp_path)
    assert app.warnings == (
        ".upsun/config.yaml:3: app 'app': container_profile 'TINY' is not one of HIGH_CPU, "
        "BALANCED, HIGH_MEMORY, HIGHER_MEMORY",
        ".upsun/config.yaml:4: app 'app': mount 'c': source 'nfs' is not one of storage, "
        "instance, tmp, temporary, service, local",
    )
    assert app.web is not None
    assert (app.web.container_profile, app.web.warnings) == ("HIGH_MEMORY", ())
