"""The notifier's commands: declare routes, and send a test message through them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hearth_events.catalogue import RouteRegistered, RouteRemoved, RouteSpec, RouteUpdated
from hearth_events.credentials import route_problems
from hearth_notifier.delivery import Deliverer, check_url, deliver_with_retries, scheme_of
from hearth_notifier.messages import Message
from hearth_notifier.router import SecretLookup
from hearth_notifier.routes import DEFAULT_OFFLINE_AFTER_S, default_routes, unknown_patterns
from hearth_servicekit.commands import CommandRejected
from hearth_servicekit.declarations import (
    ApplyCommand,
    DeclarationEvents,
    Declarations,
    apply_declarations,
)
from hearth_servicekit.publishing import EventSink

ROUTE_EVENTS = DeclarationEvents(RouteRegistered, RouteUpdated, RouteRemoved, "route")


class RouteRegistry(Declarations[RouteSpec]):
    def __init__(self) -> None:
        super().__init__(ROUTE_EVENTS)


class ApplyRoutes(ApplyCommand):
    routes: list[RouteSpec] = []
    default_urls: tuple[str, ...] = Field(default=(), description="secret names; () = none")
    include_success: bool = False
    offline_after_s: int = Field(default=DEFAULT_OFFLINE_AFTER_S, ge=0)


class TestNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: str | None = None


async def check_routes(routes: list[RouteSpec], secrets: SecretLookup) -> list[str]:
    """Every reason a route cannot work, each naming the route."""
    problems: list[str] = []
    for spec in routes:
        problems.extend(
            f"route {spec.name}: event pattern {p!r} matches no event type"
            for p in unknown_patterns(spec)
        )
        addresses = route_problems(spec)  # an Apprise URL itself: never echoed or looked up
        problems.extend(problem for _, problem in addresses)
        if addresses:
            continue
        for name in spec.urls:
            value = await secrets.get(name)
            if value is None:
                problems.append(f"route {spec.name}: secret {name!r} does not exist")
            elif (reason := check_url(value.decode())) is not None:
                problems.append(f"route {spec.name}: secret {name!r}: {reason}")
    return problems


async def apply_routes(
    request: ApplyRoutes,
    registry: RouteRegistry,
    secrets: SecretLookup,
    sink: EventSink,
    *,
    source: str,
) -> dict[str, Any]:
    desired = list(request.routes)
    if request.default_urls:
        desired = (
            default_routes(
                request.default_urls,
                include_success=request.include_success,
                offline_after_s=request.offline_after_s,
            )
            + desired
        )
    problems = await check_routes(desired, secrets)
    if problems:
        raise CommandRejected("; ".join(problems))
    return await apply_declarations(
        registry,
        desired,
        sink,
        prune=request.prune,
        dry_run=request.dry_run,
        actor=request.actor,
        request_id=request.request_id,
        source=source,
    )


async def send_test(
    request: TestNotification,
    registry: RouteRegistry,
    secrets: SecretLookup,
    deliverer: Deliverer,
    *,
    retry_delays: tuple[float, ...] = (),
) -> dict[str, Any]:
    routes = registry.all()
    if request.route is not None:
        routes = [r for r in routes if r.name == request.route]
        if not routes:
            raise CommandRejected(f"no route named {request.route!r}")
    if not routes:
        raise CommandRejected("no routes are declared; add notifications to hearth.yaml")
    message = Message(
        "Hearth test notification", "If you can read this, Hearth can reach you here.", "info"
    )
    results: list[dict[str, Any]] = []
    for spec in routes:
        for name in spec.urls:
            value = await secrets.get(name)
            if value is None:
                results.append(
                    {
                        "route": spec.name,
                        "secret": name,
                        "scheme": "unknown",
                        "ok": False,
                        "reason": "secret does not exist",
                    }
                )
                continue
            url = value.decode()
            outcome = await deliver_with_retries(deliverer, url, message, retry_delays)
            results.append(
                {
                    "route": spec.name,
                    "secret": name,
                    "scheme": scheme_of(url),
                    "ok": outcome.ok,
                    "reason": outcome.reason,
                }
            )
    return {"results": results}
