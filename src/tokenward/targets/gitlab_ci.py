"""GitLab CI project variables (gitlab.com or self-managed: `{api_url}/api/v4`).

Per push (REFERENCE.md "Registry APIs"): `GET /projects/{id}/variables/{KEY}` (with
`filter[environment_scope]`) tells whether it exists; then `PUT` on the same path (-> 200)
or `POST /projects/{id}/variables` to create it (-> 201). `{id}` is the numeric id or the
URL-encoded path (`group%2Fname`). Every write sends `raw: true` (GitLab's default, false,
expands `$NAME` in the value: a token holding a `$` would arrive changed). At most three requests: a 404 on the GET followed by a
404 on the POST means the project itself is missing.

A masked variable must be one line of at least 8 characters; such a value is refused
here, before any request (TargetValueRefused, exit 2), not by GitLab halfway through.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from tokenward.registries.http import host_of
from tokenward.targets.base import HttpTarget, TargetError, TargetValueRefused, segment

MASKED_MIN = 8


def api_base(api_url: str) -> str:
    base = api_url.rstrip("/")
    path = urlsplit(base).path
    return base if path.endswith("/api/v4") else base + "/api/v4"


class GitLabCI(HttpTarget):
    def __init__(self, config, client, auth: str) -> None:
        super().__init__(config, client, auth)
        base = api_base(config.get("api_url"))
        self.project = config.get("project")
        self.project_url = f"{base}/projects/{segment(self.name, self.project, path=True)}"
        self.key = config.get("variable")
        self.scope = config.get("environment_scope")
        self.filter = "filter%5Benvironment_scope%5D=" + quote(self.scope, safe="")
        self.host = host_of(base)
        self.headers = {"PRIVATE-TOKEN": auth}

    def check_value(self, value: str) -> None:
        super().check_value(value)
        if self.config.get("masked"):
            if "\n" in value or "\r" in value:
                raise TargetValueRefused(self.name, f"GitLab refuses a masked variable on several lines ({self.key}); nothing was written")
            if len(value) < MASKED_MIN:
                raise TargetValueRefused(
                    self.name,
                    f"GitLab refuses a masked variable shorter than {MASKED_MIN} characters ({self.key}); nothing was written",
                )

    def _not_found(self) -> TargetError:
        return TargetError(
            self.name,
            f"{self.host}: project {self.project} not found (HTTP 404: no such project, "
            f"or the auth token {self.config.auth} cannot see it)",
        )

    def check(self) -> str:
        reply = self.request("GET", self.project_url, headers=self.headers)
        if reply.status == 404:
            raise self._not_found()
        if reply.status != 200:
            raise self.refused(reply, self.host, f"read project {self.project}")
        return f"{self.describe()}: the auth token {self.config.auth} can read project {self.project}"

    def push(self, value: str) -> str:
        self.check_value(value)
        variable_url = f"{self.project_url}/variables/{segment(self.name, self.key)}"
        body = {
            "value": value,
            "masked": bool(self.config.get("masked")),
            "protected": bool(self.config.get("protected")),
            "environment_scope": self.scope,
            "raw": True,  # else GitLab expands `$NAME` in the value (create and update; default false)
        }
        doing = f"write variable {self.key} of project {self.project}"
        reply = self.request("GET", f"{variable_url}?{self.filter}", headers=self.headers)
        if reply.status == 200:
            reply = self.request("PUT", f"{variable_url}?{self.filter}", headers=self.headers, json_body=body, value=value)
            if reply.status == 200:
                return "updated"
            raise self.refused(reply, self.host, doing, value)
        if reply.status != 404:
            raise self.refused(reply, self.host, doing)
        reply = self.request("POST", f"{self.project_url}/variables", headers=self.headers, json_body={"key": self.key, **body}, value=value)
        if reply.status == 201:
            return "created"
        if reply.status == 404:
            raise self._not_found()
        raise self.refused(reply, self.host, doing, value)
