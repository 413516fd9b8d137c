"""Shared fixtures: every test runs isolated from the user's real home and keyring."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import CliRunner

pytest_plugins = ["tests.testbed", "tests.terminal"]


@pytest.fixture(autouse=True)
def isolation(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME, XDG dirs and keyring; no PSHCTL_/PLATFORM_/UPSUN_ variables (the
    API pointed at a closed port); no colour."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(("PSHCTL_", "PLATFORM_", "UPSUN_", "PLATFORMSH_")) or name in {
                "SSH_AUTH_SOCK", "FORCE_COLOR"}:
            monkeypatch.delenv(name, raising=False)
    # Nothing reaches the real platform: an API request goes to a closed local port.
    monkeypatch.setenv("PSHCTL_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("PSHCTL_AUTH_URL", "http://127.0.0.1:9/auth")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(home.parent))
    return home


@pytest.fixture(autouse=True)
def servers_only_in_integration_tests(request: pytest.FixtureRequest,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts sshd or runsvdir (directly, through the test bed or the
    sandbox) must carry ``@pytest.mark.integration``: without it, starting one fails."""
    if request.node.get_closest_marker("integration") is not None:
        return
    from pshctl.sandbox import servers

    def refuse(argv: list[str], log: object = None) -> int:
        pytest.fail(f"{request.node.nodeid} starts a server ({argv[0]}): "
                    "mark it @pytest.mark.integration")

    monkeypatch.setattr(servers, "_spawn", refuse)


@pytest.fixture
def cli() -> CliRunner:
    """Run pshctl in-process: ``cli("workers", "--json", cwd=path)``."""
    return CliRunner()
