"""Where a project's definitions are and which product's are read (pshctl/appdef/layout.py):
whole listings and whole choices, compared at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pshctl.appdef import layout
from pshctl.appdef.layout import ProductChoice, choose_product, find_project_root
from pshctl.errors import ConfigError


def touch(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text("x: 1\n")
    return root


def names(root: Path, paths: list[Path]) -> list[str]:
    return [str(p.relative_to(root)) for p in paths]


def test_upsun_files_are_the_first_level_yaml_files_in_name_order(tmp_path: Path) -> None:
    touch(tmp_path, ".upsun/b.yml", ".upsun/a.yaml", ".upsun/.hidden.yaml", ".upsun/c.txt",
          ".upsun/dir.yaml/", ".upsun/sub/d.yaml", ".upsun/local/project.yaml")
    assert names(tmp_path, layout.upsun_files(tmp_path)) == [".upsun/a.yaml", ".upsun/b.yml"]
    assert layout.has_upsun(tmp_path)
    assert layout.definition_files(tmp_path, "upsun") == layout.upsun_files(tmp_path)


@pytest.mark.parametrize("files", [(), (".upsun/",), (".upsun/.a.yaml", ".upsun/b.json"),
                                   (".upsun",)])
def test_no_upsun_definitions(tmp_path: Path, files: tuple[str, ...]) -> None:
    touch(tmp_path, *files)
    assert not layout.has_upsun(tmp_path)
    assert choose_product(tmp_path) is None


def test_platformsh_files_one_directory_down_hidden_ones_skipped(tmp_path: Path) -> None:
    touch(tmp_path, ".platform.app.yaml", "b/.platform.app.yaml", "a/.platform.app.yaml",
          ".hidden/.platform.app.yaml", "a/deeper/.platform.app.yaml", "c/",
          "d/.platform.app.yaml/", ".platform/applications.yaml")
    assert names(tmp_path, layout.app_files(tmp_path)) == [
        ".platform.app.yaml", "a/.platform.app.yaml", "b/.platform.app.yaml"]
    assert names(tmp_path, layout.platformsh_files(tmp_path)) == [
        ".platform/applications.yaml", ".platform.app.yaml", "a/.platform.app.yaml",
        "b/.platform.app.yaml"]
    assert layout.applications_file(tmp_path) == tmp_path / ".platform/applications.yaml"
    assert layout.has_platformsh(tmp_path)
    assert layout.definition_files(tmp_path, "platformsh") == layout.platformsh_files(tmp_path)


def test_no_platformsh_definitions(tmp_path: Path) -> None:
    touch(tmp_path, ".platform/", ".platform/applications.yaml/", "a/b/.platform.app.yaml")
    assert (layout.app_files(tmp_path), layout.applications_file(tmp_path)) == ([], None)
    assert not layout.has_platformsh(tmp_path)
    assert layout.app_files(tmp_path / "missing") == []


# --- the project root ------------------------------------------------------------------


def test_project_root_is_the_repository_root_over_an_app_directory(tmp_path: Path) -> None:
    touch(tmp_path, ".platform/applications.yaml", "api/.platform.app.yaml", "api/src/")
    assert find_project_root(tmp_path / "api" / "src") == tmp_path.resolve()
    touch(tmp_path / "up", ".upsun/config.yaml", "app/.platform.app.yaml", "app/src/")
    assert find_project_root(tmp_path / "up" / "app" / "src") == (tmp_path / "up").resolve()


def test_project_root_without_a_repository_root_is_the_nearest_app_directory(
        tmp_path: Path) -> None:
    touch(tmp_path, ".platform.app.yaml", "a/.platform.app.yaml", "a/b/.platform/")
    assert find_project_root(tmp_path / "a" / "b") == (tmp_path / "a").resolve()
    assert find_project_root(tmp_path / "a" / "b" / "missing") == (tmp_path / "a").resolve()


def test_no_project_root(tmp_path: Path) -> None:
    touch(tmp_path, "a/", ".upsun/")
    assert find_project_root(tmp_path / "a") is None


# --- which product -----------------------------------------------------------------------


def test_one_product_only(tmp_path: Path) -> None:
    touch(tmp_path / "u", ".upsun/config.yaml")
    touch(tmp_path / "p", ".platform.app.yaml")
    assert choose_product(tmp_path / "u") == ProductChoice("upsun", "only")
    assert choose_product(tmp_path / "p", "upsun") == ProductChoice("platformsh", "only",
                                                                      configured="upsun")
    assert choose_product(tmp_path / "p").to_dict() == {
        "product": "platformsh", "reason": "only", "read": [], "ignored": [], "note": None}


@pytest.mark.parametrize(("configured", "linked", "expected"), [
    (None, (), ProductChoice("upsun", "default", (".platform.app.yaml",), None,
                             (".upsun/config.yaml",))),
    ("platformsh", (".upsun/local/project.yaml",),
     ProductChoice("platformsh", "setting", (".upsun/config.yaml",), "platformsh",
                   (".platform.app.yaml",))),
    ("fixed", (".platform/local/project.yaml",),
     ProductChoice("platformsh", "linked", (".upsun/config.yaml",), "fixed",
                   (".platform.app.yaml",))),
    (None, (".platform/local/project.yaml", ".upsun/local/project.yaml"),
     ProductChoice("upsun", "default", (".platform.app.yaml",), None,
                   (".upsun/config.yaml",))),
    (None, (".upsun/local/project.yaml",),
     ProductChoice("upsun", "linked", (".platform.app.yaml",), None,
                   (".upsun/config.yaml",))),
])
def test_both_products(tmp_path: Path, configured: str | None, linked: tuple[str, ...],
                       expected: ProductChoice) -> None:
    touch(tmp_path, ".upsun/config.yaml", ".platform.app.yaml", *linked)
    assert choose_product(tmp_path, configured) == expected


def test_notes_say_what_was_read_and_why(tmp_path: Path) -> None:
    read = (".upsun/a.yaml", ".upsun/b.yaml")
    ignored = (".platform.app.yaml", "x/.platform.app.yaml")
    both = "both Upsun and Platform.sh app definitions are here: read "
    assert ProductChoice("upsun", "default", ignored, None, read).note == (
        f"{both}.upsun/a.yaml, .upsun/b.yaml, not .platform.app.yaml, x/.platform.app.yaml "
        "(the default; 'product: platformsh' in .pshctl.yaml reads the other)")
    assert ProductChoice("platformsh", "setting", read, "platformsh", ignored).note == (
        f"{both}.platform.app.yaml, x/.platform.app.yaml, not .upsun/a.yaml, .upsun/b.yaml "
        "('product: platformsh' in .pshctl.yaml)")
    assert ProductChoice("platformsh", "linked", read, None, ignored).note == (
        f"{both}.platform.app.yaml, x/.platform.app.yaml, not .upsun/a.yaml, .upsun/b.yaml "
        "(this checkout is linked with the Platform.sh CLI (.platform/local/project.yaml))")
    assert ProductChoice("platformsh", "default", read, None, ignored).note == (
        f"{both}.platform.app.yaml, x/.platform.app.yaml, not .upsun/a.yaml, .upsun/b.yaml "
        "(the default; 'product: upsun' in .pshctl.yaml reads the other)")
    assert ProductChoice("platformsh", "only", configured="upsun").note == (
        "'product: upsun' is set, but only Platform.sh definitions exist here; read "
        ".platform/ and .platform.app.yaml")
    assert ProductChoice("upsun", "only", configured="upsun").note is None
    assert ProductChoice("upsun", "linked", ignored, None, read).to_dict() == {
        "product": "upsun", "reason": "linked", "read": list(read), "ignored": list(ignored),
        "note": f"{both}.upsun/a.yaml, .upsun/b.yaml, not .platform.app.yaml, "
                "x/.platform.app.yaml (this checkout is linked with the Upsun CLI "
                "(.upsun/local/project.yaml))"}


def test_an_unlistable_upsun_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, ".upsun/config.yaml", ".platform.app.yaml")
    real_scandir = layout.os.scandir

    def scandir(path: object) -> object:
        if str(path).endswith(".upsun"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(layout.os, "scandir", scandir)
    with pytest.raises(ConfigError) as info:
        layout.upsun_files(tmp_path)
    assert str(info.value) == ".upsun/: cannot list the directory: Permission denied"
    assert layout.has_upsun(tmp_path)  # there: loading says why it cannot be read
    assert choose_product(tmp_path, "platformsh") == ProductChoice(
        "platformsh", "setting", (".upsun/",), "platformsh", (".platform.app.yaml",))


def test_project_root_from_a_directory_that_cannot_be_resolved(tmp_path: Path) -> None:
    touch(tmp_path, ".upsun/config.yaml")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    start = tmp_path / "loop" / "sub"
    try:
        start.resolve()
    except RuntimeError:
        pass  # Python before 3.13: a symbolic link loop cannot be resolved
    else:
        pytest.skip("this Python resolves a symbolic link loop without an error")
    assert find_project_root(start) == tmp_path
