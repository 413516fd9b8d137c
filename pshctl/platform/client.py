"""The API client: environments, the current deployment, SSH certificates.

Requests carry ``Authorization: Bearer <access token>``; a 401 gets one new access token
and one more try. Answers a user can act on:

- 401: the token was refused: how to get a new one;
- 403: no access to this project: who can grant it;
- 404: unknown project or environment: the valid names, the closest suggested;
- 429 / 5xx (after retries), timeouts, refused connections, unreadable answers:
  what failed and that trying later may help.

All of these are :class:`~pshctl.errors.ApiError` (exit status 4) except the unknown
names, which are :class:`~pshctl.errors.NameNotFound` (exit status 3).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from pshctl.errors import ApiError, NameNotFound
from pshctl.platform.credentials import Authenticator, Credential
from pshctl.platform.http import Http, Response
from pshctl.platform.resources import DeploymentInfo, EnvironmentInfo
from pshctl.platform.settings import ApiSettings

log = logging.getLogger("pshctl.platform")


class ApiClient:
    """One credential against one API; counts its requests (``requests``)."""

    def __init__(self, settings: ApiSettings, credential: Credential, *,
                 http: Http | None = None) -> None:
        self.settings = settings
        self.credential = credential
        self.http = http or Http(settings.timeout)
        self.auth = Authenticator(credential, settings.auth_url, self.http)

    # what pshctl asks

    def environments(self, project: str) -> list[EnvironmentInfo]:
        """Every environment of the project, with its SSH links."""
        path = f"/projects/{_part(project)}/environments"
        data = self._get(path, project=project, missing=lambda: self._unknown_project(project))
        if not isinstance(data, list):
            raise self._shape(path, "a list of environments")
        return [EnvironmentInfo.from_json(item) for item in data if isinstance(item, dict)]

    def environment(self, project: str, name: str) -> EnvironmentInfo:
        """One environment; an unknown name lists the valid ones."""
        path = f"/projects/{_part(project)}/environments/{_part(name)}"
        data = self._get(path, project=project,
                         missing=lambda: self._unknown_environment(project, name))
        if not isinstance(data, dict):
            raise self._shape(path, "an environment")
        return EnvironmentInfo.from_json(data)

    def current_deployment(self, project: str, environment: str, app: str) -> DeploymentInfo:
        path = (f"/projects/{_part(project)}/environments/{_part(environment)}"
                "/deployments/current")
        return DeploymentInfo.from_json(self._get(path, project=project), app)

    def request_certificate(self, public_key: str) -> str:
        """POST a public key to ``{auth_url}/ssh``; the OpenSSH certificate it signs."""
        url = f"{self.settings.auth_url}/ssh"
        response = self._send("POST", url, json.dumps({"key": public_key}).encode())
        if response.status not in (200, 201):
            raise self._failed(response, project=None)
        data = response.json()
        cert = data.get("certificate") if isinstance(data, dict) else None
        if not isinstance(cert, str) or "-cert-v01@openssh.com " not in cert:
            raise ApiError(f"{url} answered without an SSH certificate",
                           hint="check the auth_url setting")
        return cert

    def project_ids(self) -> list[str]:
        """The projects the credential can see (for suggestions); [] when unknown."""
        try:
            me = self._get("/users/me", project=None)
            user = me.get("id") if isinstance(me, dict) else None
            if not isinstance(user, str):
                return []
            data = self._get(f"/users/{_part(user)}/extended-access"
                             "?filter[resource_type]=project", project=None)
        except (ApiError, NameNotFound):
            return []
        items = data.get("items") if isinstance(data, dict) else None
        return sorted({str(i["resource_id"]) for i in items or []
                       if isinstance(i, dict) and i.get("resource_type") == "project"
                       and isinstance(i.get("resource_id"), str)})

    # requests

    def _get(self, path: str, *, project: str | None,
             missing: Callable[[], Exception] | None = None) -> Any:
        response = self._send("GET", f"{self.settings.api_url}{path}")
        if response.status == 404 and missing is not None:
            raise missing()
        if response.status != 200:
            raise self._failed(response, project=project)
        return response.json()

    def _send(self, method: str, url: str, body: bytes | None = None) -> Response:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self.http.request(method, url, body=body, headers={
            **headers, "Authorization": f"Bearer {self.auth.bearer()}"})
        if response.status == 401:
            log.debug("%s %s: access token refused; getting a new one", method, url)
            response = self.http.request(method, url, body=body, headers={
                **headers, "Authorization": f"Bearer {self.auth.renew()}"})
        return response

    def _failed(self, response: Response, *, project: str | None) -> Exception:
        what = f"{response.method} {urlsplit(response.url).path}"
        detail = self._detail(response)
        source = self.credential.source
        if response.status == 401:
            return ApiError(f"the API refused the credentials from {source} (HTTP 401 for "
                            f"{what}{detail})", hint=self.credential.renew_hint)
        if response.status == 403:
            target = f"project '{project}'" if project else "this resource"
            return ApiError(
                f"the credentials from {source} give no access to {target} (HTTP 403 for "
                f"{what}{detail})",
                hint="ask an admin of the project to grant you access, or check the project "
                "id (-p, PSHCTL_PROJECT, .platform/local/project.yaml)")
        return ApiError(f"the API answered HTTP {response.status} to {what}{detail}",
                        hint="try again later; -v shows the requests")

    def _unknown_project(self, project: str) -> NameNotFound:
        ids = self.project_ids()
        return NameNotFound("project", project, ids, hint=_names_hint("project", ids, None))

    def _unknown_environment(self, project: str, name: str) -> NameNotFound:
        names = [e.name for e in self.environments(project)]  # an unknown project raises
        return NameNotFound("environment", name, names,
                            hint=_names_hint("environment", names, project))

    def _detail(self, response: Response) -> str:
        return response.detail(self.credential.secrets(), "message", "error", "title")

    def _shape(self, path: str, expected: str) -> ApiError:
        return ApiError(f"the API's answer to GET {path} is not {expected}",
                        hint="check the api_url setting; try again later")


def _part(value: str) -> str:
    """One path segment, escaped (environment names may hold a slash)."""
    return quote(value, safe="")


def _names_hint(kind: str, names: list[str], project: str | None) -> str:
    where = f" of project '{project}'" if project else " your token can see"
    listing = ", ".join(sorted(names)) if names else "(none)"
    return f"{kind}s{where}: {listing}"
