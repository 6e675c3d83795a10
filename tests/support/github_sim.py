"""A local GitHub-compatible REST server for the endpoints Hearth uses.

Faithful where Hearth depends on it: paths, JSON shapes, ETag/If-None-Match with 304 (which
does not count against the rate limit), rate-limit headers, bearer-token auth with GitHub's
error bodies. Its fidelity is shown by driving it with githubkit itself.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

DOCS = "https://docs.github.com/rest"


@dataclass
class SimRepo:
    refs: dict[str, str] = field(default_factory=dict)  # branch -> sha, when no git_dir
    git_dir: Path | None = None  # a real repository behind the API
    statuses: list[dict[str, Any]] = field(default_factory=list)

    def heads(self) -> dict[str, str]:
        if self.git_dir is None:
            return dict(self.refs)
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads"],
            cwd=self.git_dir,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def resolve(self, ref: str) -> str | None:
        if self.git_dir is None:
            return self.refs.get(ref, ref if ref in self.refs.values() else None)
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            check=False,
            cwd=self.git_dir,
            capture_output=True,
            text=True,
        )
        return found.stdout.strip() if found.returncode == 0 else None


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
        app.router.add_get("/repos/{owner}/{name}/git/ref/{ref:.*}", self._get_ref)
        app.router.add_get("/repos/{owner}/{name}/tarball/{ref:.*}", self._tarball)
        app.router.add_get("/repos/{owner}/{name}/commits/{ref:.*}", self._get_commit)
        app.router.add_get("/_codeload/{owner}/{name}/legacy.tar.gz/{sha}", self._codeload)
        app.router.add_post("/repos/{owner}/{name}/statuses/{sha}", self._create_status)
        return app

    def _find(self, request: web.Request) -> tuple[str, SimRepo | None]:
        owner_name = f"{request.match_info['owner']}/{request.match_info['name']}"
        return owner_name, self.repos.get(owner_name.lower())

    def _ref_body(self, owner_name: str, branch: str, sha: str) -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{branch}",
            "url": f"{self.base_url}/repos/{owner_name}/git/refs/heads/{branch}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.base_url}/repos/{owner_name}/git/commits/{sha}",
            },
        }

    async def _get_ref(self, request: web.Request) -> web.Response:
        owner_name, repo = self._find(request)
        ref = request.match_info["ref"]
        heads = repo.heads() if repo else {}
        branch = ref.removeprefix("heads/")
        if repo is None or not ref.startswith("heads/") or branch not in heads:
            return self._error(404, "Not Found")
        return self._json_with_etag(request, self._ref_body(owner_name, branch, heads[branch]))

    async def _get_commit(self, request: web.Request) -> web.Response:
        """Only the ``application/vnd.github.sha`` media type: the full id as plain text.
        GitHub answers an unknown or ambiguous ref with 422."""
        if request.headers.get("Accept") != "application/vnd.github.sha":
            return self._error(406, "the simulator serves this endpoint as vnd.github.sha only")
        _, repo = self._find(request)
        if repo is None:
            return self._error(404, "Not Found")
        ref = request.match_info["ref"]
        sha = repo.resolve(ref)
        if sha is None:
            return self._error(422, f"No commit found for SHA: {ref}")
        return web.Response(text=sha, content_type="application/vnd.github.sha")

    async def _tarball(self, request: web.Request) -> web.StreamResponse:
        owner_name, repo = self._find(request)
        if repo is None or repo.git_dir is None:
            return self._error(404, "Not Found")
        sha = repo.resolve(request.match_info["ref"])
        if sha is None:
            return self._error(404, "Not Found")
        # GitHub redirects to codeload, which serves owner-repo-sha7/ as the top folder.
        raise web.HTTPFound(f"/_codeload/{owner_name}/legacy.tar.gz/{sha}")

    async def _codeload(self, request: web.Request) -> web.Response:
        owner_name, repo = self._find(request)
        assert repo is not None and repo.git_dir is not None
        sha = request.match_info["sha"]
        prefix = f"{owner_name.replace('/', '-')}-{sha[:7]}/"
        archive = subprocess.run(
            ["git", "archive", "--format=tar.gz", f"--prefix={prefix}", sha],
            cwd=repo.git_dir,
            check=True,
            capture_output=True,
        ).stdout
        return web.Response(
            body=archive,
            content_type="application/x-gzip",
            headers={"Content-Disposition": f"attachment; filename={prefix[:-1]}.tar.gz"},
        )

    async def _create_status(self, request: web.Request) -> web.Response:
        owner_name, repo = self._find(request)
        if repo is None:
            return self._error(404, "Not Found")
        body = await request.json()
        if body.get("state") not in ("error", "failure", "pending", "success"):
            return web.json_response(
                {"message": "Validation Failed", "documentation_url": DOCS, "status": "422"},
                status=422,
            )
        sha = request.match_info["sha"]
        status = {
            "id": len(repo.statuses) + 1,
            "node_id": "SC_1",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "avatar_url": None,
            "creator": None,
            "url": f"{self.base_url}/repos/{owner_name}/statuses/{sha}",
            "created_at": "2026-11-22T10:00:00Z",
            "updated_at": "2026-11-22T10:00:00Z",
        }
        repo.statuses.append({**status, "sha": sha})
        return web.json_response(status, status=201)

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as answer:  # a redirect (the tarball's) is an answer too
            self.requests.append((request.method, request.path, answer.status))
            raise
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
        owner_name, repo = self._find(request)
        if repo is None:
            return self._error(404, "Not Found")
        prefix = request.match_info["ref"]
        refs = [
            self._ref_body(owner_name, branch, sha)
            for branch, sha in sorted(repo.heads().items())
            if f"heads/{branch}".startswith(prefix)
        ]
        return self._json_with_etag(request, refs)
