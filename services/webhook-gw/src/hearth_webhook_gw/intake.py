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
#: A refused body up to this size is parsed for the log line's repository name, no larger.
PEEK_BYTES = 64 * 1024


@dataclass(frozen=True)
class NoSecret:
    """Why Hearth holds no webhook secret for a repository: a line for the log only."""

    reason: str


@dataclass(frozen=True)
class HookSecret:
    """One stored webhook secret and the repositories (lower-case ``owner/name``) using it."""

    name: str
    value: bytes
    repos: frozenset[str]


class WebhookSecrets(Protocol):
    async def all_secrets(self) -> list[HookSecret]:
        """Every stored webhook secret of a declared repository: a signature is checked
        against these before the body is parsed.

        Raises BusUnavailable when the secret store cannot be reached.
        """

    async def secret_for(self, repo: str) -> tuple[str, bytes] | NoSecret:
        """The webhook secret of ``repo`` (``owner/name``) as (its name, its value), or
        why Hearth has none: only to say in the log why a delivery was refused.

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
    """Check the headers, verify the signature over the raw body, and only then parse it:
    an unsigned body is never parsed, whatever its size."""
    refusal = _check_request(delivery)
    if refusal is not None:
        return refusal
    try:
        signed_for = await _signed_for(delivery, secrets)
    except BusUnavailable as exc:
        return _bus_unavailable(delivery, exc)
    if not signed_for:
        return await _refuse(delivery, secrets, repo=_peek_repository(delivery.body))
    parsed = _parse_body(delivery)
    if isinstance(parsed, Reply):
        return parsed
    payload, repo = parsed
    if repo is None:  # an organisation hook's ping names no repository
        return Reply(200, {"ok": True, "pong": True})
    if repo.lower() not in signed_for:
        return await _refuse(delivery, secrets, repo=repo, signed_for=signed_for)
    if delivery.event == "ping":
        return Reply(200, {"ok": True, "pong": True})
    return await _record(delivery, payload, repo, sink, source)


def _check_request(delivery: Delivery) -> Reply | None:
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
    return None


async def _signed_for(delivery: Delivery, secrets: WebhookSecrets) -> frozenset[str]:
    """The repositories whose webhook secret signed the raw body (none if unsigned)."""
    if not delivery.signature:
        return frozenset()
    repos: set[str] = set()
    for secret in await secrets.all_secrets():
        if signature_matches(secret.value, delivery.body, delivery.signature):
            repos |= secret.repos
    return frozenset(repos)


def _parse_body(delivery: Delivery) -> Reply | tuple[dict[str, Any], str | None]:
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


def _peek_repository(body: bytes) -> str | None:
    """For the log line of a refusal only: the repository a small refused body names.
    A larger one is never parsed, so a flood of big forgeries costs one HMAC each."""
    if len(body) > PEEK_BYTES:
        return None
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return _repository_name(payload) if isinstance(payload, dict) else None


async def _refuse(
    delivery: Delivery,
    secrets: WebhookSecrets,
    *,
    repo: str | None,
    signed_for: frozenset[str] = frozenset(),
) -> Reply:
    if repo is None:
        reason = (
            "X-Hub-Signature-256 matches none of the webhook secrets Hearth holds"
            if delivery.signature
            else "the delivery has no X-Hub-Signature-256 header"
        ) + f" (a {len(delivery.body)}-byte body, not parsed)"
    else:
        try:
            secret = await secrets.secret_for(repo)
        except BusUnavailable:
            secret = NoSecret(f"the secret store could not be reached to check {repo}")
        reason = _mismatch_reason(repo, delivery.signature, secret)
    if signed_for:
        reason += f"; the body is signed with the webhook secret of {', '.join(sorted(signed_for))}"
    log.warning("webhook refused", repo=repo, delivery_id=delivery.delivery_id, reason=reason)
    return _error(401, "bad signature", REFUSED_DETAIL)


def _mismatch_reason(repo: str, signature: str | None, secret: tuple[str, bytes] | NoSecret) -> str:
    if isinstance(secret, NoSecret):
        return secret.reason
    name = secret[0]
    return (
        f"X-Hub-Signature-256 does not match the webhook secret {name!r} of {repo}"
        if signature
        else f"the delivery has no X-Hub-Signature-256 header; give the GitHub webhook "
        f"of {repo} the value of Hearth's secret {name!r} as its secret"
    )


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
