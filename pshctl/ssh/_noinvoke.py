"""Keep ``invoke`` out of paramiko's import: pshctl never uses it, and it costs 25-35 ms.

``paramiko.config`` imports invoke whenever it is installed (fabric, an optional extra
of pshctl, depends on it), only to run ``Match exec`` commands, which pshctl runs itself
(:mod:`pshctl.ssh.config`). While ``paramiko.config`` executes, ``invoke`` is made
unimportable for that module alone, and it gets a stand-in that imports invoke the first
time a ``Match exec`` needs it; fabric, imported later, gets the real module.

The same finder keeps ``importlib.metadata`` out of paramiko's own ``__init__``, which
asks it for paramiko's version (one string, in the name of its ``dist-info`` folder) at a
cost of 13-40 ms (email, zipfile, csv and a scan of every distribution). While that
``__init__`` executes, ``importlib.metadata`` is a stand-in that answers paramiko's
version from the folder's name and imports the real module for anything else.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

_TARGET = "paramiko.config"
_PACKAGE = "paramiko"
_METADATA = "importlib.metadata"


class _Loader:
    """Wraps paramiko.config's own loader (the protocol only: importlib.abc costs ~7 ms)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        blocked = "invoke" not in sys.modules
        if blocked:
            sys.modules["invoke"] = None  # type: ignore[assignment]  # "import invoke" fails
        try:
            self.inner.exec_module(module)
        finally:
            if blocked and sys.modules.get("invoke", 0) is None:
                del sys.modules["invoke"]
        if blocked and importlib.util.find_spec("invoke") is not None:
            module.invoke = _LazyInvoke()  # type: ignore[attr-defined]
            module.invoke_import_error = None  # type: ignore[attr-defined]


class _LazyInvoke:
    """Stands for the invoke module in paramiko.config until something uses it."""

    def __getattr__(self, name: str) -> object:
        import invoke

        return getattr(invoke, name)


def dist_version(origin: str | None, name: str = _PACKAGE) -> str | None:
    """The version in the name of the one ``NAME-VERSION.dist-info`` folder next to the
    package whose ``__init__`` is ORIGIN; None when there is not exactly one."""
    if not origin:
        return None
    folder = os.path.dirname(os.path.dirname(origin))
    prefix = f"{name}-"
    try:
        found = [e for e in os.listdir(folder)
                 if e.startswith(prefix) and e.endswith(".dist-info")]
    except OSError:
        return None
    if len(found) != 1:
        return None
    version = found[0][len(prefix):-len(".dist-info")]
    return version if version and "-" not in version else None


class _Metadata(ModuleType):
    """Stands for importlib.metadata while paramiko's __init__ runs: its version, or the
    real module for anything else."""

    def __init__(self, version: str) -> None:
        super().__init__(_METADATA)
        self._version = version

    def version(self, distribution_name: str) -> str:
        if distribution_name == _PACKAGE:
            return self._version
        return self._real().version(distribution_name)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real(), name)

    def _real(self) -> ModuleType:
        if sys.modules.get(_METADATA) is self:
            del sys.modules[_METADATA]
        return importlib.import_module(_METADATA)


class _PackageLoader:
    """Wraps paramiko's own package loader: its __init__ runs with the _Metadata stand-in."""

    def __init__(self, inner: Any, version: str) -> None:
        self.inner = inner
        self.version = version

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        stand_in = None
        if _METADATA not in sys.modules:
            stand_in = _Metadata(self.version)
            sys.modules[_METADATA] = stand_in
        try:
            self.inner.exec_module(module)
        finally:
            if stand_in is not None and sys.modules.get(_METADATA) is stand_in:
                del sys.modules[_METADATA]


class _Finder:
    def __init__(self) -> None:
        self.pending = {_TARGET, _PACKAGE}

    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.pending:
            return None
        self.pending.discard(name)
        if not self.pending:
            sys.meta_path.remove(self)  # once each is enough
        spec = importlib.machinery.PathFinder.find_spec(name, path)  # type: ignore[arg-type]
        if spec is None or spec.loader is None:
            return spec
        if name == _TARGET:
            spec.loader = _Loader(spec.loader)  # type: ignore[assignment]  # the protocol, not the ABC
        elif (version := dist_version(spec.origin)) is not None:
            spec.loader = _PackageLoader(spec.loader, version)  # type: ignore[assignment]
        return spec


def install() -> None:
    """Before paramiko is imported: from then on its config module never loads invoke, nor
    its __init__ importlib.metadata."""
    if _TARGET not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        finder = _Finder()
        finder.pending -= set(sys.modules)  # paramiko itself imported already: config only
        sys.meta_path.insert(0, finder)
