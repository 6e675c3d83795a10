from typing import Any

import pytest

from hearth_deployer.adapters.status import report_commit_status
from hearth_events.catalogue import RepositorySpec
from tests.support.github import sha

pytestmark = pytest.mark.integration


async def test_results_reach_github_as_commit_statuses(github_sim: Any) -> None:
    github_sim.token = "ghp_t"
    github_sim.repo("alice/home")
    repo = RepositorySpec(
        name="alice/home", url="x", provider="github", api_url=github_sim.base_url
    )
    assert await report_commit_status(
        repo,
        sha("a"),
        token="ghp_t",
        state="success",
        target="ha",
        description="Deployed to ha in 12 s",
    )
    (status,) = github_sim.repo("alice/home").statuses
    assert (status["state"], status["context"], status["sha"]) == ("success", "hearth/ha", sha("a"))
    # A refused report is logged, not raised: the deployment itself already happened.
    assert not await report_commit_status(
        repo, sha("a"), token="bad", state="failure", target="ha", description="x"
    )
