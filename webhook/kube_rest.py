"""Raw JSON requests to the API server through a kubernetes ApiClient's connection pool.

scan, canary, verify and the PolicyReport writer need status codes, Status bodies, Warning
headers and paging, which the typed client hides; kubeconfig, TLS and credentials stay the
client's (bearer tokens from auth settings, client certificates in its pool manager).
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterator

from kubernetes import client as k8s_client

DEFAULT_PAGE_SIZE = 500


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


class KubeRESTError(RuntimeError):
    def __init__(self, method: str, path: str, reply: Reply) -> None:
        super().__init__(f"{method} {path}: HTTP {reply.status}: {reply.message or reply.body}")
        self.reply = reply


class KubeREST:
    def __init__(self, api: k8s_client.ApiClient) -> None:
        self.api = api

    def request(self, method: str, path: str, body: Any = None, *, query: dict[str, Any] | None = None,
                content_type: str = "application/json", timeout: float = 30) -> Reply:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        for setting in self.api.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        url = self.api.configuration.host + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        response = self.api.rest_client.pool_manager.request(
            method, url, headers=headers, body=None if body is None else json.dumps(body).encode(), timeout=timeout,
        )
        try:
            parsed = json.loads(response.data) if response.data else {}
        except ValueError:
            parsed = {"message": response.data.decode(errors="replace")}
        return Reply(response.status, parsed if isinstance(parsed, dict) else {"items": parsed})

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        reply = self.request(method, path, body, **kwargs)
        if not reply.ok:
            raise KubeRESTError(method, path, reply)
        return reply.body

    def get(self, path: str) -> dict[str, Any] | None:
        reply = self.request("GET", path)
        if reply.status == 404:
            return None
        if not reply.ok:
            raise KubeRESTError("GET", path, reply)
        return reply.body

    def list_pages(self, path: str, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Every item of a collection, a page (limit/continue) at a time."""
        token = ""
        while True:
            query: dict[str, Any] = {"limit": page_size}
            if token:
                query["continue"] = token
            body = self.must("GET", path, query=query)
            yield list(body.get("items") or [])
            token = (body.get("metadata") or {}).get("continue") or ""
            if not token:
                return


def api_prefix(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
