"""Public projects' app definitions (tests/data/public/): every app loads, in both products.

The corpus is official templates of both products and third-party repositories, copied with
their sources noted (tests/data/public/SOURCES). pshctl is also meant for projects outside
it, so the rules are the docs' (docs/configuration.md); this test keeps them honest on
what people actually wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pshctl.appdef import PRODUCTS, load_project
from pshctl.appdef.layout import has_platformsh, has_upsun
from tests.helpers import CliRunner

PUBLIC = Path(__file__).parent / "data" / "public"
PROJECTS = sorted(p for p in PUBLIC.iterdir() if p.is_dir())


def products_of(project: Path) -> list[str]:
    present = {"upsun": has_upsun(project), "platformsh": has_platformsh(project)}
    return [p for p in PRODUCTS if present[p]]


CASES = [(project, product) for project in PROJECTS for product in products_of(project)]
# Definitions the platform refuses too, each reported at its file and line: the stale half of
# a repository that ships both products (the half that is used loads).
REFUSED = {
    ("AmeniAyadii+laravel_suivi", "platformsh"):
        ".platform.app.yaml:33: invalid YAML: duplicate key 'database'",
}


def test_the_corpus_is_broad() -> None:
    assert len(PROJECTS) >= 40
    apps = sum(len(load_project(p, product=product).apps) for p, product in CASES)
    assert apps >= 60
    assert {product for _, product in CASES} == set(PRODUCTS)
    mixed = [p for p in PROJECTS if len(products_of(p)) == 2]
    assert len(mixed) >= 3  # repositories shipping both products' definitions


@pytest.mark.parametrize(("project", "product"), CASES,
                         ids=[f"{p.name}-{product}" for p, product in CASES])
def test_every_app_loads(project: Path, product: str) -> None:
    loaded = load_project(project, product=product)
    if (project.name, product) in REFUSED:
        assert [str(e) for e in loaded.file_errors] == [REFUSED[project.name, product]]
        return
    assert loaded.choice.product == product
    assert loaded.apps, "no app found"
    assert not loaded.errors, loaded.errors
    assert not loaded.file_errors, loaded.file_errors
    for app in loaded.apps.values():
        assert app.product == product
        for worker in app.workers.values():
            assert worker.start_command


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_workers_json_for_every_app(cli: CliRunner, project: Path) -> None:
    for name in load_project(project).apps:
        result = cli("workers", "--json", "-A", name, cwd=project)
        assert result.exit_code == 0, result
        assert isinstance(result.json, list)
        for worker in result.json:
            show = cli("workers", "show", worker["name"], "--json", "-A", name, cwd=project)
            assert show.exit_code == 0, show
            assert show.json == worker


def test_sources_name_every_file_once() -> None:
    rows = [line.split("\t") for line in (PUBLIC / "SOURCES").read_text().splitlines()
            if line and not line.startswith("#")]
    listed = [row[0] for row in rows]
    assert all(len(row) == 4 and len(row[3]) == 40 for row in rows)
    files = sorted(str(p.relative_to(PUBLIC)) for p in PUBLIC.rglob("*")
                   if p.is_file() and p.parent != PUBLIC)
    assert sorted(listed) == files
