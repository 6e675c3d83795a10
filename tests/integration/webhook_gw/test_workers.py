"""Several gateway workers on one port (HEARTH_WEBHOOK_WORKERS, SO_REUSEPORT): the kernel
spreads connections over them, one dying leaves the others serving, one alone polls."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable

import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_servicekit import ServiceMetrics
from hearth_servicekit.secrets import scope_key
from hearth_webhook_gw.bootstrap import bootstrap
from hearth_webhook_gw.settings import WebhookSettings
from tests.integration.webhook_gw.test_gateway import (
    REPO,
    SECRET,
    apply_repositories,
    post,
    setup_bus,
)
from tests.support.github import delivery_headers, encode, push_payload, sha
from tests.support.services import TEST_SECRET_KEY, ServiceProcess

pytestmark = pytest.mark.integration


def log_events(worker: ServiceProcess, event: str) -> list[dict[str, object]]:
    found = []
    for line in worker.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == event:
            found.append(entry)
    return found


def wait_until(worker: ServiceProcess, event: str, timeout: float = 30.0) -> None:
    """Until ``worker`` logs ``event``; a worker that exits first fails the test at once."""
    deadline = time.monotonic() + timeout
    while not log_events(worker, event):
        assert worker.process.poll() is None, f"exited before {event!r}:\n{worker.output()}"
        assert time.monotonic() < deadline, f"never logged {event!r}:\n{worker.output()}"
        time.sleep(0.1)


def push(port: int, seed: str, expect: int | None = 202) -> int:
    """One signed push over a connection of its own (urllib does not keep it alive), so the
    kernel picks a worker for each."""
    body = encode(push_payload(before=sha(f"{seed}-before"), after=sha(f"{seed}-after")))
    status, reply = post(port, "push", body, delivery_headers("push", body, SECRET))
    assert expect is None or status == expect, reply
    return status


async def test_two_workers_share_the_port_and_one_left_keeps_serving(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    server = nats_factory()
    await setup_bus(server.url)

    def worker(number: int, port: int) -> ServiceProcess:
        return start_service(
            "webhook-gw",
            HEARTH_NATS_URL=server.url,
            HEARTH_HTTP_PORT=str(port),
            HEARTH_WEBHOOK_WORKERS="2",
            HEARTH_WEBHOOK_WORKER=str(number),
            HEARTH_INSTANCE=f"test-worker-{number}",
            HEARTH_LOG_LEVEL="info",
        )

    first = worker(1, 0)
    second = worker(2, first.port)  # the port the first was given, shared
    for each in (first, second):  # its own log: /readyz on the shared port may be the other's
        wait_until(each, "service started")
    assert (await apply_repositories(server.url, [REPO]))["ok"]
    # The worker that answered the command knows the repository at once, its sibling a
    # moment later from the stream: until each has accepted a delivery, one may be 401.
    attempts = 0
    while not all(log_events(w, "webhook accepted") for w in (first, second)):
        attempts += 1
        assert attempts < 400, "a worker never accepted a delivery"
        push(first.port, f"warm-{attempts}", expect=None)
    warm = [len(log_events(w, "webhook accepted")) for w in (first, second)]

    for i in range(40):
        push(first.port, f"spread-{i}")
    after = [len(log_events(w, "webhook accepted")) for w in (first, second)]
    by_worker = [a - w for a, w in zip(after, warm, strict=True)]
    assert sum(by_worker) == 40
    assert min(by_worker) > 0, f"one worker took every connection: {by_worker}"

    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    before = len(log_events(second, "webhook accepted"))
    for i in range(20):
        push(second.port, f"after-kill-{i}")
    assert len(log_events(second, "webhook accepted")) == before + 20


@pytest.mark.parametrize(("worker", "polls"), [(1, True), (2, False)])
async def test_only_the_first_worker_polls_repositories(
    nats_url: str, worker: int, polls: bool
) -> None:
    """Every worker follows the registry and takes webhooks; one poll per repository is
    enough (and GitHub's rate limit is per token), so only worker 1 runs the poll timer."""
    await setup_bus(nats_url)
    settings = WebhookSettings(
        nats_url=nats_url,
        scope_key=scope_key(TEST_SECRET_KEY, "webhook-gw"),
        webhook_workers=2,
        webhook_worker=worker,
    )
    gateway = bootstrap(settings, ServiceMetrics("webhook-gw"))
    await gateway.start()
    try:
        tasks = {task.get_name() for task in gateway._tasks}
        assert "follow-repositories" in tasks
        assert ("poll-repositories" in tasks) is polls
        assert gateway.shares_port()
    finally:
        await gateway.stop()


def test_a_worker_without_the_setting_is_refused_the_taken_port(
    nats_factory: Callable[..., EmbeddedNats], start_service: Callable[..., ServiceProcess]
) -> None:
    """SO_REUSEPORT only with HEARTH_WEBHOOK_WORKERS > 1: a gateway started twice by
    mistake still fails loudly instead of silently taking half the deliveries."""
    server = nats_factory()
    shared = start_service(
        "webhook-gw",
        HEARTH_NATS_URL=server.url,
        HEARTH_HTTP_PORT="0",
        HEARTH_WEBHOOK_WORKERS="2",
    )
    alone = start_service(
        "webhook-gw", HEARTH_NATS_URL=server.url, HEARTH_HTTP_PORT=str(shared.port)
    )
    assert alone.process.wait(30) == 1
    assert "is not available" in alone.output()
