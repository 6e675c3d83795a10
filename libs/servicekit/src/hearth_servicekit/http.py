"""``/healthz``, ``/readyz`` and ``/metrics``, answered by every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hearth_servicekit.metrics import ServiceMetrics

ReadinessProbe = Callable[[], Awaitable[bool]]
PROBE_TIMEOUT_S = 2.0


async def check_readiness(probes: Mapping[str, ReadinessProbe]) -> dict[str, bool]:
    async def run(probe: ReadinessProbe) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                return await probe()
        except Exception:  # a probe that raises or hangs means "not ready"
            return False

    names = list(probes)
    results = await asyncio.gather(*(run(probes[n]) for n in names))
    return dict(zip(names, results, strict=True))


def add_health_routes(
    app: web.Application,
    *,
    service: str,
    metrics: ServiceMetrics,
    probes: Mapping[str, ReadinessProbe],
    details: Callable[[], Mapping[str, object]] | None = None,
) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive", "service": service})

    async def readyz(_: web.Request) -> web.Response:
        checks = await check_readiness(probes)
        ready = all(checks.values())
        body: dict[str, object] = {
            "status": "ready" if ready else "not ready",
            "service": service,
            "checks": checks,
        }
        if details:
            body.update(details())
        return web.json_response(body, status=200 if ready else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)


async def start_http(
    app: web.Application, host: str, port: int, *, reuse_port: bool = False
) -> tuple[web.AppRunner, int]:
    """Serve ``app``; returns the runner and the bound port (useful with port 0).

    ``reuse_port`` (SO_REUSEPORT) lets several processes listen on one port, the kernel
    spreading new connections over them; without it a second process is refused the port.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=reuse_port or None)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
