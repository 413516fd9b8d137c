"""The sandbox's emulation of the platform's control plane: an HTTP API on 127.0.0.1.

``pshctl sandbox up`` starts it (a process of its own, tracked by PID like the sandbox's
sshd and runsvdir) so that the sandbox can be reached the Upsun way: API token -> access
token -> the environment's SSH links -> an SSH certificate -> SSH. It serves, in the
shapes of the platform's public OpenAPI specification, what pshctl uses:

=====================================================  ===================================
``POST /auth/oauth2/token``                            ``grant_type=api_token`` exchange
``POST /auth/ssh``                                     signs ``{"key": ...}`` with the CA
``GET /api/projects/{id}``                             the project
``GET /api/projects/{id}/environments[/{env}]``        environments with ``pf:ssh:*`` links
``GET /api/projects/{id}/environments/{env}/deployments/current``  webapps and workers
``GET /api/users/me``, ``/api/users/{id}/extended-access``         who the token is
=====================================================  ===================================

The environment is ``main`` (plus an inactive ``staging``); its links point at the
containers' sshd ports: a worker the sandbox runs several instances of (``up
--instances queue=3``) has a ``pf:ssh:<app>--<worker>:<N>`` link per instance, and the
deployment says its ``instance_count``. Certificates are signed by a CA of this sandbox
(``ssh-keygen -s``) that every container's sshd trusts (``TrustedUserCAKeys``), for the
sandbox's login user, with the key id of the API's user.

Its files, in ``<sandbox dir>/controlplane/``: ``world.json`` (what it serves, the API
token; 0600), ``ca``/``ca.pub``, ``server.log``, and for tests:

- ``requests.log``: one JSON line per request (method, path, status), never a token;
- ``faults.json``, re-read on each request when it changes::

    {"rules": [{"method": "GET", "path": "/api/projects/*/environments",
                "status": 429, "headers": {"Retry-After": "1"}, "times": 1},
               {"path": "/api/*", "body": "not json"},
               {"path": "/api/*", "delay": 30}],
     "drop_links": ["pf:ssh:app--queue"],      # links missing
     "workers": ["queue", "extra"],            # the deployment's workers instead
     "instances": {"queue": 2},                # pf:ssh:app--queue:0 and :1 (both at
                                               # instance 0's sshd when it runs one)
     "legacy_links": true,                     # only the old single `ssh` link
     "certificate_validity": "-2h:-1h",        # ssh-keygen -V (an expired one)
     "certificate_principal": "nobody",        # one sshd refuses
     "access_token_lifetime": 1}

  A rule answers ``status`` (with ``headers`` and ``body``, default a JSON error), or
  ``body`` alone with status 200, or stays silent for ``delay`` seconds and then closes
  the connection without an answer (recorded with status 0); ``times`` limits how often
  it fires (then the request is served normally).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

HOST = "127.0.0.1"
ENVIRONMENT = "main"  # the sandbox's environment, as the API names it
OTHER_ENVIRONMENT = "staging"  # inactive: a second name for suggestions
DEFAULT_VALIDITY = "-1m:+1h"
DEFAULT_TOKEN_LIFETIME = 900


@dataclass
class Container:
    """One container (one instance of a scaled worker) the sandbox runs."""

    name: str  # the worker's name (the app's for the web container); `queue.1`: an instance
    kind: str  # "web" | "worker"
    port: int
    start: str = ""  # commands.start, for the deployment
    worker: str = ""  # the worker's (or app's) name without the instance; "" = `name`
    instance: int = 0

    @property
    def of(self) -> str:
        return self.worker or self.name


@dataclass
class World:
    """What the control plane serves; written by ``sandbox up``."""

    project: str
    app: str
    user: str  # the SSH login user of every container (the sandbox runs as one account)
    containers: list[Container]
    port: int
    token: str = field(repr=False)
    user_id: str = ""
    started_at: float = field(default_factory=time.time)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    @property
    def auth_url(self) -> str:
        return f"http://{HOST}:{self.port}/auth"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        containers = [Container(**c) for c in data["containers"]]
        return cls(**{**data, "containers": containers})


# --- files ---------------------------------------------------------------------------


def directory_of(sandbox_root: Path) -> Path:
    """The control plane's directory within a sandbox's state directory."""
    return sandbox_root / "controlplane"


def world_file(directory: Path) -> Path:
    return directory / "world.json"


def faults_file(directory: Path) -> Path:
    return directory / "faults.json"


def requests_file(directory: Path) -> Path:
    return directory / "requests.log"


def ca_key(directory: Path) -> Path:
    return directory / "ca"


def read_world(directory: Path) -> World | None:
    try:
        return World.from_json(json.loads(world_file(directory).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def previous_port(directory: Path) -> int | None:
    """The port of the last run, tried first: a shell's ``sandbox env`` stays valid."""
    world = read_world(directory)
    return world.port if world is not None else None


def prepare(directory: Path, *, project: str, app: str, user: str,
            containers: list[Container], port: int) -> World:
    """Write what the server will serve; the CA and the API token of a previous ``up``
    are kept, so that a shell's ``sandbox env`` and trusted CA stay valid."""
    from pshctl import files
    from pshctl.sandbox.servers import generate_key

    files.make_dirs(directory)
    generate_key(ca_key(directory), comment="pshctl-sandbox-ca")  # made before the sshds
    old = read_world(directory)
    token = old.token if old is not None else "sbx-" + secrets.token_urlsafe(24)
    user_id = hashlib.sha256(f"{project}\0{user}".encode()).hexdigest()[:8]
    world = World(project=project, app=app, user=user, containers=containers, port=port,
                  token=token, user_id=f"sandbox-user-{user_id}")
    files.write_file(world_file(directory), json.dumps(world.to_json(), indent=2))
    files.write_file(requests_file(directory), "")
    return world


def start(directory: Path, port: int) -> int:
    """Start the server process on ``port``; its PID once it listens."""
    from pshctl.sandbox import servers

    log = directory / "server.log"
    # The server needs the standard library and this module only: any Python of this
    # version runs it, with pshctl's directory on its path.
    import pshctl

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(pshctl.__file__).resolve().parent.parent),
         *filter(None, [os.environ.get("PYTHONPATH")])])}
    pid = servers._spawn([_interpreter(), "-m", "pshctl.sandbox.controlplane", str(directory)],
                         log=log, env=env)
    servers._wait_listening(HOST, port, pid, log, what="the control plane")
    return pid


def _interpreter() -> str:
    """This Python, or one of the same version this user may run (a virtualenv's link
    into another user's home is not)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, getattr(sys, "_base_executable", ""),
                  f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), sys.executable)


def environment_variables(world: World, known_hosts: Path) -> dict[str, str]:
    """What ``pshctl sandbox env`` prints: pshctl pointed at this control plane."""
    return {
        "PSHCTL_API_URL": world.api_url,
        "PSHCTL_AUTH_URL": world.auth_url,
        "PSHCTL_TOKEN": world.token,
        "PSHCTL_PROJECT": world.project,
        # The platform's host keys are known to its CLIs; the sandbox's are in its file.
        "PSHCTL_KNOWN_HOSTS": str(known_hosts),
    }


def read_requests(directory: Path) -> list[dict[str, Any]]:
    """Every request served so far (tests count them)."""
    try:
        lines = requests_file(directory).read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


# --- what it serves --------------------------------------------------------------------


def _stamp(when: float) -> str:
    return datetime.fromtimestamp(when, tz=timezone.utc).isoformat()


class Model:
    """The API's resources for a world and the faults in force."""

    def __init__(self, world: World, faults: dict[str, Any]) -> None:
        self.world = world
        self.faults = faults

    def machine_name(self, env: str) -> str:
        digest = hashlib.sha256(f"{self.world.project}\0{env}".encode()).hexdigest()
        return f"{env}-{digest[:7]}"

    def workers(self) -> list[str]:
        local = list(dict.fromkeys(c.of for c in self.world.containers if c.kind == "worker"))
        chosen = self.faults.get("workers")
        return [str(w) for w in chosen] if isinstance(chosen, list) else local

    def ports_of(self, name: str) -> list[int]:
        """The sshd port of each instance of a worker (or the app), in instance order; a
        name the sandbox does not run (a fault's extra worker) is reached at the app's."""
        mine = sorted((c for c in self.world.containers if c.of == name),
                      key=lambda c: c.instance)
        if mine:
            return [c.port for c in mine]
        web = next((c.port for c in self.world.containers if c.kind == "web"),
                   self.world.containers[0].port)
        return [web]

    def port_of(self, name: str) -> int:
        return self.ports_of(name)[0]

    def instance_count(self, name: str) -> int:
        """How many instances the deployment says: a fault's number, else those run."""
        faked = self.faults.get("instances")
        count = faked.get(name) if isinstance(faked, dict) else None
        return count if isinstance(count, int) and count > 0 else len(self.ports_of(name))

    def links(self, env: str) -> dict[str, dict[str, str]]:
        base = f"{self.world.api_url}/projects/{self.world.project}/environments/{env}"
        links = {"self": {"href": base},
                 "#deployments": {"href": f"{base}/deployments"}}
        if env != ENVIRONMENT:
            return links
        user, app = self.world.user, self.world.app
        if self.faults.get("legacy_links"):
            links["ssh"] = {"href": f"ssh://{user}@{HOST}:{self.port_of(app)}"}
            return links
        for name in [app, *self.workers()]:
            container = app if name == app else f"{app}--{name}"
            ports = self.ports_of(name)
            count = self.instance_count(name)
            if count > 1:  # a scaled container: one link per instance, as the platform has
                for n in range(count):
                    port = ports[n] if n < len(ports) else ports[0]
                    links[f"pf:ssh:{container}:{n}"] = {"href": f"ssh://{user}@{HOST}:{port}"}
            else:
                links[f"pf:ssh:{container}"] = {"href": f"ssh://{user}@{HOST}:{ports[0]}"}
        for rel in self.faults.get("drop_links") or []:
            links.pop(str(rel), None)
        return links

    def environment(self, env: str) -> dict[str, Any]:
        world = self.world
        active = env == ENVIRONMENT
        created = _stamp(world.started_at)
        return {
            "id": env, "name": env, "machine_name": self.machine_name(env),
            "title": env.capitalize(), "attributes": {},
            "type": "production" if active else "staging",
            "parent": None if active else ENVIRONMENT,
            "default_domain": None, "has_domains": False, "clone_parent_on_create": True,
            "deployment_target": "local", "is_pr": False, "has_remote": False,
            "status": "active" if active else "inactive",
            "http_access": {"is_enabled": False, "addresses": [], "basic_auth": {}},
            "enable_smtp": False, "restrict_robots": True, "edge_hostname": "",
            "deployment_state": {"last_state_update_timestamp": created,
                                 "last_state_update_smtp": None, "crons": {}},
            "sizing": None, "resources_overrides": {}, "max_instance_count": None,
            "last_active_at": created if active else None, "last_backup_at": None,
            "project": world.project, "is_main": active, "is_dirty": False,
            "has_staged_activities": False, "can_rolling_deploy": False,
            "supports_rolling_deployments": False, "has_code": True,
            "head_commit": hashlib.sha1(env.encode()).hexdigest(),
            "merge_info": {"commits_ahead": 0, "commits_behind": 0, "parent_ref": None},
            "has_deployment": active, "supports_restrict_robots": True,
            "created_at": created, "updated_at": created,
            "_links": self.links(env),
        }

    def environments(self) -> list[dict[str, Any]]:
        return [self.environment(ENVIRONMENT), self.environment(OTHER_ENVIRONMENT)]

    def project(self) -> dict[str, Any]:
        world = self.world
        created = _stamp(world.started_at)
        return {
            "id": world.project, "created_at": created, "updated_at": created,
            "attributes": {}, "title": f"{world.app} (sandbox)", "description": "",
            "owner": world.user_id, "namespace": "sandbox", "organization": "sandbox",
            "default_branch": ENVIRONMENT, "status": {"code": "provisioned", "message": ""},
            "timezone": "UTC", "region": HOST, "repository": {"url": "", "client_ssh_key": ""},
            "default_domain": None, "subscription": {"license_uri": "", "plan": "development"},
            "maintenance": None,
            "_links": {"self": {"href": f"{world.api_url}/projects/{world.project}"}},
        }

    def deployment(self) -> dict[str, Any]:
        world = self.world
        app = world.app
        starts = {c.of: c.start for c in world.containers}
        workers = {
            f"{app}--{name}": {
                "name": f"{app}--{name}", "app": app, "type": "sandbox",
                "instance_count": self.instance_count(name),
                "worker": {"commands": {"start": starts.get(name, "")}, "disk": None},
                "size": "AUTO", "disk": None, "mounts": {}, "relationships": {},
                "variables": {}, "access": {}, "supports_horizontal_scaling": True,
            }
            for name in self.workers()
        }
        return {
            "id": "current", "cluster_name": f"{world.project}-{ENVIRONMENT}",
            "project_info": {"name": world.project, "title": f"{app} (sandbox)"},
            "environment_info": {"name": ENVIRONMENT, "machine_name":
                                 self.machine_name(ENVIRONMENT), "is_main": True,
                                 "is_production": True},
            "deployment_target": "local", "vpn": None, "http_access": {},
            "enable_smtp": False, "restrict_robots": True, "variables": [], "access": [],
            "subscription": {"plan": "development"}, "services": {}, "routes": {},
            "webapps": {app: {"name": app, "type": "sandbox",
                              "instance_count": self.instance_count(app)}},
            "workers": workers, "container_profiles": {}, "tasks": {},
        }


# --- the server ------------------------------------------------------------------------


class State:
    """What the server keeps in memory: access tokens, fault counters, serials."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.lock = threading.Lock()
        self.access: dict[str, float] = {}  # access token -> expiry
        self.serial = 0
        self._faults: dict[str, Any] = {}
        self._faults_key: tuple[int, int, int] | None = None
        self._fired: dict[int, int] = {}

    def world(self) -> World:
        world = read_world(self.directory)
        if world is None:
            raise RuntimeError(f"no readable {world_file(self.directory)}")
        return world

    def faults(self) -> dict[str, Any]:
        """The fault file's content, re-read when it changes (counters then restart)."""
        path = faults_file(self.directory)
        try:
            info = path.stat()
            key: tuple[int, int, int] | None = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            key = None
        with self.lock:
            if key != self._faults_key:
                self._faults_key = key
                self._fired = {}
                try:
                    data = json.loads(path.read_text()) if key else {}
                except (OSError, ValueError):
                    data = {}
                self._faults = data if isinstance(data, dict) else {}
            return self._faults

    def rule_for(self, method: str, path: str) -> dict[str, Any] | None:
        rules = self.faults().get("rules") or []
        with self.lock:
            for index, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    continue
                if rule.get("method", "*") not in ("*", method):
                    continue
                if not fnmatch.fnmatchcase(path, str(rule.get("path", "*"))):
                    continue
                times = rule.get("times")
                if isinstance(times, int) and self._fired.get(index, 0) >= times:
                    continue
                self._fired[index] = self._fired.get(index, 0) + 1
                return rule
        return None

    def record(self, method: str, path: str, status: int) -> None:
        line = json.dumps({"t": time.time(), "method": method, "path": path,
                           "status": status})
        with self.lock, requests_file(self.directory).open("a") as handle:
            handle.write(line + "\n")

    def issue_access_token(self) -> tuple[str, int]:
        lifetime = self.faults().get("access_token_lifetime", DEFAULT_TOKEN_LIFETIME)
        lifetime = lifetime if isinstance(lifetime, int) else DEFAULT_TOKEN_LIFETIME
        token = "sbx-access-" + secrets.token_urlsafe(24)
        with self.lock:
            self.access[token] = time.time() + lifetime
        return token, lifetime

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self.lock:
            expiry = self.access.get(header[len("Bearer "):].strip())
        return expiry is not None and time.time() < expiry

    def sign(self, public_key: str, world: World) -> str:
        """``ssh-keygen -s``: a user certificate for the sandbox's login user."""
        validity = str(self.faults().get("certificate_validity") or DEFAULT_VALIDITY)
        principal = str(self.faults().get("certificate_principal") or world.user)
        with self.lock:
            self.serial += 1
            serial = self.serial
        with tempfile.TemporaryDirectory(prefix="pshctl-sign-") as tmp:
            pub = Path(tmp) / "key.pub"
            pub.write_text(public_key.strip() + "\n")
            subprocess.run(
                ["ssh-keygen", "-q", "-s", str(ca_key(self.directory)), "-I", world.user_id,
                 "-n", principal, "-V", validity, "-z", str(serial), str(pub)],
                check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
            return (Path(tmp) / "key-cert.pub").read_text().strip()


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests.log has what tests need; nothing here may print a token

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rule = state.rule_for(method, path)
        if rule is not None and isinstance(rule.get("delay"), (int, float)):
            state.record(method, path, 0)  # silence: no answer, then the connection closes
            time.sleep(float(rule["delay"]))
            self.close_connection = True
            return
        if rule is not None and "status" not in rule and "body" in rule:
            self._send(state, method, path, 200, str(rule["body"]).encode(), {})
            return
        if rule is not None and isinstance(rule.get("status"), int):
            status = int(rule["status"])
            payload = rule.get("body")
            raw = (str(payload).encode() if payload is not None else
                   json.dumps({"status": "error", "code": status,
                               "message": f"injected fault {status}"}).encode())
            self._send(state, method, path, status, raw, dict(rule.get("headers") or {}))
            return
        try:
            status, answer = self._route(method, path, body)
        except Exception as exc:  # noqa: BLE001 - a server bug is a 500, not a dead thread
            status, answer = 500, {"status": "error", "message": type(exc).__name__}
        self._send(state, method, path, status, json.dumps(answer).encode(), {})

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        state = self.server.state
        world = state.world()
        model = Model(world, state.faults())
        if method == "POST" and path == "/auth/oauth2/token":
            return self._token(body, world)
        if not state.authorized(self.headers.get("Authorization")):
            return 401, {"status": "error", "code": 401, "message": "Invalid access token"}
        if method == "POST" and path == "/auth/ssh":
            key = json.loads(body or b"{}").get("key")
            if not isinstance(key, str):
                return 400, {"error": "a public key is required"}
            return 200, {"certificate": state.sign(key, world)}
        if method != "GET" or not path.startswith("/api/"):
            return 404, {"status": "error", "code": 404, "message": "Not Found"}
        return self._api(model, [unquote(p) for p in path[len("/api/"):].split("/")])

    def _api(self, model: Model, parts: list[str]) -> tuple[int, Any]:
        world = model.world
        names = {ENVIRONMENT, OTHER_ENVIRONMENT}
        missing = (404, {"status": "error", "code": 404, "message": "Not Found"})
        if parts == ["users", "me"]:
            return 200, {"id": world.user_id, "username": world.user, "email": "",
                         "deactivated": False}
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "extended-access":
            return 200, {"items": [{"user_id": world.user_id, "resource_id": world.project,
                                    "resource_type": "project", "organization_id": "sandbox",
                                    "permissions": ["admin"]}], "_links": {}}
        if len(parts) < 2 or parts[0] != "projects" or parts[1] != world.project:
            return missing
        rest = parts[2:]
        if not rest:
            return 200, model.project()
        if rest == ["environments"]:
            return 200, model.environments()
        if len(rest) >= 2 and rest[0] == "environments" and rest[1] in names:
            if len(rest) == 2:
                return 200, model.environment(rest[1])
            if rest[2:] == ["deployments", "current"] and rest[1] == ENVIRONMENT:
                return 200, model.deployment()
        return missing

    def _token(self, body: bytes, world: World) -> tuple[int, Any]:
        form = parse_qs(body.decode(errors="replace"))
        if form.get("grant_type") != ["api_token"]:
            return 400, {"error": "unsupported_grant_type"}
        if form.get("api_token") != [world.token]:
            return 400, {"error": "invalid_grant", "error_description": "Invalid API token"}
        token, lifetime = self.server.state.issue_access_token()
        return 200, {"access_token": token, "expires_in": lifetime, "token_type": "bearer"}

    def _send(self, state: State, method: str, path: str, status: int, raw: bytes,
              headers: dict[str, Any]) -> None:
        state.record(method, path, status)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(str(name), str(value))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass  # the client gave up (a timeout test): nothing to tell


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path, port: int) -> None:
        self.state = State(directory)
        super().__init__((HOST, port), Handler)


def serve(directory: Path) -> None:
    world = read_world(directory)
    if world is None:
        raise SystemExit(f"pshctl control plane: no readable {world_file(directory)}")
    server = Server(directory, world.port)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


if __name__ == "__main__":
    os.umask(0o077)
    serve(Path(sys.argv[1]))
