"""``hearth apply``: send the declarations of hearth.yaml to the services that own them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hearth.config import HearthConfig

Request = Callable[[str, dict[str, Any]], dict[str, Any]]


def apply_config(config: HearthConfig, request: Request, *, dry_run: bool) -> list[dict[str, Any]]:
    """One result per section: ok, the changes (or the error), in the order sent."""
    results = []
    repositories = request(
        "hearth.cmd.git.ApplyRepositories",
        {
            "repositories": [r.model_dump(mode="json") for r in config.repositories],
            "dry_run": dry_run,
            "actor": "hearth apply",
        },
    )
    results.append({"section": "repositories", **repositories})
    notifications = config.notifications
    routes = request(
        "hearth.cmd.notify.ApplyRoutes",
        {
            "routes": [r.model_dump(mode="json") for r in notifications.routes],
            "default_urls": list(notifications.default_urls),
            "include_success": notifications.include_success,
            "offline_after_s": notifications.offline_after_s,
            "dry_run": dry_run,
            "actor": "hearth apply",
        },
    )
    results.append({"section": "notifications", **routes})
    targets = request(
        "hearth.cmd.target.ApplyTargets",
        {
            "targets": [t.model_dump(mode="json") for t in config.targets],
            "dry_run": dry_run,
            "actor": "hearth apply",
        },
    )
    results.append({"section": "targets", **targets})
    return results
