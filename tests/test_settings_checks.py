"""Config files' checks: each refusal names the file:line, the key and what is wanted."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pshctl import settings
from pshctl.errors import ConfigError
from pshctl.settings import load_settings


def write(root: Path, text: str) -> Path:
    (root / ".pshctl.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def refusal(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(root)
    return caught.value


# --- api_url, auth_url ------------------------------------------------------------------


def test_api_and_auth_urls_are_read(tmp_path: Path) -> None:
    write(tmp_path, """
        api_url: https://api.example.com/
        auth_url: http://127.0.0.1:8080/auth
        """)
    loaded = load_settings(tmp_path)
    assert (loaded.api_url, loaded.auth_url) == ("https://api.example.com/",
                                                 "http://127.0.0.1:8080/auth")


@pytest.mark.parametrize(("text", "message"), [
    ("project: abc\napi_url: 443\n", ".pshctl.yaml:2: 'api_url' must be a URL, not 443"),
    ("auth_url: ' '\n", ".pshctl.yaml:1: 'auth_url' must be a URL, not ' '"),
    ("api_url: ftp://api.example.com\n",
     ".pshctl.yaml:1: 'api_url' refused: the URL must be an https:// URL, "
     "not 'ftp://api.example.com'"),
    ("auth_url: http://auth.example.com\n",
     ".pshctl.yaml:1: 'auth_url' refused: the URL 'http://auth.example.com' is plain http to "
     "another machine: the API token would travel unencrypted"),
])
def test_a_bad_url_is_refused_with_why(tmp_path: Path, text: str, message: str) -> None:
    assert str(refusal(write(tmp_path, text))) == message
