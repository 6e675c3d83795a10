"""One GitHub webhook delivery as the gateway sees it, and the rules that need no I/O:
which requests are refused before any secret is read, how a body is parsed, which git
event (and event id) a payload becomes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from hearth_events import EventData, derived_event_id
from hearth_events.catalogue import PushReceived
from hearth_webhook_gw.domain.payloads import (
    CheckSuitePayload,
    PushPayload,
    WorkflowRunPayload,
    ci_completed,
    push_received,
)

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


def error_reply(status: int, error: str, detail: str) -> Reply:
    return Reply(status, {"error": error, "detail": detail})


def check_request(delivery: Delivery) -> Reply | None:
    if len(delivery.body) > MAX_BODY_BYTES:
        return error_reply(
            413, "payload too large", f"bodies over {MAX_BODY_BYTES} bytes are refused"
        )
    media_type = (delivery.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return error_reply(
            415,
            "unsupported content type",
            f"got {media_type or 'none'}; set the webhook's content type to "
            "application/json in the repository's webhook settings",
        )
    if not delivery.event or not delivery.delivery_id:
        return error_reply(
            400,
            "not a GitHub delivery",
            "X-GitHub-Event and X-GitHub-Delivery headers are required",
        )
    return None


def parse_body(delivery: Delivery) -> Reply | tuple[dict[str, Any], str | None]:
    try:
        payload = json.loads(delivery.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return error_reply(400, "malformed JSON", str(exc))
    if not isinstance(payload, dict):
        return error_reply(400, "malformed payload", "the body must be a JSON object")
    repo = repository_name(payload)
    if repo is None and delivery.event != "ping":
        return error_reply(400, "malformed payload", "repository.full_name is missing")
    return payload, repo


def well_formed_push(delivery: Delivery) -> PushPayload | None:
    """A push's payload validated straight from the bytes, with no dict of the whole body
    in between (GitHub's pushes carry far more than Hearth reads); None for any other
    event and for a push that is not well-formed, which ``parse_body`` and
    ``event_data_for`` then take apart to say what is wrong, exactly as for other events."""
    if delivery.event != "push":
        return None
    try:
        return PushPayload.model_validate_json(delivery.body)
    except ValidationError:
        return None


def push_actor(push: PushPayload) -> str:
    """``actor_of`` for a validated push."""
    return f"github:{push.sender.login}" if push.sender is not None else "github"


def peek_repository(body: bytes) -> str | None:
    """For the log line of a refusal only: the repository a small refused body names.
    A larger one is never parsed, so a flood of big forgeries costs one HMAC each."""
    if len(body) > PEEK_BYTES:
        return None
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return repository_name(payload) if isinstance(payload, dict) else None


def mismatch_reason(repo: str, signature: str | None, secret: tuple[str, bytes] | NoSecret) -> str:
    if isinstance(secret, NoSecret):
        return secret.reason
    name = secret[0]
    return (
        f"X-Hub-Signature-256 does not match the webhook secret {name!r} of {repo}"
        if signature
        else f"the delivery has no X-Hub-Signature-256 header; give the GitHub webhook "
        f"of {repo} the value of Hearth's secret {name!r} as its secret"
    )


def repository_name(payload: dict[str, Any]) -> str | None:
    repository = payload.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("full_name"), str):
        return str(repository["full_name"])
    return None


def actor_of(payload: dict[str, Any]) -> str:
    sender = payload.get("sender")
    if isinstance(sender, dict) and isinstance(sender.get("login"), str):
        return f"github:{sender['login']}"
    return "github"


def event_data_for(event: str, delivery_id: str, payload: dict[str, Any]) -> EventData | None:
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


def event_id_for(data: EventData, delivery_id: str) -> UUID:
    """Pushes dedupe by what they changed, so a webhook, a redelivery and a poll agree."""
    if isinstance(data, PushReceived):
        return derived_event_id("push", data.repo, data.ref, data.before, data.after)
    return derived_event_id("github-delivery", delivery_id)
