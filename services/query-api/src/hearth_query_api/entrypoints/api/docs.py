"""Interactive API docs at ``/api/docs``: Swagger UI over ``/api/openapi.json``, offline.

Swagger UI's files come from the ``swagger-ui-py`` wheel (no CDN: a homelab may have no
internet). Only the two files the page needs are served. Signed in to the dashboard, a
reader can try any GET at once (the session cookie); changes need a token (Authorize).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiohttp import web

DOCS = "/api/docs"
FILES = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css"}

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>API · Hearth</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <style>
    body { margin: 0; font-family: system-ui, sans-serif; }
    .hearth-bar { display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1rem;
                  background: #1f2937; color: #f9fafb; }
    .hearth-bar a { color: #f9fafb; }
    .hearth-bar .brand { font-weight: 700; text-decoration: none; }
    .hearth-bar small { color: #d1d5db; }
  </style>
</head>
<body>
  <header class="hearth-bar">
    <a class="brand" href="/">Hearth</a><span>API</span>
    <small>Signed in to the dashboard, GETs work as they are; for changes, Authorize with
      an API token. <a href="/api/openapi.json">openapi.json</a></small>
  </header>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/api/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      docExpansion: "list",
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
    });
  </script>
</body>
</html>
"""


def swagger_ui_dir() -> Path | None:
    """Where the wheel keeps Swagger UI's files, found without importing the package."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return static if all((static / name).is_file() for name in FILES) else None


def install_docs(app: web.Application) -> None:
    static = swagger_ui_dir()

    async def page(_: web.Request) -> web.Response:
        if static is None:
            return web.Response(
                status=503,
                text="Swagger UI's files are missing: install swagger-ui-py. "
                "The API document itself is at /api/openapi.json.",
            )
        return web.Response(text=PAGE, content_type="text/html")

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if static is None or name not in FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(
            static / name,
            headers={"Content-Type": FILES[name], "Cache-Control": "public, max-age=86400"},
        )

    app.router.add_get(DOCS, page)
    app.router.add_get(DOCS + "/{name}", asset)
