"""Targets from the platform's API: the environment's SSH links and an SSH certificate.

Applies when a project id is known and either the cache holds the environment or an
API token is found (:mod:`pshctl.platform.credentials`). Then:

- the project's environments come from the cache when fresh, else from one request
  (``GET /projects/{id}/environments``), which also validates ``-e`` (an unknown name
  lists the valid ones, the closest suggested);
- each container's destination is its link: ``pf:ssh:<app>``, ``pf:ssh:<app>--<worker>``;
  a scaled container is one target per ``pf:ssh:<container>:<instance>`` link
  (``queue.0``, ``queue.1``...; on an old Dedicated cluster, one per ``ent-<n>`` host);
- the workers the links show deployed are held against the local app definition: a
  difference is a warning naming both sides; with ``--all`` a worker the platform does
  not run is left out, a worker named on the command line is an error;
- each target presents the certificate :func:`pshctl.platform.certificates.choose` picks.

A destination that came from the cache and fails (authentication, or a refused or
unresolvable host) is fetched again once, with a new certificate when it was refused:
:func:`recover`. :func:`explain` names an expired or refused certificate as the cause.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pshctl.errors import ApiError, AuthenticationFailed, ConfigError, NameNotFound
from pshctl.targets.model import (
    Request,
    Target,
    target_from_url,
    worker_ssh_url,
    worker_targets,
)

if TYPE_CHECKING:
    from pshctl.context import Context
    from pshctl.errors import ConnectionFailed
    from pshctl.platform.certificates import Choice
    from pshctl.platform.client import ApiClient
    from pshctl.platform.resources import EnvironmentInfo

log = logging.getLogger("pshctl.platform")

# Config keys that name an address: the API's link replaces them.
_ADDRESS_KEYS = ("ssh_url", "machine_name", "region", "host")

_lock = threading.RLock()
# How each target was resolved, for as long as the target lives (recover, explain).
_origins: weakref.WeakKeyDictionary[Target, _Origin] = weakref.WeakKeyDictionary()


def resolve(request: Request) -> list[Target] | None:
    """The targets from the API, or None when it does not apply (no project, no token
    and nothing cached)."""
    context = request.context
    if not context.project:
        return None
    resolver = resolver_for(context)
    with _lock:
        found = resolver.environment(context.environment, _needed(request),
                                     refresh=context.refresh)
        if found is None:
            return None
        return _build(request, resolver, *found)


def cached_names(context: Context) -> list[str]:
    """The environment names the cache knows for the context's project (for messages)."""
    if not context.project:
        return []
    from pshctl.platform.cache import cached_environment_names
    from pshctl.platform.settings import api_settings

    try:
        return cached_environment_names(api_settings(context.settings).api_url,
                                        context.project)
    except ConfigError:
        return []


# --- one project at one API ------------------------------------------------------------


class Resolver:
    """The API, the cache and the credential of one project, for one process."""

    def __init__(self, context: Context) -> None:
        from pshctl.platform.cache import EnvironmentCache
        from pshctl.platform.settings import api_settings

        assert context.project is not None
        self.settings = api_settings(context.settings)
        self.project = context.project
        self.cache = EnvironmentCache(self.settings.api_url, self.project)
        self.fetched: dict[str, EnvironmentInfo] | None = None  # this run's answer
        self.certificate: Choice | None = None
        self.renewed = False
        self.warned: set[str] = set()
        self._client: ApiClient | None = None
        self._looked = False

    def client(self) -> ApiClient | None:
        """The API client, when a credential is found (looked up once, when needed)."""
        if not self._looked:
            from pshctl.platform.client import ApiClient
            from pshctl.platform.credentials import find_credential

            self._looked = True
            credential = find_credential(self.settings.auth_url)
            if credential is not None:
                log.debug("API credentials from %s", credential.source)
                self._client = ApiClient(self.settings, credential)
        return self._client

    def environment(self, name: str, needed: list[str], *,
                    refresh: bool) -> tuple[EnvironmentInfo, bool] | None:
        """(the environment, whether it came from the cache); None: no API to ask."""
        if self.fetched is None and not refresh:
            cached = self.cache.load()
            if cached is not None and cached.fresh(self.settings.cache_ttl):
                env = cached.find(name)
                if env is not None and _has(env, needed):
                    log.debug("environment '%s' from the cache %s", name, self.cache.path)
                    return env, True
                log.debug("the cache lacks environment '%s' or its links; asking the API",
                          name)
        fetched = self.fetch()
        if fetched is None:
            return None
        env = next((e for e in fetched.values() if name in (e.name, e.id)), None)
        if env is None:
            names = sorted(fetched)
            raise NameNotFound("environment", name, names, hint=(
                f"environments of project '{self.project}': {', '.join(names) or '(none)'}"))
        return env, False

    def fetch(self) -> dict[str, EnvironmentInfo] | None:
        """The project's environments from the API (once per run), cached."""
        if self.fetched is None:
            client = self.client()
            if client is None:
                return None
            environments = client.environments(self.project)
            self.cache.save(environments)
            self.fetched = {e.name: e for e in environments}
        return self.fetched

    def choose_certificate(self, *, renew: bool = False) -> Choice:
        """The certificate for this run's targets (renewed at most once per run)."""
        from pshctl.platform.certificates import Choice, choose

        if self.certificate is not None and not (renew and not self.renewed):
            return self.certificate
        self.renewed = self.renewed or renew
        try:
            self.certificate = choose(self.client, renew=renew)
        except ApiError as exc:
            self.warn(f"no SSH certificate from the API: {exc.message}; "
                      "trying your own SSH keys")
            self.certificate = Choice(None, (exc.message,))
        return self.certificate


    def warn(self, message: str) -> None:
        """Once per run (the CLI resolves once to show rows, once to act)."""
        if message not in self.warned:
            self.warned.add(message)
            log.warning("%s", message)


def resolver_for(context: Context) -> Resolver:
    """One per context: what one run (or one ``open_environment``) has found out."""
    with _lock:
        resolver = context.memo.get("api")
        if not isinstance(resolver, Resolver):
            resolver = context.memo["api"] = Resolver(context)
        return resolver


def _needed(request: Request) -> list[str]:
    """The containers (``app``, ``app--worker``) whose links the request needs. With
    ``--all`` the workers are not needed: one the platform does not run is left out (and
    must not cost every run a request)."""
    app = request.context.app.name
    names = [app] if request.with_app else []
    if request.all_workers:
        return names
    return names + [f"{app}--{w}" for w in request.workers if request.own_url(w) is None]


def _has(env: EnvironmentInfo, containers: list[str]) -> bool:
    if not env.active:
        return False
    if env.legacy:
        return True
    return all(env.container(c).default_url() for c in containers)


# --- building targets ----------------------------------------------------------------


@dataclass
class _Origin:
    """How a target was resolved, to fetch it again or explain its failure."""

    resolver: Resolver
    request: Request
    from_cache: bool
    choice: Choice
    retried: bool = False
    seen: list[Target] = field(default_factory=list)


def _build(request: Request, resolver: Resolver, env: EnvironmentInfo,
           from_cache: bool) -> list[Target]:
    context = request.context
    if not env.active:
        raise ConfigError(
            f"environment '{env.name}' is {env.status or 'not active'}: it runs no containers",
            hint="activate or resume it (e.g. `upsun environment:activate`), or choose "
            "another with -e")
    deployed = _deployed_workers(env, context.app.name, resolver, from_cache)
    if deployed is not None:
        _check_definition(context, env, deployed, resolver)
    choice = resolver.choose_certificate()
    targets = []
    if request.with_app:
        targets += _container(request, resolver, env, None, choice, from_cache)
    for worker in request.workers:
        if request.own_url(worker) is not None:
            targets += worker_targets(request, worker, "", "config")
        elif deployed is None or worker in deployed:
            targets += _container(request, resolver, env, worker, choice, from_cache)
        elif not request.all_workers:
            raise ConfigError(
                f"worker '{worker}' is not deployed in environment '{env.name}' "
                f"(deployed workers: {', '.join(sorted(deployed)) or 'none'})",
                hint="deploy it (git push), or check the worker's name and -e")
    return targets


def _container(request: Request, resolver: Resolver, env: EnvironmentInfo,
               worker: str | None, choice: Choice, from_cache: bool) -> list[Target]:
    """The targets of one container: one per ``pf:ssh:<container>:<instance>`` link of a
    scaled one (named ``<worker>.<instance>``), else one at its own link."""
    from pshctl.settings import INSTANCES
    from pshctl.targets.instances import instance_name

    context = request.context
    app = context.app.name
    container = app if worker is None else f"{app}--{worker}"
    if env.legacy:
        legacy = env.ssh_urls()[""]
        url: str | None = worker_ssh_url(legacy, worker) if worker else legacy
        instances: tuple[tuple[str, str], ...] = ()
    else:
        links = env.container(container)
        url, instances = links.default_url(), links.instances
    if url is None:
        raise ConfigError(
            f"the API lists no SSH link for {_what(worker, app)} in environment "
            f"'{env.name}' (containers with links: {', '.join(env.containers()) or 'none'})",
            hint="check -A and -e; `pshctl --refresh ...` asks the API again")
    keys = {k: v for k, v in request.keys_for(worker).items()
            if k not in _ADDRESS_KEYS and k != INSTANCES}
    name = worker or app
    count = len(instances) or 1

    def target(at: str, instance: int | str) -> Target:
        made = target_from_url(instance_name(name, instance, count), worker, at, keys,
                               context.environment, "api")
        if choice.certificate is not None and "identity_file" not in keys:
            made = replace(made, identity_file=str(choice.certificate.key))
        return replace(made, instance=instance, instances=count)

    every = [target(at, _instance_id(i)) for i, at in instances] or [target(url, 0)]
    for one in every:  # each instance retried on its own
        _origins[one] = _Origin(resolver, request, from_cache, choice)
    return every


def _instance_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _what(worker: str | None, app: str) -> str:
    return f"worker '{worker}' of app '{app}'" if worker else f"app '{app}'"


# --- deployed workers against the app definition ---------------------------------------


def _deployed_workers(env: EnvironmentInfo, app: str, resolver: Resolver,
                      from_cache: bool) -> dict[str, int] | None:
    """Worker name -> instance count, as the platform runs them; None when unknown."""
    if not env.legacy:
        prefix = f"{app}--"
        return {c[len(prefix):]: env.container(c).instance_count
                for c in env.containers() if c.startswith(prefix)}
    client = resolver.client() if not from_cache else None
    if client is None:
        return None  # the links name no worker; a fresh run asks the deployment
    return dict(client.current_deployment(resolver.project, env.id or env.name, app).workers)


def _check_definition(context: Context, env: EnvironmentInfo, deployed: dict[str, int],
                      resolver: Resolver) -> None:
    local = list(context.app.workers)
    missing = [w for w in local if w not in deployed]
    extra = sorted(w for w in deployed if w not in local)
    if not missing and not extra:
        return
    source = _source_name(context)
    parts = []
    if missing:
        parts.append(f"defined in {source} but not deployed: {', '.join(missing)}")
    if extra:
        parts.append(f"deployed but not defined in {source}: {', '.join(extra)}")
    resolver.warn(f"the workers of app '{context.app.name}' in {source} differ from the "
                  f"deployment of environment '{env.name}': " + "; ".join(parts))


def _source_name(context: Context) -> str:
    """The app definition's file, as messages name it (``.upsun/config.yaml``...)."""
    named = getattr(context.app, "file", None)
    if isinstance(named, str) and named:
        return named
    source = getattr(context.app, "source", None)
    if source is None:
        return "the local app definition"
    try:
        return str(source.relative_to(context.root))
    except ValueError:
        return str(source)


# --- after a failed connection ---------------------------------------------------------


def recover(target: Target, error: ConnectionFailed) -> Target | None:
    """Once per target: fetch a cached destination again, renew a refused certificate."""
    with _lock:
        origin = _origins.get(target)
        if origin is None or origin.retried:
            return None
        origin.retried = True
        refused = isinstance(error, AuthenticationFailed) and origin.choice.certificate
        if not origin.from_cache and not refused:
            return None
        resolver = origin.resolver
        log.debug("%s: %s; asking the API again", target.name, error.message)
        try:
            if refused:
                resolver.choose_certificate(renew=True)
            env, _ = resolver.environment(
                target.environment or origin.request.context.environment,
                [], refresh=True) or (None, False)
        except (ApiError, ConfigError) as exc:
            log.debug("refetching failed: %s", exc.message)
            return None
        if env is None:
            return None
        request = replace(origin.request, workers=(target.worker,) if target.worker else (),
                          with_app=target.worker is None, all_workers=False)
        try:
            fresh = _build(request, resolver, env, from_cache=False)
        except ConfigError as exc:
            log.debug("refetching failed: %s", exc.message)
            return None
        again = next((t for t in fresh if str(t.instance) == str(target.instance)), None)
        if again is None:
            log.debug("instance %s of %s is gone from the API's links", target.instance,
                      target.container)
            return None
        if again in _origins:
            _origins[again].retried = True
        return again


def explain(target: Target, error: ConnectionFailed) -> ConnectionFailed:
    """An authentication failure with the certificate (or its absence) named."""
    origin = _origins.get(target)
    if origin is None or not isinstance(error, AuthenticationFailed):
        return error
    cert = origin.choice.certificate
    if cert is not None and target.identity_file == str(cert.key):
        if not cert.valid():
            cause = f"the SSH certificate {cert.describe()} expired at {cert.until}"
        else:
            cause = (f"the server refused the SSH certificate {cert.describe()}, "
                     f"valid until {cert.until}")
        hint = ("check that your account may use SSH on this environment; "
                "`pshctl --refresh ...` gets a new certificate")
    else:
        passed = "; ".join(origin.choice.passed_over) or "none was found"
        cause = f"no valid SSH certificate ({passed})"
        hint = ("give pshctl an API token (PSHCTL_TOKEN, or `pshctl auth login`) so that it "
                "obtains one, or log in with the Upsun CLI (`upsun login`)")
    return AuthenticationFailed(f"{error.message}; {cause}", hint=hint)
