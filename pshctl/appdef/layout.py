"""Where a project's app definitions are, and which product's are read.

Pure file-system work, no YAML: Tab completion, the sandbox and the loader all find the
project root and choose the product here, so they cannot disagree.

- **Upsun** ("Upsun Flex"): every first-level ``*.yaml`` (or ``*.yml``) file of ``.upsun/``.
- **Platform.sh** ("Upsun Fixed"): ``.platform/applications.yaml``, and ``.platform.app.yaml``
  at the repository root and one directory below it.

A repository holding both (the official templates ship both) is read as one product, by
:func:`choose_product`'s documented rule; the other is named in a note, never silently
ignored.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pshctl.errors import ConfigError

Product = Literal["upsun", "platformsh"]
UPSUN: Product = "upsun"
PLATFORMSH: Product = "platformsh"
PRODUCTS: tuple[Product, ...] = (UPSUN, PLATFORMSH)
DEFAULT_PRODUCT: Product = UPSUN
LABELS: dict[str, str] = {UPSUN: "Upsun", PLATFORMSH: "Platform.sh"}

UPSUN_DIR = ".upsun"
PLATFORM_DIR = ".platform"
APP_FILE = ".platform.app.yaml"
APPLICATIONS_FILE = ".platform/applications.yaml"
# What each product's CLI writes when a checkout is linked to a project (`id: ...`).
LOCAL_PROJECT_FILES: dict[str, str] = {
    UPSUN: ".upsun/local/project.yaml",
    PLATFORMSH: ".platform/local/project.yaml",
}
YAML_SUFFIXES = (".yaml", ".yml")
# Named by the "no app here" error: everything pshctl looks for.
LOOKED_FOR = (f"{UPSUN_DIR}/*.yaml", APPLICATIONS_FILE, APP_FILE)


# --- what is there ---------------------------------------------------------------------


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def upsun_files(root: Path) -> list[Path]:
    """The YAML files of ``.upsun/`` (first level only), in the order they are merged.

    An ``.upsun/`` that exists but cannot be listed is an error: its apps would be missed.
    """
    directory = Path(root) / UPSUN_DIR
    if not _is_dir(directory):
        return []
    try:
        names = sorted(entry.name for entry in os.scandir(directory))
    except OSError as exc:
        raise ConfigError(f"cannot list the directory: {exc.strerror or exc}",
                          file=f"{UPSUN_DIR}/") from None
    return [directory / name for name in names
            if name.endswith(YAML_SUFFIXES) and not name.startswith(".")
            and not _is_dir(directory / name)]


def app_files(root: Path) -> list[Path]:
    """``.platform.app.yaml`` at the root and one directory down (hidden directories and
    directories that cannot be read are skipped)."""
    root = Path(root)
    found = [root / APP_FILE] if _is_file(root / APP_FILE) else []
    try:
        children = sorted(e.name for e in os.scandir(root) if not e.name.startswith("."))
    except OSError:
        return found
    found += [root / name / APP_FILE for name in children if _is_file(root / name / APP_FILE)]
    return found


def applications_file(root: Path) -> Path | None:
    path = Path(root) / APPLICATIONS_FILE
    return path if _is_file(path) else None


def has_upsun(root: Path) -> bool:
    directory = Path(root) / UPSUN_DIR
    if not _is_dir(directory):
        return False
    try:
        return any(e.name.endswith(YAML_SUFFIXES) and not e.name.startswith(".")
                   for e in os.scandir(directory))
    except OSError:
        return True  # there, but unreadable: loading says so


def has_platformsh(root: Path) -> bool:
    return applications_file(root) is not None or bool(app_files(root))


def platformsh_files(root: Path) -> list[Path]:
    found = [applications_file(root)]
    return [p for p in found if p is not None] + app_files(root)


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that holds a project's definitions.

    A repository root (``.upsun/`` with YAML files, or ``.platform/`` with apps) wins over
    a directory that only has ``.platform.app.yaml``, so that running from inside one app
    of a multi-app project still finds the whole project.
    """
    start = Path(start)
    try:
        start = start.resolve()
    except (OSError, RuntimeError):
        start = Path(os.path.abspath(start))
    first_app_dir: Path | None = None
    for directory in (start, *start.parents):
        if has_upsun(directory):
            return directory
        if _is_dir(directory / PLATFORM_DIR) and has_platformsh(directory):
            return directory
        if first_app_dir is None and _is_file(directory / APP_FILE):
            first_app_dir = directory
    return first_app_dir


# --- which product ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProductChoice:
    """Which product's definitions are read, and why."""

    product: Product
    reason: Literal["only", "setting", "linked", "default"]
    ignored: tuple[str, ...] = ()  # the other product's definitions, relative to the root
    configured: str | None = None  # the `product:` setting, when there is one
    read: tuple[str, ...] = ()  # this product's definitions, when the other's are ignored

    @property
    def label(self) -> str:
        return LABELS[self.product]

    @property
    def note(self) -> str | None:
        """What to tell the user: which definitions were read when both exist."""
        if not self.ignored:
            if self.configured and self.configured != self.product:
                return (f"'product: {self.configured}' is set, but only {self.label} "
                        f"definitions exist here; read {_dir_of(self.product)}")
            return None
        other = PLATFORMSH if self.product == UPSUN else UPSUN
        why = {
            "setting": f"'product: {self.product}' in .pshctl.yaml",
            "linked": f"this checkout is linked with the {self.label} CLI "
                      f"({LOCAL_PROJECT_FILES[self.product]})",
            "default": f"the default; 'product: {other}' in .pshctl.yaml reads the other",
        }[self.reason]
        return (f"both Upsun and Platform.sh app definitions are here: read "
                f"{', '.join(self.read)}, not {', '.join(self.ignored)} ({why})")

    def to_dict(self) -> dict[str, object]:
        return {"product": self.product, "reason": self.reason, "read": list(self.read),
                "ignored": list(self.ignored), "note": self.note}


def _dir_of(product: str) -> str:
    return f"{UPSUN_DIR}/" if product == UPSUN else f"{PLATFORM_DIR}/ and {APP_FILE}"


def choose_product(root: Path, configured: str | None = None) -> ProductChoice | None:
    """The product whose definitions are read at ``root``; None when there are none.

    With both products' files: the ``product:`` setting, else the product whose CLI this
    checkout is linked with (its ``local/project.yaml``; not when both are), else Upsun.
    """
    root = Path(root)
    upsun, platformsh = has_upsun(root), has_platformsh(root)
    if not (upsun or platformsh):
        return None
    if upsun != platformsh:
        return ProductChoice(UPSUN if upsun else PLATFORMSH, "only", configured=configured)
    if configured in PRODUCTS:
        product, reason = configured, "setting"
    else:
        linked = [p for p in PRODUCTS if _is_file(root / LOCAL_PROJECT_FILES[p])]
        product, reason = (linked[0], "linked") if len(linked) == 1 else (DEFAULT_PRODUCT,
                                                                          "default")
    ignored = _listing(root, PLATFORMSH if product == UPSUN else UPSUN)
    return ProductChoice(product, reason, ignored, configured,  # type: ignore[arg-type]
                         _listing(root, product))


def _listing(root: Path, product: str) -> tuple[str, ...]:
    try:
        files = definition_files(root, product)
    except ConfigError:
        return (f"{UPSUN_DIR}/",)
    return tuple(os.path.relpath(p, root) for p in files)


def definition_files(root: Path, product: str) -> list[Path]:
    """The files that define ``product``'s apps at ``root`` (before any ``!include``)."""
    return upsun_files(root) if product == UPSUN else platformsh_files(root)
