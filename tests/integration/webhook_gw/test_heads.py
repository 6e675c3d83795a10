"""The two head sources against real peers: a Git repository, and the GitHub simulator
driven through githubkit (which also proves the simulator speaks GitHub's protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from githubkit import GitHub, TokenAuthStrategy

from hearth_events.catalogue import RepositorySpec
from hearth_webhook_gw.adapters.heads import GitHubRefs, GitLsRemote, PollError
from tests.support.git import make_remote
from tests.support.github import sha

pytestmark = pytest.mark.integration


async def test_ls_remote_reads_the_heads_of_a_real_repository(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    remote.commit({"configuration.yaml": "homeassistant:\n"})
    main = remote.push("main")
    remote.commit({"automations.yaml": "[]\n"})
    feature = remote.push("feature")
    spec = RepositorySpec(name="home", url=remote.url)
    assert await GitLsRemote().heads(spec, None) == {"main": main, "feature": feature}


async def test_ls_remote_failure_says_what_failed(tmp_path: Path) -> None:
    spec = RepositorySpec(name="home", url=(tmp_path / "missing.git").as_uri())
    with pytest.raises(PollError, match=r"git ls-remote .*missing\.git failed"):
        await GitLsRemote().heads(spec, None)


async def test_github_refs_use_etags_so_unchanged_repos_cost_no_rate_limit(
    github_sim: Any,
) -> None:
    github_sim.token = "ghp_test"
    github_sim.repo("alice/home").refs = {"main": sha("a")}
    spec = RepositorySpec(
        name="alice/home",
        url="https://github.com/alice/home.git",
        provider="github",
        api_url=github_sim.base_url,
    )
    source = GitHubRefs()

    assert await source.heads(spec, "ghp_test") == {"main": sha("a")}
    remaining = github_sim.rate_limit
    assert await source.heads(spec, "ghp_test") is None  # 304 Not Modified
    assert github_sim.rate_limit == remaining
    github_sim.repo("alice/home").refs["main"] = sha("b")
    assert await source.heads(spec, "ghp_test") == {"main": sha("b")}
    assert [status for _, _, status in github_sim.requests] == [200, 304, 200]


async def test_github_errors_are_poll_errors_with_githubs_message(github_sim: Any) -> None:
    github_sim.token = "ghp_right"
    github_sim.repo("alice/home")
    spec = RepositorySpec(
        name="alice/home", url="x", provider="github", api_url=github_sim.base_url
    )
    with pytest.raises(PollError, match="answered 401 for alice/home: Bad credentials"):
        await GitHubRefs().heads(spec, "ghp_wrong")
    missing = spec.model_copy(update={"name": "alice/nope"})
    with pytest.raises(PollError, match="answered 404 for alice/nope: Not Found"):
        await GitHubRefs().heads(missing, "ghp_right")


async def test_the_simulator_answers_githubkit_like_github(github_sim: Any) -> None:
    github_sim.repo("alice/home").refs = {"main": sha("a"), "dev": sha("d")}
    async with GitHub(
        TokenAuthStrategy("t"), base_url=github_sim.base_url, http_cache=False
    ) as github:
        response = await github.rest.git.async_list_matching_refs("alice", "home", "heads/ma")
    (ref,) = response.parsed_data
    assert (ref.ref, ref.object_.sha, ref.object_.type) == ("refs/heads/main", sha("a"), "commit")
    assert response.headers["ETag"].startswith('"')
