"""Keep ``invoke`` out of paramiko's import: pshctl never uses it, and it costs 25-35 ms.

``paramiko.config`` imports invoke whenever it is installed (fabric, an optional extra
of pshctl, depends on it), only to run ``Match exec`` commands, which pshctl runs itself
(:mod:`pshctl.ssh.config`). While ``paramiko.config`` executes, ``invoke`` is made
unimportable for that module alone, and it gets a stand-in that imports invoke the first
time a ``Match exec`` needs it; fabric, imported later, gets the real module.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

_TARGET = "paramiko.config"


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


class _Finder:
    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)  # once is enough
        spec = importlib.machinery.PathFinder.find_spec(name, path)  # type: ignore[arg-type]
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)  # type: ignore[assignment]  # the protocol, not the ABC
        return spec


def install() -> None:
    """Before paramiko is imported: from then on its config module never loads invoke."""
    if _TARGET not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
