"""Every reaction of the webhook gateway, one small function each.

``accept_delivery`` (a webhook: check it, verify it, turn it into a git event),
``poll_repository`` (a poll's branch heads become PushReceived events) and
``apply_repositories`` (the ApplyRepositories command). Pure apart from the ports they are
given, so every rule here is tested with fakes; the entrypoints only copy requests in and
replies out.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hearth_events import Envelope, EventData, derived_event_id, new_event
from hearth_events.catalogue import RepositorySpec
from hearth_events.credentials import repository_problems
from hearth_servicekit import get_logger
from hearth_servicekit.commands import CommandRejected, describe_validation
from hearth_servicekit.declarations import ApplyCommand, apply_declarations
from hearth_servicekit.publishing import BusUnavailable, EventSink
from hearth_webhook_gw.adapters.heads import HeadSource, PollError
from hearth_webhook_gw.adapters.secrets import WebhookSecrets
from hearth_webhook_gw.domain.deliveries import (
    REFUSED_DETAIL,
    Delivery,
    NoSecret,
    Reply,
    actor_of,
    check_request,
    error_reply,
    event_data_for,
    event_id_for,
    mismatch_reason,
    parse_body,
    peek_repository,
    push_actor,
    well_formed_push,
)
from hearth_webhook_gw.domain.heads import KnownHeads, changed_heads
from hearth_webhook_gw.domain.payloads import push_received
from hearth_webhook_gw.domain.registry import RepositoryRegistry
from hearth_webhook_gw.domain.signature import signature_matches

log = get_logger("hearth.webhook")


class ApplyRepositories(ApplyCommand):
    repositories: list[RepositorySpec]


async def accept_delivery(
    delivery: Delivery, secrets: WebhookSecrets, sink: EventSink, *, source: str
) -> Reply:
    """Check the headers, verify the signature over the raw body, and only then parse it:
    an unsigned body is never parsed, whatever its size."""
    refusal = check_request(delivery)
    if refusal is not None:
        return refusal
    try:
        signed_for = await _signed_for(delivery, secrets)
    except BusUnavailable as exc:
        return _bus_unavailable(delivery, exc)
    if not signed_for:
        return await _refuse(delivery, secrets, repo=peek_repository(delivery.body))
    push = well_formed_push(delivery)
    if push is not None:  # the usual delivery: validated from the bytes in one pass
        pushed_to = push.repository.full_name
        if pushed_to.lower() not in signed_for:
            return await _refuse(delivery, secrets, repo=pushed_to, signed_for=signed_for)
        assert delivery.delivery_id is not None
        data = push_received(delivery.delivery_id, push)
        actor = push_actor(push)
        return await _publish(delivery, data, actor=actor, repo=pushed_to, sink=sink, source=source)
    parsed = parse_body(delivery)
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


async def _signed_for(delivery: Delivery, secrets: WebhookSecrets) -> frozenset[str]:
    """The repositories whose webhook secret signed the raw body (none if unsigned)."""
    if not delivery.signature:
        return frozenset()
    repos: set[str] = set()
    for secret in await secrets.all_secrets():
        if signature_matches(secret.value, delivery.body, delivery.signature):
            repos |= secret.repos
    return frozenset(repos)


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
        reason = mismatch_reason(repo, delivery.signature, secret)
    if signed_for:
        reason += f"; the body is signed with the webhook secret of {', '.join(sorted(signed_for))}"
    log.warning("webhook refused", repo=repo, delivery_id=delivery.delivery_id, reason=reason)
    return error_reply(401, "bad signature", REFUSED_DETAIL)


async def _record(
    delivery: Delivery, payload: dict[str, Any], repo: str, sink: EventSink, source: str
) -> Reply:
    assert delivery.event is not None and delivery.delivery_id is not None
    try:
        data = event_data_for(delivery.event, delivery.delivery_id, payload)
    except ValidationError as exc:
        return error_reply(
            400, f"malformed {delivery.event} payload", describe_validation(exc, limit=3)
        )
    if data is None:
        log.info(
            "webhook ignored",
            github_event=delivery.event,
            repo=repo,
            delivery_id=delivery.delivery_id,
            action=payload.get("action"),
        )
        return Reply(202, {"ok": True, "ignored": True})
    actor = actor_of(payload)
    return await _publish(delivery, data, actor=actor, repo=repo, sink=sink, source=source)


async def _publish(
    delivery: Delivery, data: EventData, *, actor: str, repo: str, sink: EventSink, source: str
) -> Reply:
    assert delivery.delivery_id is not None
    envelope = new_event(
        data,
        source=source,
        actor=actor,
        correlation_id=delivery.delivery_id,
        event_id=event_id_for(data, delivery.delivery_id),
    )
    try:
        duplicate = await sink.publish(envelope)
    except BusUnavailable as exc:
        return _bus_unavailable(delivery, exc)
    event_id = str(envelope.event_id)
    log.info(
        "webhook accepted",
        github_event=delivery.event,
        type=envelope.type,
        repo=repo,
        delivery_id=delivery.delivery_id,
        event_id=event_id,
        duplicate=duplicate,
    )
    return Reply(
        202,
        {
            "ok": True,
            "event_id": event_id,
            "type": envelope.type,
            "duplicate": duplicate,
        },
    )


def _bus_unavailable(delivery: Delivery, exc: BusUnavailable) -> Reply:
    log.error("event bus unavailable", delivery_id=delivery.delivery_id, error=str(exc))
    return error_reply(
        503,
        "event bus unavailable",
        "Hearth could not store the event in time; redeliver it from GitHub",
    )


async def poll_repository(
    spec: RepositorySpec,
    source: HeadSource,
    token: str | None,
    known: KnownHeads,
    sink: EventSink,
    *,
    source_name: str,
) -> list[Envelope]:
    heads = await source.heads(spec, token)
    if heads is None:  # the source says nothing changed
        return []
    try:
        pushes = changed_heads(spec, heads, known)
    except ValidationError:
        raise PollError(f"{spec.url} answered a branch head that is not a full commit id") from None
    published = []
    for push in pushes:
        envelope = new_event(
            push,
            source=source_name,
            actor="hearth:poll",
            event_id=derived_event_id("push", push.repo, push.ref, push.before, push.after),
        )
        await sink.publish(envelope)
        known.apply_data(push)
        published.append(envelope)
    return published


async def apply_repositories(
    request: ApplyRepositories, registry: RepositoryRegistry, sink: EventSink, *, source: str
) -> dict[str, Any]:
    """The ApplyRepositories command: declare the repositories Hearth follows."""
    problems = [p for spec in request.repositories for _, p in repository_problems(spec)]
    if problems:  # a token in a URL would be in RepositoryRegistered for good
        raise CommandRejected("; ".join(problems))
    return await apply_declarations(registry, request.repositories, sink, request, source=source)
