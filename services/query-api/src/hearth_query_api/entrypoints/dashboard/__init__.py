"""The dashboard: server-rendered pages (Jinja2, htmx) over the same handlers as the API.

Reads and commands go through :class:`Endpoints`, so a page shows exactly what the API
returns and a button does exactly what the API does, with the same role checks. Pages
sign in with an API token into a session cookie; every form carries the session's CSRF
token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from pydantic import BaseModel, ValidationError

from hearth_events import all_event_classes
from hearth_query_api.entrypoints.api.framework import ApiError, Call
from hearth_query_api.entrypoints.api.models import CancelIn, DeployIn, RollbackIn
from hearth_query_api.entrypoints.api.queries import DeploymentQuery, EventQuery
from hearth_query_api.entrypoints.api.rollbacks import backup_of, list_backups, was_requested
from hearth_query_api.entrypoints.dashboard.charts import strip_svg
from hearth_query_api.entrypoints.dashboard.extras import (
    DEFAULTS,
    HELPERS,
    commits_shown,
    strips,
    target_stats,
)
from hearth_query_api.entrypoints.dashboard.fleet import FleetPages
from hearth_query_api.entrypoints.dashboard.present import plan_summary
from hearth_query_api.entrypoints.dashboard.sessions import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    TTL,
    Session,
    close_session,
    find_session,
    open_session,
)
from hearth_query_api.entrypoints.dashboard.views import diff_lines, restore_prompt, step_rows, tone
from hearth_query_api.projections.deployments import TERMINAL

HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = ("/login", "/static/")


class Dashboard:
    def __init__(self, endpoints: Any, pool: Callable[[], Any], *, secure_cookie: bool) -> None:
        self.endpoints = endpoints
        self.pool = pool
        self.secure_cookie = secure_cookie
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["short"] = lambda sha: (sha or "")[:10]
        self.templates.globals.update(
            tone=tone,
            strip_svg=strip_svg,
            event_types=" ".join(sorted(all_event_classes())),
            restore_prompt=restore_prompt,
            **HELPERS,
        )

    # -- plumbing --------------------------------------------------------------------
    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.sessions)
        add = app.router.add_route
        add("GET", "/login", self.login_page)
        add("POST", "/login", self.login)
        add("POST", "/logout", self.form(self.logout))
        add("GET", "/", self.page(self.overview))
        add("GET", "/fragments/targets", self.page(self.targets_fragment))
        add("GET", "/targets/{name}", self.page(self.target))
        add("POST", "/targets/{name}/deploy", self.form(self.deploy, "operator"))
        add("POST", "/targets/{name}/rollback", self.form(self.rollback, "operator"))
        add("GET", "/deployments", self.page(self.deployments))
        add("GET", "/deployments/{id}", self.page(self.deployment))
        add("GET", "/fragments/deployments/{id}", self.page(self.deployment_fragment))
        add("POST", "/deployments/{id}/cancel", self.form(self.cancel, "operator"))
        add("GET", "/audit", self.page(self.audit))
        add("GET", "/events", self.page(self.live_events))
        FleetPages(self).install(app)
        app.router.add_static("/static/", HERE / "static", append_version=True)
        add("GET", "/favicon.ico", self.favicon)

    @web.middleware
    async def sessions(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        session_id = request.cookies.get(COOKIE)
        pool = self.pool()
        # A bearer token decides alone for the API, and static files need no one: skip the
        # session's database lookup on those hot paths.
        needless = request.path.startswith("/static/") or (
            request.path.startswith("/api/") and "Authorization" in request.headers
        )
        if session_id and pool is not None and not needless:
            async with pool.acquire() as conn:
                session = await find_session(conn, session_id)
            if session is not None:
                request["session"] = session
                request["session_principal"] = session.principal
        return await handler(request)

    def render(
        self, request: web.Request, name: str, status: int = 200, **context: Any
    ) -> web.Response:
        session: Session | None = request.get("session")
        html = self.templates.get_template(name).render(
            session=session,
            principal=session.principal if session else None,
            csrf=session.csrf if session else "",
            path=request.path,
            **{**DEFAULTS, **context},
        )
        return web.Response(text=html, status=status, content_type="text/html")

    def problem(
        self, request: web.Request, status: int, title: str, detail: str, link: Any = None
    ) -> web.Response:
        return self.render(
            request, "problem.html", status=status, title=title, detail=detail, link=link
        )

    def api_problem(self, request: web.Request, exc: ApiError) -> web.Response:
        """An API refusal as a page; one naming a deployment links to it."""
        named = exc.extra.get("deployment_id")
        link = ("/deployments/" + named, "See that deployment") if named else None
        return self.problem(request, exc.status, exc.error.capitalize(), exc.detail, link)

    def page(self, view: Callable[[web.Request, Call], Awaitable[web.StreamResponse]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            session: Session | None = request.get("session")
            if session is None:
                if request.headers.get("HX-Request"):
                    return web.Response(status=401, headers={"HX-Redirect": "/login"})
                raise web.HTTPSeeOther(f"/login?next={request.path_qs}")
            if self.pool() is None:
                return self.problem(request, 503, "Starting", "Hearth's query API is starting.")
            call = Call(request, session.principal, dict(request.match_info))
            try:
                return await view(request, call)
            except ApiError as exc:
                return self.api_problem(request, exc)

        return handle

    def form(
        self,
        action: Callable[[web.Request, Call, Any], Awaitable[web.StreamResponse]],
        role: str = "viewer",
    ) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            session: Session | None = request.get("session")
            if session is None:
                # htmx would follow a 303 and put the login page inside the form.
                if request.headers.get("HX-Request"):
                    return web.Response(status=401, headers={"HX-Redirect": "/login"})
                raise web.HTTPSeeOther("/login")
            fields = await request.post()
            given = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD)
            if not session.csrf_ok(given if isinstance(given, str) else None):
                return self.problem(
                    request,
                    403,
                    "Form expired",
                    "This form did not come from your current dashboard session (or it "
                    "expired). Reload the page and try again.",
                )
            if not session.principal.may(role):
                return self.problem(
                    request,
                    403,
                    "Not allowed",
                    f"This needs the {role} role; your token {session.principal.name!r} has "
                    f"{session.principal.role}.",
                )
            call = Call(request, session.principal, dict(request.match_info))
            try:
                return await action(request, call, fields)
            except ApiError as exc:
                return self.api_problem(request, exc)

        return handle

    @staticmethod
    def go(request: web.Request, location: str) -> web.StreamResponse:
        """Navigate after a form: htmx follows HX-Redirect, a plain form the 303."""
        if request.headers.get("HX-Request"):
            return web.Response(status=204, headers={"HX-Redirect": location})
        raise web.HTTPSeeOther(location)

    @staticmethod
    def parse(model: type[BaseModel], values: dict[str, Any]) -> Any:
        try:
            return model.model_validate({k: v for k, v in values.items() if v not in ("", None)})
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            raise ApiError(400, "bad input", f"{name}: {err['msg']}") from None

    # -- sign-in ---------------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "login.html", error=None, next=_safe_next(request))

    async def login(self, request: web.Request) -> web.StreamResponse:
        fields = await request.post()
        token = fields.get("token")
        pool = self.pool()
        if pool is None:
            return self.problem(request, 503, "Starting", "Hearth's query API is starting.")
        opened = None
        if isinstance(token, str) and token.strip():
            async with pool.acquire() as conn:
                opened = await open_session(conn, token)
        if opened is None:
            return self.render(
                request,
                "login.html",
                status=401,
                error="That token is unknown or revoked. Create one with "
                "`hearth token create NAME --role operator`.",
                next=_safe_next(request),
            )
        session_id, _ = opened
        response = web.HTTPSeeOther(_safe_next(request, fields.get("next")))
        response.set_cookie(
            COOKIE,
            session_id,
            max_age=int(TTL.total_seconds()),
            path="/",
            httponly=True,
            secure=self.secure_cookie,
            samesite="Strict",
        )
        raise response

    async def logout(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        del call, fields
        async with self.pool().acquire() as conn:
            await close_session(conn, request.cookies[COOKIE])
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # -- pages -----------------------------------------------------------------------
    @staticmethod
    async def favicon(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/static/favicon.svg")

    async def _targets_context(self, call: Call) -> dict[str, Any]:
        targets = (await self.endpoints.list_targets(call)).items
        return {
            "targets": targets,
            "history": await strips(
                self.pool(), [t.name for t in targets], width=140, height=24, slots=20
            ),
            **await commits_shown(self.pool(), (t.current_commit for t in targets)),
        }

    async def overview(self, request: web.Request, call: Call) -> web.StreamResponse:
        counts = await self.endpoints.count_devices(call)
        context = await self._targets_context(call)
        return self.render(request, "overview.html", counts=counts, **context)

    async def targets_fragment(self, request: web.Request, call: Call) -> web.StreamResponse:
        return self.render(request, "_targets.html", **await self._targets_context(call))

    async def target(self, request: web.Request, call: Call) -> web.StreamResponse:
        target = await self.endpoints.get_target(call)
        recent = await self.endpoints.list_deployments(
            Call(request, call.principal, {}, DeploymentQuery(target=target.name, limit=10))
        )
        async with self.pool().acquire() as conn:
            backups = await list_backups(conn, target.name, 10)
        shas = [target.current_commit, *(d.commit for d in recent.items)]
        return self.render(
            request,
            "target.html",
            target=target,
            deployments=recent.items,
            backups=backups,
            strip=(await strips(self.pool(), [target.name], width=480, height=56))[target.name],
            stats=await target_stats(self.pool(), target.name),
            **await commits_shown(self.pool(), shas),
        )

    async def deployments(self, request: web.Request, call: Call) -> web.StreamResponse:
        query = self.parse(DeploymentQuery, dict(request.query))
        page = await self.endpoints.list_deployments(Call(request, call.principal, {}, query))
        targets = (await self.endpoints.list_targets(call)).items
        return self.render(
            request,
            "deployments.html",
            page=page,
            query=query,
            targets=targets,
            **await commits_shown(self.pool(), (d.commit for d in page.items)),
        )

    async def _deployment_context(self, call: Call) -> dict[str, Any]:
        detail = await self.endpoints.get_deployment(call)
        async with self.pool().acquire() as conn:
            # Rolling this deployment back restores the backup it took: the files as they
            # were before it (None: it changed no files).
            undo = await backup_of(conn, detail.id)
        return {
            "d": detail,
            "steps": step_rows(detail),
            "diff": diff_lines(detail.diff or ""),
            "terminal": detail.status in TERMINAL,
            "undo": undo,
            "plan": plan_summary(detail.plan, detail.diff or ""),
            **await commits_shown(self.pool(), [detail.commit]),
        }

    async def deployment(self, request: web.Request, call: Call) -> web.StreamResponse:
        try:
            context = await self._deployment_context(call)
        except ApiError as exc:
            if exc.status != 404:
                raise
            # Right after a deploy or rollback button the read model may not have it yet:
            # one this API accepted is a page that follows it, not a 404.
            async with self.pool().acquire() as conn:
                requested = await was_requested(conn, call.path["id"])
            return self.render(
                request,
                "deployment_pending.html",
                status=200 if requested else 404,
                deployment_id=call.path["id"],
                requested=requested,
            )
        return self.render(request, "deployment.html", **context)

    async def deployment_fragment(self, request: web.Request, call: Call) -> web.StreamResponse:
        return self.render(request, "_deployment.html", **await self._deployment_context(call))

    async def audit(self, request: web.Request, call: Call) -> web.StreamResponse:
        query = self.parse(EventQuery, dict(request.query))
        page = await self.endpoints.list_events(Call(request, call.principal, {}, query))
        return self.render(request, "audit.html", page=page, query=query)

    async def live_events(self, request: web.Request, call: Call) -> web.StreamResponse:
        del call
        logs = request.query.get("logs", "") not in ("", "0", "off", "false")
        return self.render(request, "events.html", logs=logs)

    # -- actions ---------------------------------------------------------------------
    async def deploy(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        body = self.parse(
            DeployIn,
            {
                "target": call.path["name"],
                "commit": fields.get("commit"),
                "branch": fields.get("branch"),
                "dry_run": fields.get("dry_run") == "on",
            },
        )
        accepted = await self.endpoints.request_deploy(
            Call(request, call.principal, call.path, None, body)
        )
        return self.go(request, f"/deployments/{accepted.deployment_id}")

    async def rollback(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        body = self.parse(RollbackIn, {"to": fields.get("to"), "reason": fields.get("reason")})
        accepted = await self.endpoints.request_rollback(
            Call(request, call.principal, call.path, None, body)
        )
        return self.go(request, f"/deployments/{accepted.deployment_id}")

    async def cancel(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        body = self.parse(CancelIn, {"reason": fields.get("reason")})
        await self.endpoints.request_cancel(Call(request, call.principal, call.path, None, body))
        return self.go(request, f"/deployments/{call.path['id']}")


def _safe_next(request: web.Request, given: Any = None) -> str:
    """Only a path on this site: never an open redirect."""
    candidate = given if isinstance(given, str) else request.query.get("next", "/")
    # Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would become
    # "//evil.example": no control characters or spaces at all.
    if (
        not candidate.startswith("/")
        or candidate.startswith("//")
        or "\\" in candidate
        or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate)
    ):
        return "/"
    return candidate


__all__ = ["CSRF_FIELD", "Dashboard"]
