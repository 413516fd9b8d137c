"""pshctl.platform: links, settings, credentials, cache, certificates; the client against
the real control plane process (no sandbox containers needed for these)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from pshctl.errors import ApiError, ConfigError, NameNotFound
from pshctl.platform import cache, certificates, credentials
from pshctl.platform.client import ApiClient
from pshctl.platform.credentials import Authenticator, Credential
from pshctl.platform.http import Http, retry_after, scrub
from pshctl.platform.resources import DeploymentInfo, EnvironmentInfo
from pshctl.platform.settings import ApiSettings, api_settings, checked_url
from pshctl.sandbox import controlplane, servers
from pshctl.settings import Settings

# --- links, as the official clients read them ---------------------------------------------


def env(links: dict[str, str], status: str = "active") -> EnvironmentInfo:
    return EnvironmentInfo.from_json({
        "id": "main", "name": "main", "machine_name": "main-abc", "status": status,
        "type": "production", "_links": {
            "self": {"href": "https://api/x"}, "#edit": {"href": "/x"},
            **{rel: {"href": href} for rel, href in links.items()}}})


def test_links_of_containers_workers_and_instances() -> None:
    info = env({
        "pf:ssh:app": "ssh://p-main--app@ssh.eu-5.platform.sh",
        "pf:ssh:app--queue": "ssh://p-main--app--queue@ssh.eu-5.platform.sh",
        "pf:ssh:app--mail:10": "ssh://mail10@h", "pf:ssh:app--mail:2": "ssh://mail2@h",
    })
    assert info.links.keys() == {"pf:ssh:app", "pf:ssh:app--queue", "pf:ssh:app--mail:10",
                                 "pf:ssh:app--mail:2"}  # only SSH links are kept
    assert info.containers() == ["app", "app--mail", "app--queue"]
    queue = info.container("app--queue")
    assert queue.default_url() == "ssh://p-main--app--queue@ssh.eu-5.platform.sh"
    assert queue.instance_count == 1 and queue.instances == ()
    mail = info.container("app--mail")
    assert [i for i, _ in mail.instances] == ["2", "10"]  # natural order
    assert mail.default_url() == "ssh://mail2@h" and mail.instance_count == 2
    assert info.container("app--none").default_url() is None
    assert not info.legacy and info.active


def test_legacy_and_dedicated_links() -> None:
    legacy = env({"ssh": "ssh://p-main@ssh.eu.platform.sh"})
    assert legacy.legacy and legacy.ssh_urls() == {"": "ssh://p-main@ssh.eu.platform.sh"}
    dedicated = env({"pf:ssh:app": "ssh://app@h", "ent-1": "ssh://1.ent@h",
                     "ent-2": "ssh://2.ent@h"})
    assert dedicated.container("app").url == "ssh://app@h"
    # a container without links of its own: the cluster's hosts are its instances
    assert [i for i, _ in dedicated.container("app--queue").instances] == ["1", "2"]
    assert not env({}, status="inactive").active


def test_environment_round_trips_through_the_cache_form() -> None:
    info = env({"pf:ssh:app": "ssh://a@h"})
    assert EnvironmentInfo.from_json(info.to_json()) == info


def test_deployment_workers_of_one_app() -> None:
    data = {"webapps": {"app": {"instance_count": 2}, "other": {}},
            "workers": {"app--queue": {"name": "app--queue", "app": "app", "instance_count": 3},
                        "app--mail": {"name": "app--mail", "app": "app", "instance_count": None},
                        "other--x": {"name": "other--x", "app": "other"}}}
    deployment = DeploymentInfo.from_json(data, "app")
    assert deployment.app_instances == 2
    assert dict(deployment.workers) == {"queue": 3, "mail": 1}
    assert DeploymentInfo.from_json("garbage", "app").workers == {}


# --- settings -------------------------------------------------------------------------------


def test_api_settings_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PSHCTL_API_URL")
    monkeypatch.delenv("PSHCTL_AUTH_URL")
    assert api_settings(Settings()) == ApiSettings()  # Upsun's endpoints
    assert api_settings(Settings()).api_url == "https://api.upsun.com"
    from_file = api_settings(Settings(api_url="https://api.example.com/"))
    assert from_file.api_url == "https://api.example.com"
    monkeypatch.setenv("PSHCTL_API_URL", "https://env.example.com")
    assert api_settings(Settings(api_url="https://api.example.com")).api_url == (
        "https://env.example.com")
    monkeypatch.setenv("PSHCTL_API_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="PSHCTL_API_TIMEOUT must be a number"):
        api_settings(Settings())


@pytest.mark.parametrize("url", ["http://api.example.com", "ftp://x", "https://", "api.upsun.com",
                                 "https://h/?q=1"])
def test_urls_that_would_send_a_token_badly_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        checked_url(url, "api_url")
    assert checked_url("http://127.0.0.1:8/api/", "api_url") == "http://127.0.0.1:8/api"


def test_settings_file_keys(tmp_path: Path) -> None:
    from pshctl.settings import load_settings

    (tmp_path / ".pshctl.yaml").write_text("api_url: https://api.example.com\n"
                                           "auth_url: http://10.0.0.1/auth\n")
    with pytest.raises(ConfigError, match=r"\.pshctl\.yaml:2: 'auth_url' refused: .*plain http"):
        load_settings(tmp_path)
    (tmp_path / ".pshctl.yaml").write_text("api_url: https://api.example.com\n")
    assert load_settings(tmp_path).api_url == "https://api.example.com"


# --- credentials ------------------------------------------------------------------------------


def fake_cli(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_token_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    auth = "https://auth.example.com"
    assert credentials.find_credential(auth) is None
    exp = int(time.time()) + 600
    payload = json.dumps({"exp": exp}).encode()
    import base64

    jwt = "h." + base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".s"
    fake_cli(tmp_path, "platform",
             f'[ "$1 $2" = "auth:token -W" ] && printf "%s" "{jwt}" || exit 1')
    borrowed = credentials.find_credential(auth)
    assert borrowed is not None and borrowed.source == "the platform CLI"
    assert borrowed.api_token is None and borrowed.access is not None
    assert borrowed.access.expires_at == exp
    fake_cli(tmp_path, "upsun", "exit 1")  # tried first, not logged in: platform lends
    assert credentials.find_credential(auth).source == "the platform CLI"  # type: ignore[union-attr]

    credentials.store_token(auth, "from-keyring")
    assert credentials.find_credential(auth).source == "the OS keyring"  # type: ignore[union-attr]
    assert credentials.find_credential("https://other.example.com").source != "the OS keyring"  # type: ignore[union-attr]
    for name in ("PLATFORMSH_CLI_TOKEN", "UPSUN_CLI_TOKEN", "PSHCTL_TOKEN"):
        monkeypatch.setenv(name, f"from-{name}")
        found = credentials.find_credential(auth)
        assert found is not None and found.source == name and found.api_token == f"from-{name}"
    assert "from-" not in repr(found)  # a credential's repr shows no secret
    assert credentials.delete_token(auth) and not credentials.delete_token(auth)


def test_scrub_and_jwt_expiry() -> None:
    assert scrub("bad token abc123 here", ("abc123",)) == "bad token *** here"
    assert credentials.jwt_expiry("not-a-jwt") is None
    assert credentials.jwt_expiry("a.!!!.c") is None


def test_retry_after_values() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    later = retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 30


# --- the client against the real control plane process ------------------------------------


class Plane:
    def __init__(self, directory: Path, world: controlplane.World) -> None:
        self.directory = directory
        self.world = world

    def settings(self, timeout: float = 5.0) -> ApiSettings:
        return ApiSettings(self.world.api_url, self.world.auth_url, timeout=timeout)

    def client(self, token: str | None = None, **http: object) -> ApiClient:
        credential = Credential("PSHCTL_TOKEN", api_token=token or self.world.token)
        settings = self.settings()
        return ApiClient(settings, credential, http=Http(settings.timeout, **http))  # type: ignore[arg-type]

    def faults(self, **faults: object) -> None:
        tmp = controlplane.faults_file(self.directory).with_suffix(".tmp")
        tmp.write_text(json.dumps(faults))
        tmp.replace(controlplane.faults_file(self.directory))

    def requests(self) -> list[str]:
        return [f"{r['method']} {r['path']} {r['status']}"
                for r in controlplane.read_requests(self.directory)]


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    directory = tmp_path / "plane"
    port = servers.free_port()
    world = controlplane.prepare(
        directory, project="proj", app="app", user="someone", port=port,
        containers=[controlplane.Container("app", "web", 2201),
                    controlplane.Container("queue", "worker", 2202, "run-queue")])
    pid = controlplane.start(directory, port)
    try:
        yield Plane(directory, world)
    finally:
        servers.terminate(pid)


@pytest.mark.integration
def test_environments_and_the_access_token_kept(plane: Plane) -> None:
    client = plane.client()
    [main, staging] = client.environments("proj")
    assert (main.name, main.status, staging.status) == ("main", "active", "inactive")
    assert main.container("app--queue").default_url() == "ssh://someone@127.0.0.1:2202"
    assert main.machine_name.startswith("main-")
    assert client.environment("proj", "main") == main
    deployment = client.current_deployment("proj", "main", "app")
    assert dict(deployment.workers) == {"queue": 1}
    assert plane.requests() == [
        "POST /auth/oauth2/token 200", "GET /api/projects/proj/environments 200",
        "GET /api/projects/proj/environments/main 200",
        "GET /api/projects/proj/environments/main/deployments/current 200"]
    # kept 0600 under a hash, and reused by the next client: no second exchange
    [kept] = credentials.tokens_dir().glob("*.json")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert plane.world.token not in kept.read_text()
    plane.client().environments("proj")
    assert plane.requests()[-1] == "GET /api/projects/proj/environments 200"
    assert len(plane.requests()) == 5


@pytest.mark.integration
def test_unknown_names_list_the_valid_ones(plane: Plane) -> None:
    client = plane.client()
    with pytest.raises(NameNotFound, match="did you mean 'main'") as env_info:
        client.environment("proj", "mian")
    assert "main, staging" in (env_info.value.hint or "")
    with pytest.raises(NameNotFound, match="unknown project 'prj'; did you mean 'proj'"):
        client.environments("prj")


@pytest.mark.integration
def test_retries_honour_retry_after_and_back_off(plane: Plane) -> None:
    waits: list[float] = []
    client = plane.client(sleep=waits.append)
    client.auth.bearer()
    plane.faults(rules=[
        {"path": "/api/*", "status": 429, "headers": {"Retry-After": "7"}, "times": 1},
        {"path": "/api/*", "status": 502, "times": 2}])
    assert client.environments("proj")
    assert waits[0] == 7.0 and len(waits) == 3
    # 0.5 s doubled at each retry (this is the second and third), with +-25 % jitter
    assert 0.75 <= waits[1] <= 1.25 and 1.5 <= waits[2] <= 2.5
    plane.faults(rules=[{"path": "/api/*", "status": 429, "headers": {"Retry-After": "120"}}])
    with pytest.raises(ApiError, match="rate-limiting") as info:
        client.environments("proj")
    assert info.value.hint == "try again in 120 s"  # too long to sleep through


@pytest.mark.integration
def test_a_refused_access_token_is_renewed_once(plane: Plane) -> None:
    client = plane.client()
    client.auth.bearer()
    plane.faults(rules=[{"path": "/api/*", "status": 401, "times": 1}])
    assert client.environments("proj")
    assert plane.requests()[-3:] == ["GET /api/projects/proj/environments 401",
                                     "POST /auth/oauth2/token 200",
                                     "GET /api/projects/proj/environments 200"]


@pytest.mark.integration
def test_a_wrong_token_is_never_echoed(plane: Plane) -> None:
    plane.faults(rules=[{"path": "/auth/oauth2/token", "status": 400,
                         "body": '{"error": "invalid_grant", "error_description": '
                                 '"token wrong-123 is unknown"}'}])
    with pytest.raises(ApiError) as info:
        plane.client(token="wrong-123").environments("proj")
    assert "wrong-123" not in f"{info.value} {info.value.hint}"
    assert "token *** is unknown" in str(info.value)


@pytest.mark.integration
def test_silence_is_a_timeout(plane: Plane) -> None:
    settings = ApiSettings(plane.world.api_url, plane.world.auth_url, timeout=0.5)
    client = ApiClient(settings, Credential("PSHCTL_TOKEN", api_token=plane.world.token))
    plane.faults(rules=[{"path": "/auth/*", "delay": 5}])
    with pytest.raises(ApiError, match=r"did not answer within 0\.5 s"):
        client.environments("proj")


# --- certificates ---------------------------------------------------------------------------


@pytest.mark.integration
def test_own_certificate_obtained_kept_private_and_chosen(plane: Plane) -> None:
    client = plane.client()
    choice = certificates.choose(lambda: client)
    cert = choice.certificate
    assert cert is not None and cert.source == "pshctl" and cert.key_id == plane.world.user_id
    for path in cert.key.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.key.parent.stat().st_mode) == 0o700
    assert certificates.own_certificate() == cert
    # valid and not due: chosen again without asking the API
    assert certificates.choose(lambda: pytest.fail("asked the API")).certificate == cert
    renewed = certificates.choose(lambda: client, renew=True).certificate
    assert renewed is not None and renewed.key != cert.key
    assert certificates.own_certificate() == renewed
    signed = [r for r in plane.requests() if r == "POST /auth/ssh 200"]
    assert len(signed) == 2


def _session_certificate(home: Path, root: str, plane: Plane, validity: str) -> Path:
    ssh = home / root / ".session" / "sess-cli-default" / "ssh"
    ssh.mkdir(parents=True)
    key = ssh / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    subprocess.run(["ssh-keygen", "-q", "-s", str(controlplane.ca_key(plane.directory)),
                    "-I", f"cli-{root}", "-n", "someone", "-V", validity, str(key) + ".pub"],
                   check=True)
    return key


@pytest.mark.integration
def test_session_certificates_of_the_clis(plane: Plane, isolation: Path) -> None:
    old = _session_certificate(isolation, ".platformsh", plane, "-2h:-1h")
    assert [c.source for c in certificates.session_certificates()] == ["the Platform.sh CLI"]
    nothing = certificates.choose(lambda: None)
    assert nothing.certificate is None
    assert f"{old}-cert.pub" in nothing.passed_over[0] and "expired at" in nothing.passed_over[0]
    _session_certificate(isolation, ".upsun-cli", plane, "-1m:+1h")
    chosen = certificates.choose(lambda: pytest.fail("asked the API")).certificate
    assert chosen is not None and chosen.source == "the Upsun CLI"
    assert chosen.key_id == "cli-.upsun-cli"


# --- cache ------------------------------------------------------------------------------------


def test_cache_ttl_names_and_files(tmp_path: Path) -> None:
    store = cache.EnvironmentCache("https://api", "proj")
    assert store.load() is None and cache.cached_environment_names("https://api", "proj") == []
    saved = store.save([env({"pf:ssh:app": "ssh://a@h"})])
    assert saved.fresh(60) and not saved.fresh(60, now=saved.fetched_at + 61)
    assert store.load() == saved
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert cache.cached_environment_names("https://api", "proj") == ["main"]
    assert cache.EnvironmentCache("https://other", "proj").load() is None
    store.path.write_text("{not json")
    assert store.load() is None  # a broken cache is no cache
    store.save([])
    assert cache.drop_all() == 1 and not store.path.exists()


def test_no_request_reaches_the_real_platform() -> None:
    # the isolation fixture points the API at a closed local port
    assert os.environ["PSHCTL_API_URL"].startswith("http://127.0.0.1:9/")
    with pytest.raises(ApiError, match="Connection refused"):
        Authenticator(Credential("PSHCTL_TOKEN", api_token="x"),
                      os.environ["PSHCTL_AUTH_URL"], Http(2)).exchange()
