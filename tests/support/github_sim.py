"""A local GitHub-compatible REST server for the endpoints Hearth uses.

Faithful where Hearth depends on it: paths, JSON shapes, ETag/If-None-Match with 304 (which
does not count against the rate limit), rate-limit headers, bearer-token auth with GitHub's
error bodies. Its fidelity is shown by driving it with githubkit itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DOCS = "https://docs.github.com/rest"


@dataclass
class SimRepo:
    refs: dict[str, str] = field(default_factory=dict)  # branch -> sha


@dataclass
class GitHubSim:
    token: str | None = None
    repos: dict[str, SimRepo] = field(default_factory=dict)
    rate_limit: int = 5000
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    base_url: str = ""

    def repo(self, full_name: str) -> SimRepo:
        return self.repos.setdefault(full_name.lower(), SimRepo())

    # -- app -------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record, self._auth])
        app.router.add_get("/repos/{owner}/{name}/git/matching-refs/{ref:.*}", self._matching_refs)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        self.requests.append((request.method, request.path, response.status))
        return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.token is not None:
            given = request.headers.get("Authorization", "")
            if given not in (f"token {self.token}", f"Bearer {self.token}"):
                return self._error(401, "Bad credentials")
        result: web.StreamResponse = await handler(request)
        return result

    def _error(self, status: int, message: str) -> web.Response:
        return web.json_response(
            {"message": message, "documentation_url": DOCS, "status": str(status)}, status=status
        )

    def _json_with_etag(self, request: web.Request, body: Any) -> web.Response:
        raw = json.dumps(body, sort_keys=True).encode()
        etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
        headers = {"ETag": etag, "X-RateLimit-Limit": "5000"}
        if request.headers.get("If-None-Match") == etag:
            headers["X-RateLimit-Remaining"] = str(self.rate_limit)
            return web.Response(status=304, headers=headers)
        self.rate_limit -= 1
        headers["X-RateLimit-Remaining"] = str(self.rate_limit)
        return web.Response(body=raw, content_type="application/json", headers=headers)

    async def _matching_refs(self, request: web.Request) -> web.Response:
        full_name = f"{request.match_info['owner']}/{request.match_info['name']}".lower()
        if full_name not in self.repos:
            return self._error(404, "Not Found")
        prefix = request.match_info["ref"]
        owner_name = f"{request.match_info['owner']}/{request.match_info['name']}"
        refs = [
            {
                "ref": f"refs/heads/{branch}",
                "node_id": f"REF_{branch}",
                "url": f"{self.base_url}/repos/{owner_name}/git/refs/heads/{branch}",
                "object": {
                    "type": "commit",
                    "sha": sha,
                    "url": f"{self.base_url}/repos/{owner_name}/git/commits/{sha}",
                },
            }
            for branch, sha in sorted(self.repos[full_name].refs.items())
            if f"heads/{branch}".startswith(prefix)
        ]
        return self._json_with_etag(request, refs)
