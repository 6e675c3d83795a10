"""``hearth apply``: send the declarations of hearth.yaml to the services that own them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hearth.config import HearthConfig

Request = Callable[[str, dict[str, Any]], dict[str, Any]]


def apply_config(config: HearthConfig, request: Request, *, dry_run: bool) -> list[dict[str, Any]]:
    """One result per section: ok, the changes (or the error), in the order sent."""
    notifications = config.notifications
    source = config.device_config
    repository = config.repository(source.repo) if source is not None else None
    # Repositories go last. Registering one sets off its first poll, and that push is
    # acted on only by the targets, devices and routes that exist when it arrives: with
    # them declared first, the first commit deploys (it was once dropped when the push
    # reached the deployer before the target did).
    sections: list[tuple[str, str, dict[str, Any]]] = [
        (
            "notifications",
            "hearth.cmd.notify.ApplyRoutes",
            {
                "routes": [r.model_dump(mode="json") for r in notifications.routes],
                "default_urls": list(notifications.default_urls),
                "include_success": notifications.include_success,
                "offline_after_s": notifications.offline_after_s,
            },
        ),
        (
            "targets",
            "hearth.cmd.target.ApplyTargets",
            {"targets": [t.model_dump(mode="json") for t in config.targets]},
        ),
        (
            "devices",
            "hearth.cmd.device.ApplyDevices",
            {
                "devices": [d.model_dump(mode="json") for d in config.devices],
                "device_config": source.model_dump(mode="json") if source else None,
                "repository": repository.model_dump(mode="json") if repository else None,
            },
        ),
        (
            "repositories",
            "hearth.cmd.git.ApplyRepositories",
            {"repositories": [r.model_dump(mode="json") for r in config.repositories]},
        ),
    ]
    return [
        {
            "section": section,
            **request(subject, {**body, "dry_run": dry_run, "actor": "hearth apply"}),
        }
        for section, subject, body in sections
    ]


def change_lines(result: dict[str, Any]) -> list[str]:
    """What one section's reply changed, a line each: the declarations, then the
    deployments a new target's declaration set off (its branch's newest push)."""
    lines = [f"{c['type']} {c['name']}" for c in result.get("changes", [])]
    lines += [f"deploys {d['commit'][:12]} to {d['target']}" for d in result.get("deploying", [])]
    return lines
