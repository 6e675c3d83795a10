"""A signed GitHub webhook, through the real gateway, to a deployment fetched as a GitHub
tarball and reported back as a commit status (the GitHub simulator, driven by githubkit)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from hearth_events.catalogue import RepositoryRegistered, RepositorySpec
from tests.integration.deployer.harness import World, files_target, ha_target
from tests.integration.deployer.test_deployments import BASE
from tests.support.github import delivery_headers, encode, push_payload
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

SECRET = b"webhook-secret-of-alice"


def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/github", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


async def test_a_signed_push_deploys_once_and_reports_to_github(
    world: World,
    sshd: Any,
    sshd_factory: Callable[..., Any],
    ha_sim: Any,
    github_sim: Any,
    start_service: Callable[..., ServiceProcess],
) -> None:
    github_sim.token = "ghp_hearth"
    github_sim.repo("alice/home-config").git_dir = world.remote.bare
    await world.secret("alice-webhook", SECRET.decode(), "webhook-gw")
    await world.secret("gh-token", "ghp_hearth", "deployer", "webhook-gw")
    spec = RepositorySpec(
        name="alice/home-config",
        url="https://github.com/alice/home-config.git",
        provider="github",
        webhook_secret="alice-webhook",
        token_secret="gh-token",
        api_url=github_sim.base_url,
    )
    await world.publish(RepositoryRegistered(repo=spec.name, spec=spec), actor="hearth apply")
    gateway = start_service("webhook-gw", HEARTH_NATS_URL=world.nats_url)
    gateway.wait_for("/readyz", 200)
    await world.start()
    nas = sshd_factory()  # a second target of the same repository
    reply = await world.apply_targets(
        ha_target(sshd, ha_sim.url, repo="alice/home-config"),
        files_target(nas, "nas", repo="alice/home-config"),
    )
    assert reply["ok"], reply

    world.remote.commit(dict(BASE))
    after = world.remote.push()
    body = encode(
        push_payload(
            before="0" * 40,
            after=after,
            files={"added": sorted(BASE), "modified": [], "removed": []},
        )
    )
    headers = delivery_headers("push", body, SECRET)
    assert await asyncio.to_thread(post, gateway.port, body, headers) == 202
    assert await asyncio.to_thread(post, gateway.port, body, headers) == 202  # redelivery
    forged = body.replace(b'"alice"', b'"mallory"')
    assert await asyncio.to_thread(post, gateway.port, forged, headers) == 401

    (done,) = await world.wait_terminal("ha")
    assert done.type == "DeploymentSucceeded", await world.logs(done.data.deployment_id)  # type: ignore[attr-defined]
    (other,) = await world.wait_terminal("nas")
    assert other.type == "DeploymentSucceeded", await world.logs(other.data.deployment_id)  # type: ignore[attr-defined]
    # Both targets deployed the commit from one download of its tarball.
    tarballs = [path for _, path, _ in github_sim.requests if "/tarball/" in path]
    assert tarballs == [f"/repos/alice/home-config/tarball/{after}"]
    deployment_id = done.data.deployment_id  # type: ignore[attr-defined]
    events = {e.type: e for e in await world.deployment_events(deployment_id)}
    assert events["ConfigFetched"].data.via == "github"  # type: ignore[attr-defined]
    assert events["DeployRequested"].actor == "github:alice"
    await asyncio.sleep(1)
    assert [e.type for e in await world.events("ha")].count("DeployRequested") == 1
    for path, content in BASE.items():
        assert (sshd.remote_root / path).read_text() == content
        assert (nas.remote_root / path).read_text() == content
    statuses = github_sim.repo("alice/home-config").statuses
    ha_statuses = [s for s in statuses if s["context"] == "hearth/ha"]
    assert [(s["state"], s["sha"]) for s in ha_statuses] == [
        ("pending", after),
        ("success", after),
    ]
    assert ha_statuses[-1]["target_url"].endswith(f"/deployments/{deployment_id}")
    assert json.dumps(statuses).count("ghp_hearth") == 0
