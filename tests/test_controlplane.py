"""End to end on the sandbox's emulated control plane: token -> API -> links -> certificate
-> SSH, with real processes (the control plane's HTTP server, sshd per container, runit).

One sandbox of ``examples/`` serves the whole module (starting one costs seconds); each
test has its own HOME (so no certificate, access token or cache of another test) and
sets the faults it needs in the control plane's ``faults.json``. pshctl runs as a
subprocess with only the variables ``pshctl sandbox env`` prints (plus PSHCTL_STATE_DIR,
which says where this module's sandbox lives).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pshctl.sandbox import controlplane, manager, registry, servers
from pshctl.sandbox.state import read_state
from tests.helpers import REPO, CliResult, run_pshctl

pytestmark = pytest.mark.integration

APP = "shop"


@dataclass
class Sandbox:
    app_dir: Path
    state_dir: Path  # PSHCTL_STATE_DIR of this module's sandbox
    root: Path  # the sandbox's own directory under it
    variables: dict[str, str]  # what `pshctl sandbox env` printed

    @property
    def controlplane(self) -> Path:
        return controlplane.directory_of(self.root)

    @property
    def token(self) -> str:
        return self.variables["PSHCTL_TOKEN"]

    @property
    def world(self) -> controlplane.World:
        world = controlplane.read_world(self.controlplane)
        assert world is not None
        return world

    def env(self, **extra: str) -> dict[str, str]:
        return {"PSHCTL_STATE_DIR": str(self.state_dir), **self.variables, **extra}

    def pshctl(self, *args: str, timeout: float = 120, **extra: str) -> CliResult:
        result = run_pshctl(*args, cwd=self.app_dir, env=self.env(**extra), timeout=timeout)
        assert "Traceback" not in result.stderr, result
        assert self.token not in result.stdout + result.stderr, "the token was printed"
        return result

    def faults(self, **faults: Any) -> None:
        path = controlplane.faults_file(self.controlplane)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(faults))
        tmp.replace(path)

    def requests(self) -> list[dict[str, Any]]:
        return controlplane.read_requests(self.controlplane)

    def sshd_log(self, worker: str) -> str:
        return (self.root / "workers" / worker / "ssh" / "sshd.log").read_text(errors="replace")


def _in(env: dict[str, str]) -> pytest.MonkeyPatch:
    patch = pytest.MonkeyPatch()
    for name, value in env.items():
        patch.setenv(name, value)
    return patch


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    top = tmp_path_factory.mktemp("controlplane")
    app_dir = top / "shop"
    shutil.copytree(REPO / "examples", app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    state_dir = top / "state"
    patch = _in({"PSHCTL_STATE_DIR": str(state_dir), "HOME": str(top)})
    root = registry.sandbox_dir(app_dir, APP)
    try:
        manager.up(app_dir, APP)
        variables = manager.api_environment(app_dir, APP)
        patch.undo()  # each test has its own HOME (the isolation fixture's)
        yield Sandbox(app_dir, state_dir, root, variables)
    finally:
        patch.setenv("PSHCTL_STATE_DIR", str(state_dir))
        state = read_state(root / "state.json")
        manager.down(app_dir, APP)
        for proc in state.processes() if state is not None else []:
            if proc.alive():  # nothing may outlive the module
                servers.terminate(proc.pid, sig=signal.SIGKILL)
        patch.undo()


@pytest.fixture
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox with no faults, every worker running, as each test starts."""
    sandbox.faults()
    for worker in ("queue", "mail"):
        service = sandbox.root / "workers" / worker / "service" / "app"
        subprocess.run(["sv", "up", str(service)], check=False, capture_output=True)
    yield sandbox
    sandbox.faults()


def _paths(requests: list[dict[str, Any]]) -> list[str]:
    return [f"{r['method']} {r['path']} {r['status']}" for r in requests]


def _status(sb: Sandbox, *args: str, **extra: str) -> CliResult:
    return sb.pshctl("-e", "main", "status", "--json", *args, **extra)


# --- the Upsun way, end to end ---------------------------------------------------------


def test_sandbox_env_points_pshctl_at_the_control_plane(sb: Sandbox) -> None:
    out = run_pshctl("sandbox", "env", str(sb.app_dir), env=sb.env())
    assert out.exit_code == 0, out
    lines = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.split("\n")
                 if line)
    assert lines["PSHCTL_API_URL"] == sb.world.api_url
    assert lines["PSHCTL_AUTH_URL"] == sb.world.auth_url
    assert lines["PSHCTL_PROJECT"] == "sandbox"
    assert set(lines) == set(sb.variables)


def test_status_cold_then_warm_makes_no_request(sb: Sandbox) -> None:
    before = len(sb.requests())
    cold = _status(sb)
    assert cold.exit_code == 0, cold
    assert [row["name"] for row in cold.json["workers"]] == ["queue", "mail"]
    assert all(row["state"] in ("up", "starting") for row in cold.json["workers"]), cold
    # no certificate yet (a new HOME): token exchange, environments, a certificate
    assert _paths(sb.requests()[before:]) == [
        "POST /auth/oauth2/token 200",
        "GET /api/projects/sandbox/environments 200",
        "POST /auth/ssh 200",
    ]

    warm = _status(sb)
    assert warm.exit_code == 0, warm
    assert len(sb.requests()) == before + 3, "a warm run asked the API"

    # The certificate the control plane signed is what the container's sshd accepted.
    accepted = [line for line in sb.sshd_log("queue").splitlines() if "Accepted" in line]
    assert "ED25519-CERT" in accepted[-1] and f"ID {sb.world.user_id} " in accepted[-1]

    for cache in (Path.home() / ".cache" / "pshctl" / "platform").glob("environments-*"):
        cache.unlink()  # cold cache, valid certificate and access token: one request
    again = _status(sb)
    assert again.exit_code == 0, again
    assert _paths(sb.requests()[before + 3:]) == ["GET /api/projects/sandbox/environments 200"]

    refreshed = sb.pshctl("--refresh", "-e", "main", "status")
    assert refreshed.exit_code == 0, refreshed
    assert len(sb.requests()) == before + 5


def test_restart_wait_logs_and_ssh_through_the_api(sb: Sandbox) -> None:
    restart = sb.pshctl("-e", "main", "restart", "queue", "--json")
    assert restart.exit_code == 0, restart
    wait = sb.pshctl("-e", "main", "wait", "queue", "--json")
    assert wait.exit_code == 0, wait

    ssh = sb.pshctl("-e", "main", "ssh", "--worker", "queue", "--", "sh", "-c",
                    "echo $PLATFORM_APPLICATION_NAME; sv status app")
    assert ssh.exit_code == 0, ssh
    assert ssh.stdout.startswith("shop\nrun: ")
    pipe = sb.pshctl("-e", "main", "ssh", "--worker", "mail", "--pipe")
    port = next(c.port for c in sb.world.containers if c.name == "mail")
    assert pipe.stdout.strip() == f"ssh://{sb.world.user}@127.0.0.1:{port}"

    logs = sb.pshctl("-e", "main", "logs", "queue", "-n", "5")
    assert logs.exit_code == 0 and "queue[" in logs.stdout, logs
    _follow_until(sb, "queue", "started in")


def _follow_until(sb: Sandbox, worker: str, text: str) -> None:
    """``logs -f`` shows what the worker writes after it attached; Ctrl-C ends it (130)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pshctl", "-e", "main", "logs", "-f", worker, "-n", "1"],
        cwd=sb.app_dir, env={**os.environ, **sb.env()}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline()  # the last line so far: the follower is attached
        restart = sb.pshctl("-e", "main", "restart", worker)
        assert restart.exit_code == 0, restart
        seen = []
        for line in proc.stdout:  # bounded by the pytest timeout
            seen.append(line)
            if text in line:
                break
        assert any(text in line for line in seen), seen
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and sb.token not in err


def test_unknown_and_inactive_environments(sb: Sandbox) -> None:
    typo = sb.pshctl("-e", "mian", "status")
    assert typo.exit_code == 3
    assert "unknown environment 'mian'; did you mean 'main'?" in typo.stderr
    assert "main, staging" in typo.stderr
    inactive = sb.pshctl("-e", "staging", "status")
    assert inactive.exit_code == 3 and "'staging' is inactive" in inactive.stderr


def test_tab_completion_offers_the_apis_environments_from_the_cache(sb: Sandbox) -> None:
    assert _status(sb).exit_code == 0
    before = len(sb.requests())
    done = subprocess.run(
        [sys.executable, "-m", "pshctl"], cwd=sb.app_dir, capture_output=True, text=True,
        timeout=30, env={**os.environ, **sb.env(), "_PSHCTL_COMPLETE": "complete_bash",
                         "COMP_WORDS": "pshctl -e ", "COMP_CWORD": "2"})
    assert {"main", "staging"} <= set(done.stdout.split()), done
    assert len(sb.requests()) == before  # the cache only


def test_instances_are_resolved_from_their_links(sb: Sandbox,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from pshctl.context import Selection, resolve_context
    from pshctl.targets import resolve_targets

    sb.faults(instances={"queue": 2})
    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    context = resolve_context(Selection(environment="main", refresh=True), cwd=sb.app_dir)
    *queue, mail = resolve_targets(context, ["queue", "mail"])
    assert [(t.name, t.instance, t.instances) for t in queue] == [("queue.0", 0, 2),
                                                                   ("queue.1", 1, 2)]
    assert (mail.name, mail.instance, mail.instances) == ("mail", 0, 1)
    [single] = resolve_targets(context, ["queue"], instance=1)
    assert single == queue[1]

    one = sb.pshctl("--refresh", "-e", "main", "ssh", "--worker", "queue", "--instance", "1",
                    "--", "true")
    assert one.exit_code == 0, one
    none = sb.pshctl("-e", "main", "ssh", "--worker", "queue", "--instance", "5", "--", "true")
    assert none.exit_code == 3, none
    assert "instance 5 of queue does not exist; available instances: 0, 1" in none.stderr


def test_no_token_in_the_trail_even_with_vv(sb: Sandbox) -> None:
    """-vv shows the API's requests and paramiko's own lines, never the API token nor the
    access token it was exchanged for (nor on a failure's retries)."""
    from pshctl.platform.credentials import tokens_dir

    sb.faults(rules=[{"path": "/api/projects/*/environments", "status": 500, "times": 1}])
    cold = sb.pshctl("-vv", "-e", "main", "status")  # sb.pshctl: the API token is in no output
    assert cold.exit_code == 0, cold
    assert "/auth/oauth2/token" in cold.stderr and "HTTP 500, retry" in cold.stderr, cold
    assert "paramiko: " in cold.stderr
    kept = [json.loads(p.read_text())["access_token"] for p in tokens_dir().glob("*.json")]
    assert kept, "no access token was kept"
    for token in kept:
        assert token not in cold.stdout + cold.stderr, "the access token was printed"


def test_auth_login_status_logout(sb: Sandbox) -> None:
    without = {"PSHCTL_TOKEN": ""}
    nothing = sb.pshctl("auth", "status", **without)
    assert nothing.exit_code == 4 and "none found" in nothing.stdout
    wrong = run_pshctl("auth", "login", "--token-stdin", cwd=sb.app_dir,
                       env=sb.env(**without), input="not-the-token\n")
    assert wrong.exit_code == 4 and "was refused" in wrong.stderr, wrong
    login = run_pshctl("auth", "login", "--token-stdin", cwd=sb.app_dir,
                       env=sb.env(**without), input=sb.token + "\n")
    assert login.exit_code == 0, login
    assert sb.token not in login.stdout + login.stderr
    status = sb.pshctl("auth", "status", "--check", **without)
    assert status.exit_code == 0 and "the OS keyring (API token)" in status.stdout, status
    assert _status(sb, **without).exit_code == 0  # the keyring's token is used
    out = sb.pshctl("auth", "logout", **without)
    assert out.exit_code == 0 and "keyring" in out.stdout
    assert sb.pshctl("auth", "status", **without).exit_code == 4


# --- faults: a clear error or warning, a documented exit code, no traceback, no token ----


@pytest.mark.parametrize(
    ("faults", "extra", "code", "message"),
    [
        ({}, {"PSHCTL_API_URL": "http://127.0.0.1:9/api"}, 4,
         "cannot reach the API at http://127.0.0.1:9: Connection refused"),
        ({"rules": [{"path": "/api/*", "delay": 20}]}, {"PSHCTL_API_TIMEOUT": "1"}, 4,
         "did not answer within 1 s"),
        ({"rules": [{"path": "/api/*", "status": 401}]}, {}, 4,
         "the API refused the credentials from PSHCTL_TOKEN (HTTP 401"),
        ({"rules": [{"path": "/api/*", "status": 403}]}, {}, 4,
         "give no access to project 'sandbox' (HTTP 403"),
        ({"rules": [{"path": "/api/*", "status": 429, "headers": {"Retry-After": "1"}}]}, {},
         4, "rate-limiting pshctl (HTTP 429)"),
        ({"rules": [{"path": "/api/*", "status": 503}]}, {}, 4,
         "the API failed (HTTP 503) for GET"),
        ({"rules": [{"path": "/api/*", "body": "<html>oops"}]}, {}, 4,
         "cannot read (not JSON)"),
        ({"rules": [{"path": "/auth/oauth2/token", "status": 400,
                     "body": '{"error": "invalid_grant"}'}]}, {}, 4,
         "the API token from PSHCTL_TOKEN was refused"),
        ({}, {"PSHCTL_PROJECT": "sandbxo"}, 3,
         "unknown project 'sandbxo'; did you mean 'sandbox'?"),
    ],
    ids=["refused", "silent", "401", "403", "429", "5xx", "malformed", "token-refused", "404"],
)
def test_api_faults(sb: Sandbox, faults: dict[str, Any], extra: dict[str, str], code: int,
                    message: str) -> None:
    sb.faults(**faults)
    result = _status(sb, **extra)
    assert result.exit_code == code, result
    assert message in result.stderr, result
    assert result.stdout == ""  # --json: nothing when the command failed before a document
    assert "hint: " in result.stderr


def test_429_with_retry_after_then_success(sb: Sandbox) -> None:
    sb.faults(rules=[{"path": "/api/*", "status": 429, "headers": {"Retry-After": "1"},
                      "times": 1}])
    before = len(sb.requests())
    result = _status(sb)
    assert result.exit_code == 0, result
    tried = [r for r in sb.requests()[before:] if r["path"].startswith("/api/")]
    assert [r["status"] for r in tried] == [429, 200], tried
    assert tried[1]["t"] - tried[0]["t"] >= 1.0, tried  # Retry-After honoured (server's clock)


def test_500_then_success(sb: Sandbox) -> None:
    sb.faults(rules=[{"path": "/api/*", "status": 500, "times": 2}])
    before = len(sb.requests())
    result = _status(sb)
    assert result.exit_code == 0, result
    tried = [r["status"] for r in sb.requests()[before:] if r["path"].startswith("/api/")]
    assert tried == [500, 500, 200]


def test_missing_links(sb: Sandbox) -> None:
    sb.faults(drop_links=["pf:ssh:shop--queue"])
    named = _status(sb, "queue")
    assert named.exit_code == 3, named
    assert "worker 'queue' is not deployed in environment 'main'" in named.stderr
    every = _status(sb)
    assert every.exit_code == 0, every
    assert [row["name"] for row in every.json["workers"]] == ["mail"]
    assert "defined in .platform.app.yaml but not deployed: queue" in every.stderr

    sb.faults(drop_links=["pf:ssh:shop"])
    app = sb.pshctl("--refresh", "-e", "main", "ssh", "--", "true")
    assert app.exit_code == 3, app
    assert "the API lists no SSH link for app 'shop'" in app.stderr


def test_deployment_differs_from_the_local_definition(sb: Sandbox) -> None:
    sb.faults(workers=["queue", "extra"])
    result = _status(sb)
    assert result.exit_code == 0, result
    assert ("the workers of app 'shop' in .platform.app.yaml differ from the deployment of "
            "environment 'main'") in result.stderr
    assert "defined in .platform.app.yaml but not deployed: mail" in result.stderr
    assert "deployed but not defined in .platform.app.yaml: extra" in result.stderr
    assert result.stderr.count("warning:") == 1  # once, though targets resolve twice


def test_an_expired_certificate_is_named(sb: Sandbox) -> None:
    sb.faults(certificate_validity="-2h:-1h")
    result = _status(sb)
    assert result.exit_code == 4, result
    assert "the API issued an SSH certificate valid from" in result.stderr  # the warning
    assert "which is not now" in result.stderr
    for row in result.json["workers"]:  # each worker's error names the cause
        assert "no valid SSH certificate (the API issued an SSH certificate" in row["error"]


def test_a_refused_certificate_is_named_and_renewed_once(sb: Sandbox) -> None:
    sb.faults(certificate_principal="nobody")
    before = len(sb.requests())
    result = _status(sb, "queue")
    assert result.exit_code == 4, result
    [row] = result.json["workers"]
    assert "the server refused the SSH certificate" in row["error"]
    assert f"key id '{sb.world.user_id}'" in row["error"]
    signed = [r for r in sb.requests()[before:] if r["path"] == "/auth/ssh"]
    assert len(signed) == 2  # the first, and one renewal after the refusal

    sb.faults()  # a good certificate: renewed on the next run
    assert _status(sb, "queue").exit_code == 0


def test_a_certificate_close_to_its_end_is_renewed(sb: Sandbox) -> None:
    sb.faults(certificate_validity="-5m:+30s")
    before = len(sb.requests())
    assert _status(sb).exit_code == 0  # usable, though due
    sb.faults()
    assert _status(sb).exit_code == 0
    signed = [r for r in sb.requests()[before:] if r["path"] == "/auth/ssh"]
    assert len(signed) == 2


def test_a_stale_cached_destination_is_fetched_again_once(sb: Sandbox) -> None:
    assert _status(sb).exit_code == 0  # cache the links
    [cache] = (Path.home() / ".cache" / "pshctl" / "platform").glob("environments-*")
    data = json.loads(cache.read_text())
    main = next(e for e in data["environments"] if e["name"] == "main")
    main["links"]["pf:ssh:shop--queue"] = f"ssh://{sb.world.user}@127.0.0.1:9"
    cache.write_text(json.dumps(data))
    before = len(sb.requests())
    result = _status(sb, "queue")
    assert result.exit_code == 0, result
    assert _paths(sb.requests()[before:]) == ["GET /api/projects/sandbox/environments 200"]


def test_no_certificate_and_no_token_says_so(sb: Sandbox) -> None:
    assert _status(sb).exit_code == 0  # links cached; then the certificate goes
    shutil.rmtree(Path.home() / ".local" / "state" / "pshctl" / "platform" / "ssh")
    result = _status(sb, PSHCTL_TOKEN="")
    assert result.exit_code == 4, result
    for row in result.json["workers"]:
        assert "no valid SSH certificate (none was found)" in row["error"]
        assert "PSHCTL_TOKEN" in row["error"]  # what to do
