"""Routes declared once: the server dispatches them and the OpenAPI document describes them.

Each route names its role, its query and body models and its response model; bad input
is refused with ``{error, detail}`` naming the parameter, before a handler runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hearth_query_api.adapters.tokens import authenticate
from hearth_query_api.domain.tokens import Principal

Handler = Callable[["Call"], Awaitable[Any]]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        **extra: Any,
    ) -> None:
        """``extra`` goes into the body beside error and detail (see ErrorOut)."""
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.extra = extra


@dataclass
class Call:
    request: web.Request
    principal: Principal
    path: dict[str, str]
    query: Any = None
    body: Any = None


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    role: str
    summary: str
    handler: Handler
    response: Any = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    tags: tuple[str, ...] = field(default=())
    media_type: str = "application/json"


def error_response(
    status: int, error: str, detail: str, extra: dict[str, Any] | None = None
) -> web.Response:
    return web.json_response({"error": error, "detail": detail, **(extra or {})}, status=status)


def _first_problem(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    name = ".".join(str(p) for p in err["loc"]) or where
    if err["type"] == "extra_forbidden":
        return f"{where} parameter {name!r} is not known"
    return f"{where} parameter {name!r}: {err['msg']}"


async def _principal(request: web.Request, pool: Any) -> Principal:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    session_principal = request.get("session_principal")
    if not token and session_principal is not None and request.method in ("GET", "HEAD"):
        # The dashboard's own reads (the live feed); changes always need a token or a form
        # that carries the session's CSRF token.
        from_session: Principal = session_principal
        return from_session
    if not token:
        raise ApiError(401, "unauthorized", "send an API token: Authorization: Bearer <token>")
    async with pool.acquire() as conn:
        principal = await authenticate(conn, token)
    if principal is None:
        raise ApiError(401, "unauthorized", "the token is unknown or revoked")
    return principal


def _parse_query(route: Route, request: web.Request) -> Any:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail there.
    for name, value in [*request.query.items(), *request.match_info.items()]:
        if "\x00" in value:
            raise ApiError(400, "bad query", f"parameter {name!r} contains a NUL byte")
    if route.query is None:
        if request.query:
            name = next(iter(request.query))
            raise ApiError(400, "bad query", f"query parameter {name!r} is not known")
        return None
    try:
        return route.query.model_validate(dict(request.query))
    except ValidationError as exc:
        raise ApiError(400, "bad query", _first_problem(exc, "query")) from None


async def _parse_body(route: Route, request: web.Request) -> Any:
    if route.body is None:
        return None
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "bad body", "a JSON body is required ({} for defaults)")
    if b"\\u0000" in raw:
        raise ApiError(400, "bad body", "strings may not contain NUL (\\u0000)")
    try:
        return route.body.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError(400, "bad body", _first_problem(exc, "body")) from None


def dispatch(
    route: Route, pool: Callable[[], Any]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            if pool() is None:
                raise ApiError(503, "starting", "Hearth's query API is starting")
            principal = await _principal(request, pool())
            if not principal.may(route.role):
                raise ApiError(
                    403,
                    "forbidden",
                    f"{route.method} {route.path} needs the {route.role} role; "
                    f"token {principal.name!r} has {principal.role}",
                )
            call = Call(
                request,
                principal,
                dict(request.match_info),
                _parse_query(route, request),
                await _parse_body(route, request),
            )
            result = await route.handler(call)
        except ApiError as exc:
            return error_response(exc.status, exc.error, exc.detail, exc.extra)
        if isinstance(result, web.StreamResponse):
            return result
        payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        return web.Response(
            text=json.dumps(payload), status=route.status, content_type="application/json"
        )

    return handle


def add_routes(app: web.Application, routes: list[Route], pool: Callable[[], Any]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, dispatch(route, pool))
