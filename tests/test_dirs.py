"""pshctl's folders follow the XDG rules as platformdirs does, without importing it."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest

from pshctl import dirs

pytestmark = pytest.mark.skipif(sys.platform in ("darwin", "win32"),
                                reason="platformdirs answers there")

CASES = {
    "config": ("XDG_CONFIG_HOME", platformdirs.user_config_path, ".config"),
    "data": ("XDG_DATA_HOME", platformdirs.user_data_path, ".local/share"),
    "state": ("XDG_STATE_HOME", platformdirs.user_state_path, ".local/state"),
    "cache": ("XDG_CACHE_HOME", platformdirs.user_cache_path, ".cache"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("value", [None, "", "relative/dir", "/abs/xdg"])
def test_each_folder_is_platformdirs_own(kind: str, value: str | None, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    variable, theirs, default = CASES[kind]
    monkeypatch.setenv("HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, value)
    expected = Path("/abs/xdg/pshctl") if value == "/abs/xdg" else tmp_path / default / "pshctl"
    assert dirs.user_dir(kind) == expected
    assert dirs.user_dir(kind) == theirs("pshctl")


def test_an_explicit_environment_is_read_instead_of_the_process_one(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": "/elsewhere"}
    assert dirs.cache_dir(env) == Path("/elsewhere/pshctl")
    assert dirs.cache_dir({"HOME": str(tmp_path)}) == tmp_path / ".cache" / "pshctl"
