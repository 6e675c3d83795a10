"""The fleet's pages: every device (paged, filtered, counted by state), one device (live
status over SSE, drift diff, buttons that ask the device manager), firmware rollouts.

Reads and buttons go through the API's handlers, like every other page. A device page
refreshes its body when an event about the device arrives (app.js turns the feed's device
events into ``hearth:device``) and its live panel from ``/devices/{id}/live``, which
sends the live status from ``hearth_device_status`` whenever it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hearth_query_api.adapters.samples import device_samples
from hearth_query_api.domain.samples import BUCKET_S
from hearth_query_api.entrypoints.api.device_models import AdoptIn, RestoreIn, RolloutIn
from hearth_query_api.entrypoints.api.device_queries import DeviceQuery, RolloutQuery
from hearth_query_api.entrypoints.api.framework import Call
from hearth_query_api.entrypoints.api.queries import PageQuery
from hearth_query_api.entrypoints.dashboard.fleet_charts import (
    line_chart,
    online_strip,
    presence,
    signal_quality,
)

#: How often an open device page's live panel reads the KV bucket (a read per page).
LIVE_POLL_S = 1.0
KEEPALIVE_S = 15.0
ACTIONS = {
    "apply": "apply_device",
    "import": "import_device",
    "backup": "backup_device",
}


class FleetPages:
    def __init__(self, dashboard: Any) -> None:
        self.d = dashboard
        self.api = dashboard.endpoints

    def install(self, app: web.Application) -> None:
        add, page, form = app.router.add_route, self.d.page, self.d.form
        add("GET", "/devices", page(self.devices))
        add("GET", "/fragments/devices", page(self.devices_fragment))
        add("GET", "/fragments/device-counts", page(self.counts_fragment))
        add("GET", "/devices/{id}", page(self.device))
        add("GET", "/fragments/devices/{id}", page(self.device_fragment))
        add("GET", "/devices/{id}/live", page(self.live))
        for action in ACTIONS:
            add("POST", f"/devices/{{id}}/{action}", form(self.action(action), "operator"))
        add("POST", "/devices/{id}/restore", form(self.restore, "operator"))
        add("POST", "/devices/{id}/firmware", form(self.firmware, "operator"))
        add("POST", "/devices/{id}/adopt", form(self.adopt, "admin"))
        add("POST", "/devices/{id}/release", form(self.release, "admin"))
        add("GET", "/rollouts", page(self.rollouts))
        add("GET", "/rollouts/{id}", page(self.rollout))

    def render(self, request: web.Request, name: str, **context: Any) -> web.Response:
        response: web.Response = self.d.render(request, name, **context)
        return response

    # -- the fleet -------------------------------------------------------------------
    async def _fleet_context(self, request: web.Request, call: Call) -> dict[str, Any]:
        query = self.d.parse(DeviceQuery, dict(request.query))
        page = await self.api.list_devices(Call(request, call.principal, {}, query))
        counts = await self.api.count_devices(call)
        shown = {k: v for k, v in query.model_dump(exclude_none=True).items() if k != "cursor"}
        shown.pop("limit", None)
        return {"page": page, "query": query, "counts": counts, "filters": shown}

    async def devices(self, request: web.Request, call: Call) -> web.StreamResponse:
        return self.render(request, "devices.html", **await self._fleet_context(request, call))

    async def devices_fragment(self, request: web.Request, call: Call) -> web.StreamResponse:
        context = await self._fleet_context(request, call)
        return self.render(request, "_devices.html", **context)

    async def counts_fragment(self, request: web.Request, call: Call) -> web.StreamResponse:
        counts = await self.api.count_devices(call)
        return self.render(request, "_device_counts.html", counts=counts)

    # -- one device ------------------------------------------------------------------
    async def _device_context(self, request: web.Request, call: Call) -> dict[str, Any]:
        device = await self.api.get_device(call)
        history = await self.api.device_history(
            Call(request, call.principal, call.path, PageQuery(limit=20))
        )
        now = datetime.now(UTC)
        day = now - timedelta(days=1)
        async with self.d.pool().acquire() as conn:
            changes = await presence(conn, device.device_id, day)
            samples = await device_samples(conn, device.device_id, day)
        power = [(r["bucket"], r["power_w"]) for r in samples]
        signal = [(r["bucket"], r["rssi_dbm"]) for r in samples]
        signal_chart = line_chart(signal, day, now, bucket_s=BUCKET_S)
        return {
            "device": device,
            "history": history.items,
            "online": online_strip(changes, day, now, width=480, height=18),
            "power": line_chart(power, day, now, bucket_s=BUCKET_S, floor=0.0),
            "power_peak": max(
                (r["power_max_w"] for r in samples if r["power_max_w"] is not None), default=None
            ),
            "signal": signal_chart,
            "quality": signal_quality(signal_chart.latest) if signal_chart else None,
        }

    async def device(self, request: web.Request, call: Call, **extra: Any) -> web.StreamResponse:
        context = await self._device_context(request, call)
        return self.render(request, "device.html", **context, **extra)

    async def device_fragment(self, request: web.Request, call: Call) -> web.StreamResponse:
        return self.render(request, "_device.html", **await self._device_context(request, call))

    async def live(self, request: web.Request, call: Call) -> web.StreamResponse:
        """Server-Sent Events: the device's live panel, rendered, each time it changes."""
        device = await self.api.get_device(call)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        sent, quiet = None, 0.0
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            while not self.api.broadcaster.closed:
                status = await self.api.live.get(device.device_id) if self.api.live else None
                if status != sent:
                    html = self.d.templates.get_template("_device_live.html").render(live=status)
                    await response.write(f"event: status\ndata: {_one_line(html)}\n\n".encode())
                    sent, quiet = status, 0.0
                elif quiet >= KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")
                    quiet = 0.0
                await asyncio.sleep(LIVE_POLL_S)
                quiet += LIVE_POLL_S
        return response

    # -- buttons ---------------------------------------------------------------------
    def action(self, name: str) -> Any:
        async def run(request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
            del fields
            answer = await getattr(self.api, ACTIONS[name])(call)
            return await self.device(request, call, notice=answer)

        return run

    async def restore(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        body = self.d.parse(RestoreIn, {"backup_id": fields.get("backup_id")})
        answer = await self.api.restore_device(Call(request, call.principal, call.path, None, body))
        return await self.device(request, call, notice=answer)

    async def firmware(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        del fields
        device = await self.api.get_device(call)
        body = RolloutIn(device_ids=[device.device_id])
        answer = await self.api.start_rollout(Call(request, call.principal, {}, None, body))
        return await self.device(request, call, notice=answer)

    async def adopt(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        body = self.d.parse(AdoptIn, {"name": (fields.get("name") or "").strip() or None})
        answer = await self.api.adopt_device(Call(request, call.principal, call.path, None, body))
        return await self.device(request, call, notice=answer)

    async def release(self, request: web.Request, call: Call, fields: Any) -> web.StreamResponse:
        del fields
        answer = await self.api.release_device(call)
        return await self.device(request, call, notice=answer)

    # -- rollouts --------------------------------------------------------------------
    async def rollouts(self, request: web.Request, call: Call) -> web.StreamResponse:
        query = self.d.parse(RolloutQuery, dict(request.query))
        page = await self.api.list_rollouts(Call(request, call.principal, {}, query))
        return self.render(request, "rollouts.html", page=page, query=query)

    async def rollout(self, request: web.Request, call: Call) -> web.StreamResponse:
        rollout = await self.api.get_rollout(call)
        waves: dict[int, list[Any]] = {}
        for device in rollout.devices:
            waves.setdefault(device.wave, []).append(device)
        return self.render(request, "rollout.html", rollout=rollout, waves=waves)


def _one_line(html: str) -> str:
    """SSE data is line-based: the fragment without its newlines."""
    return " ".join(line.strip() for line in html.splitlines() if line.strip())
