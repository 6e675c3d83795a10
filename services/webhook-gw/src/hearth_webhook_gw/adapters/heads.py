"""Where a repository's branch heads come from when it is polled.

``git ls-remote`` works for any Git URL; the GitHub API answers conditional requests with
304 when nothing changed, which costs no rate limit.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.gitenv import git_environment
from hearth_webhook_gw.domain.heads import Heads

if TYPE_CHECKING:
    from githubkit.exception import RequestFailed

LS_REMOTE_TIMEOUT_S = 60.0


class PollError(Exception):
    """A poll that failed; the message says what to check."""


class HeadSource(Protocol):
    async def heads(self, spec: RepositorySpec, token: str | None) -> Heads | None:
        """Current branch heads, or None when the source says nothing changed."""


class GitLsRemote:
    async def heads(self, spec: RepositorySpec, token: str | None) -> Heads | None:
        del token  # credentials for plain Git come from the URL or the Git config
        process = await asyncio.create_subprocess_exec(
            "git",
            "ls-remote",
            "--heads",
            "--",
            spec.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=git_environment(),
        )
        try:
            async with asyncio.timeout(LS_REMOTE_TIMEOUT_S):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PollError(
                f"git ls-remote {spec.url} took over {LS_REMOTE_TIMEOUT_S:.0f}s"
            ) from None
        if process.returncode != 0:
            reason = err.decode(errors="replace").strip().splitlines()
            raise PollError(f"git ls-remote {spec.url} failed: {reason[-1] if reason else '?'}")
        heads: Heads = {}
        for line in out.decode().splitlines():
            commit, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                heads[ref.removeprefix("refs/heads/")] = commit
        return heads


class GitHubRefs:
    """Branch heads from the GitHub REST API, with ETags so an unchanged repo costs nothing."""

    def __init__(self) -> None:
        self._etags: dict[str, tuple[str, Heads]] = {}

    async def heads(self, spec: RepositorySpec, token: str | None) -> Heads | None:
        # githubkit costs a service 0.4-0.8 s of CPU to import; only GitHub repositories need it.
        from githubkit import GitHub, TokenAuthStrategy, UnauthAuthStrategy
        from githubkit.exception import RequestError, RequestFailed

        owner, _, name = spec.name.partition("/")
        auth = TokenAuthStrategy(token) if token else UnauthAuthStrategy()
        cached = self._etags.get(spec.name)
        headers = {"If-None-Match": cached[0]} if cached else {}
        async with GitHub(
            auth, base_url=spec.api_url, http_cache=False, auto_retry=False, timeout=30
        ) as github:
            try:
                response = await github.rest.git.async_list_matching_refs(
                    owner, name, "heads/", headers=headers
                )
            except RequestFailed as exc:
                raise PollError(
                    f"GitHub API {spec.api_url} answered {exc.response.status_code} for "
                    f"{spec.name}: {_github_message(exc)}"
                ) from None
            except RequestError as exc:
                raise PollError(
                    f"GitHub API {spec.api_url} unreachable for {spec.name}: {exc.exc!r}"
                ) from None
        if response.status_code == 304:
            return None
        heads = {
            ref.ref.removeprefix("refs/heads/"): ref.object_.sha
            for ref in response.parsed_data
            if ref.ref.startswith("refs/heads/")
        }
        etag = response.headers.get("ETag")
        if etag:
            self._etags[spec.name] = (etag, heads)
        return heads


def _github_message(exc: RequestFailed) -> str:
    """GitHub's own ``message`` ("Bad credentials", "Not Found"), else the raw text."""
    try:
        body = exc.response.json()
    except ValueError:
        return exc.response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]
