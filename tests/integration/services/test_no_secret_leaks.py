"""Nothing secret leaves the notifier, the webhook gateway or the query API: canaries in a
webhook secret and in Apprise URLs (a password, and path tokens a library prints alone),
a signed and a forged webhook, a notification that fails for good and one that is
delivered, a test notification through the API; then a grep of every JetStream message,
every table of the database, the three services' logs (the notifier's at debug level,
where Apprise prints the URL it posts to) and the API's answers: zero hits.

The deployer's side (decrypted SSH key, Home Assistant and repository tokens printed by a
failing post-deploy command) is ``tests/integration/deployer/test_no_secret_leaks.py``."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import new_event
from hearth_events.catalogue import DeploymentFailed
from hearth_events.jetstream import BUCKETS, STREAMS, ensure
from hearth_events.publish import publish_event
from tests.integration.webhook_gw.test_gateway import REPO, apply_repositories, post
from tests.support.github import delivery_headers, encode, push_payload, sha
from tests.support.leaks import file_texts, hits, stream_texts, table_texts
from tests.support.receivers import HttpReceiver
from tests.support.services import ServiceProcess, scoped_secrets

pytestmark = pytest.mark.integration

WEBHOOK_SECRET = "canary-webhook-secret-3e8d1c"
APPRISE_PASSWORD = "canary-apprise-pass-77ab01"
DEAD_PATH_TOKEN = "canary-dead-path-token-0f6c2b"
ALIVE_PATH_TOKEN = "canary-alive-path-token-a41d93"
REPO_TOKEN = "canary-repo-url-token-5c0e77"


async def test_notifications_webhooks_and_the_api_leak_no_secret(
    nats_factory: Callable[..., EmbeddedNats],
    database_url: str,
    start_service: Callable[..., ServiceProcess],
    receiver: HttpReceiver,
) -> None:
    dead = HttpReceiver(always_fail=True)
    await dead.start()
    server = nats_factory()
    dead_url = f"json://hearth:{APPRISE_PASSWORD}@127.0.0.1:{dead.port}/hook/{DEAD_PATH_TOKEN}"
    alive_url = receiver.url(f"hook/{ALIVE_PATH_TOKEN}")
    canaries = [WEBHOOK_SECRET, APPRISE_PASSWORD, DEAD_PATH_TOKEN, ALIVE_PATH_TOKEN, REPO_TOKEN]
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        await scoped_secrets(js, "webhook-gw").put("alice-webhook", WEBHOOK_SECRET.encode())
        notifier_secrets = scoped_secrets(js, "notifier")
        await notifier_secrets.put("dead", dead_url.encode())
        await notifier_secrets.put("alive", alive_url.encode())
        bus = {"HEARTH_NATS_URL": server.url, "HEARTH_DATABASE_URL": database_url}
        services = [
            start_service("webhook-gw", **bus, HEARTH_LOG_LEVEL="debug"),
            start_service(
                "notifier", **bus, HEARTH_LOG_LEVEL="debug", HEARTH_PUBLIC_URL="http://h.lan"
            ),
            start_service("query-api", **bus),
        ]
        for service in services:
            service.wait_for("/readyz", 200)
        gateway, _, api = services

        with_token = {**REPO, "url": f"https://alice:{REPO_TOKEN}@github.com/alice/x.git"}
        refused = await apply_repositories(server.url, [with_token])
        assert refused["ok"] is False and "token_secret" in refused["error"]
        assert (await apply_repositories(server.url, [REPO]))["ok"]
        routes = [
            {"name": "broken", "events": ["DeploymentFailed"], "urls": ["dead"], "burst_s": 0.1},
            {"name": "fine", "events": ["DeploymentFailed"], "urls": ["alive"], "burst_s": 0.1},
        ]
        reply = await nc.request(
            "hearth.cmd.notify.ApplyRoutes", json.dumps({"routes": routes}).encode(), timeout=15
        )
        assert json.loads(reply.data)["ok"]

        body = encode(push_payload())
        assert (
            post(
                gateway.port, "push", body, delivery_headers("push", body, WEBHOOK_SECRET.encode())
            )[0]
            == 202
        )
        forged = encode(push_payload(after=sha("evil")))
        assert post(gateway.port, "push", forged, delivery_headers("push", forged, b"x"))[0] == 401

        failed = DeploymentFailed(deployment_id="d-1", target="ha", step="restart", reason="no")
        await publish_event(js, new_event(failed, source="test", actor="test"))
        await receiver.wait_for(1)
        await wait_for_type(js, "hearth.evt.notify.NotificationFailed.>")

        viewer, admin = await token(nc, "viewer"), await token(nc, "admin")
        tested = await call(api.port, "/api/v1/notifications/test", admin, body={})
        assert {r["route"]: r["ok"] for r in tested["results"]} == {"broken": False, "fine": True}
        answers = {"POST /api/v1/notifications/test": json.dumps(tested)}
        await wait_projected(api.port, viewer)
        for path in ("/api/v1/events?limit=200", "/api/v1/events?logs=true&limit=200"):
            answers[f"GET {path}"] = json.dumps(await call(api.port, path, viewer))

        surfaces = {
            **await stream_texts(js),
            **table_texts(database_url),
            **file_texts(s.log for s in services),
            **answers,
        }
    finally:
        await nc.close()
        await dead.stop()
    assert "JSON POST URL" in surfaces[str(services[1].log)]  # Apprise did print the URLs
    assert any(k.startswith("query_api.") for k in surfaces)
    assert hits(surfaces, canaries) == []


async def token(nc: Any, role: str) -> str:
    body = json.dumps({"name": role, "role": role}).encode()
    reply = await nc.request("hearth.cmd.query.CreateToken", body, timeout=10)
    value: str = json.loads(reply.data)["token"]
    return value


async def call(port: int, path: str, bearer: str, body: Any = None) -> Any:
    def run() -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        with urllib.request.urlopen(request, timeout=90) as response:
            return json.loads(response.read())

    return await asyncio.to_thread(run)


async def wait_for_type(js: Any, subject: str, timeout: float = 30) -> None:
    sub = await js.subscribe(subject, ordered_consumer=True)
    try:
        await sub.next_msg(timeout=timeout)
    finally:
        await sub.unsubscribe()


async def wait_projected(port: int, bearer: str, timeout: float = 20) -> None:
    """Until the query API has projected the notification's failure (read models final)."""
    async with asyncio.timeout(timeout):
        while not any(
            item.get("type") == "NotificationFailed"
            for item in (await call(port, "/api/v1/events?limit=200", bearer))["items"]
        ):
            await asyncio.sleep(0.2)
