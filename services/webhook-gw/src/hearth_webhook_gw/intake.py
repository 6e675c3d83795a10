"""Accept one GitHub webhook delivery: check it, verify it, turn it into a git event.

Pure apart from the two ports it is given, so every rule here is tested with fakes; the
HTTP layer only copies headers and body in and the reply out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from hearth_events import EventData, derived_event_id, new_event
from hearth_events.catalogue import PushReceived
from hearth_servicekit import get_logger
from hearth_servicekit.commands import describe_validation
from hearth_servicekit.publishing import BusUnavailable, EventSink
from hearth_webhook_gw.payloads import (
    CheckSuitePayload,
    PushPayload,
    WorkflowRunPayload,
    ci_completed,
    push_received,
)
from hearth_webhook_gw.signature import signature_matches

log = get_logger("hearth.webhook")

MAX_BODY_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class NoSecret:
    """Why Hearth holds no webhook secret for a repository: a line for the log only."""

    reason: str


class WebhookSecrets(Protocol):
    async def secret_for(self, repo: str) -> tuple[str, bytes] | NoSecret:
        """The webhook secret of ``repo`` (``owner/name``) as (its name, its value), or
        why Hearth has none.

        Raises BusUnavailable when the secret store cannot be reached.
        """


#: What the sender is told for every refused signature. An unknown repository and a wrong
#: signature must look the same from outside; the gateway's log line says which it was.
REFUSED_DETAIL = (
    "X-Hub-Signature-256 could not be verified: it does not match the repository's webhook "
    "secret, or Hearth takes no webhooks for this repository; Hearth's log names the reason"
)


@dataclass(frozen=True)
class Delivery:
    event: str | None
    delivery_id: str | None
    signature: str | None
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def _error(status: int, error: str, detail: str) -> Reply:
    return Reply(status, {"error": error, "detail": detail})


async def accept_delivery(
    delivery: Delivery, secrets: WebhookSecrets, sink: EventSink, *, source: str
) -> Reply:
    parsed = _parse_request(delivery)
    if isinstance(parsed, Reply):
        return parsed
    payload, repo = parsed
    if repo is None:  # an organisation hook's ping names no repository
        return Reply(200, {"ok": True, "pong": True})
    refusal = await _verify(delivery, repo, secrets)
    if refusal is not None:
        return refusal
    if delivery.event == "ping":
        return Reply(200, {"ok": True, "pong": True})
    return await _record(delivery, payload, repo, sink, source)


def _parse_request(delivery: Delivery) -> Reply | tuple[dict[str, Any], str | None]:
    if len(delivery.body) > MAX_BODY_BYTES:
        return _error(413, "payload too large", f"bodies over {MAX_BODY_BYTES} bytes are refused")
    media_type = (delivery.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _error(
            415,
            "unsupported content type",
            f"got {media_type or 'none'}; set the webhook's content type to "
            "application/json in the repository's webhook settings",
        )
    if not delivery.event or not delivery.delivery_id:
        return _error(
            400,
            "not a GitHub delivery",
            "X-GitHub-Event and X-GitHub-Delivery headers are required",
        )
    try:
        payload = json.loads(delivery.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, "malformed JSON", str(exc))
    if not isinstance(payload, dict):
        return _error(400, "malformed payload", "the body must be a JSON object")
    repo = _repository_name(payload)
    if repo is None and delivery.event != "ping":
        return _error(400, "malformed payload", "repository.full_name is missing")
    return payload, repo


async def _verify(delivery: Delivery, repo: str, secrets: WebhookSecrets) -> Reply | None:
    try:
        secret = await secrets.secret_for(repo)
    except BusUnavailable as exc:
        return _bus_unavailable(delivery, exc)
    if isinstance(secret, NoSecret):
        reason = secret.reason
    else:
        name, value = secret
        if signature_matches(value, delivery.body, delivery.signature):
            return None
        reason = (
            f"X-Hub-Signature-256 does not match the webhook secret {name!r} of {repo}"
            if delivery.signature
            else f"the delivery has no X-Hub-Signature-256 header; give the GitHub webhook "
            f"of {repo} the value of Hearth's secret {name!r} as its secret"
        )
    log.warning("webhook refused", repo=repo, delivery_id=delivery.delivery_id, reason=reason)
    return _error(401, "bad signature", REFUSED_DETAIL)


async def _record(
    delivery: Delivery, payload: dict[str, Any], repo: str, sink: EventSink, source: str
) -> Reply:
    assert delivery.event is not None and delivery.delivery_id is not None
    try:
        data = _event_data(delivery.event, delivery.delivery_id, payload)
    except ValidationError as exc:
        return _error(400, f"malformed {delivery.event} payload", describe_validation(exc, limit=3))
    if data is None:
        log.info(
            "webhook ignored",
            github_event=delivery.event,
            repo=repo,
            delivery_id=delivery.delivery_id,
            action=payload.get("action"),
        )
        return Reply(202, {"ok": True, "ignored": True})
    envelope = new_event(
        data,
        source=source,
        actor=_actor(payload),
        correlation_id=delivery.delivery_id,
        event_id=_event_id(data, delivery.delivery_id),
    )
    try:
        duplicate = await sink.publish(envelope)
    except BusUnavailable as exc:
        return _bus_unavailable(delivery, exc)
    log.info(
        "webhook accepted",
        github_event=delivery.event,
        type=envelope.type,
        repo=repo,
        delivery_id=delivery.delivery_id,
        event_id=str(envelope.event_id),
        duplicate=duplicate,
    )
    return Reply(
        202,
        {
            "ok": True,
            "event_id": str(envelope.event_id),
            "type": envelope.type,
            "duplicate": duplicate,
        },
    )


def _bus_unavailable(delivery: Delivery, exc: BusUnavailable) -> Reply:
    log.error("event bus unavailable", delivery_id=delivery.delivery_id, error=str(exc))
    return _error(
        503,
        "event bus unavailable",
        "Hearth could not store the event in time; redeliver it from GitHub",
    )


def _repository_name(payload: dict[str, Any]) -> str | None:
    repository = payload.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("full_name"), str):
        return str(repository["full_name"])
    return None


def _actor(payload: dict[str, Any]) -> str:
    sender = payload.get("sender")
    if isinstance(sender, dict) and isinstance(sender.get("login"), str):
        return f"github:{sender['login']}"
    return "github"


def _event_data(event: str, delivery_id: str, payload: dict[str, Any]) -> EventData | None:
    if event == "push":
        return push_received(delivery_id, PushPayload.model_validate(payload))
    if event == "workflow_run" and payload.get("action") == "completed":
        run = WorkflowRunPayload.model_validate(payload)
        w = run.workflow_run
        return ci_completed(
            delivery_id=delivery_id,
            repo=run.repository.full_name,
            commit=w.head_sha,
            branch=w.head_branch,
            name=w.name,
            conclusion=w.conclusion,
            url=w.html_url,
        )
    if event == "check_suite" and payload.get("action") == "completed":
        suite = CheckSuitePayload.model_validate(payload)
        s = suite.check_suite
        return ci_completed(
            delivery_id=delivery_id,
            repo=suite.repository.full_name,
            commit=s.head_sha,
            branch=s.head_branch,
            name=s.app.name,
            conclusion=s.conclusion,
            url=s.url,
        )
    return None


def _event_id(data: EventData, delivery_id: str) -> UUID:
    """Pushes dedupe by what they changed, so a webhook, a redelivery and a poll agree."""
    if isinstance(data, PushReceived):
        return derived_event_id("push", data.repo, data.ref, data.before, data.after)
    return derived_event_id("github-delivery", delivery_id)
