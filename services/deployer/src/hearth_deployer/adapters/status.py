"""Report a deployment's result back to GitHub as a commit status."""

from __future__ import annotations

from typing import Literal

from hearth_events.catalogue import RepositorySpec
from hearth_servicekit import get_logger

log = get_logger("hearth.status")

State = Literal["pending", "success", "failure", "error"]


async def report_commit_status(
    repo: RepositorySpec,
    commit: str,
    *,
    token: str,
    state: State,
    target: str,
    description: str,
    target_url: str | None = None,
) -> bool:
    """Set ``hearth/<target>`` on the commit; False (logged) when GitHub refuses.

    A failed report never fails the deployment: the deployment already happened.
    """
    # githubkit costs a service 0.4-0.8 s of CPU to import; only GitHub repositories need it.
    from githubkit import GitHub, TokenAuthStrategy
    from githubkit.exception import RequestError, RequestFailed

    owner, _, name = repo.name.partition("/")
    async with GitHub(
        TokenAuthStrategy(token), base_url=repo.api_url, http_cache=False, timeout=15
    ) as github:
        try:
            await github.rest.repos.async_create_commit_status(
                owner,
                name,
                commit,
                state=state,
                context=f"hearth/{target}",
                description=description[:140],
                target_url=target_url,
            )
        except (RequestFailed, RequestError) as exc:
            log.warning(
                "commit status not reported", repo=repo.name, commit=commit, error=repr(exc)
            )
            return False
    return True
