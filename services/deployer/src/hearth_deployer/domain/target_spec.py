"""A declared target's rules: the ``ApplyTargets`` command, what makes a target unusable,
which paths it never deploys over, where its backups live."""

from __future__ import annotations

from posixpath import isabs, normpath

from hearth_deployer.domain.paths import is_ignored
from hearth_events.catalogue import TargetSpec
from hearth_events.credentials import target_problems
from hearth_servicekit.declarations import ApplyCommand

#: Never deployed over or deleted on a Home Assistant target: its runtime state.
HOMEASSISTANT_IGNORES = (
    ".storage/",
    ".cloud/",
    "deps/",
    "tts/",
    "backups/",
    ".HA_VERSION",
    "home-assistant_v2.db*",
    "home-assistant.log*",
    "*.db-shm",
    "*.db-wal",
)


class ApplyTargets(ApplyCommand):
    targets: list[TargetSpec]


def ignored_paths(spec: TargetSpec) -> tuple[str, ...]:
    defaults = HOMEASSISTANT_IGNORES if spec.kind == "homeassistant" else ()
    return (*defaults, *spec.ignore)


def builtin_ignored(spec: TargetSpec, ignored: list[str], shown: int = 10) -> str | None:
    """A log line naming the repository files the built-in Home Assistant list left out."""
    if spec.kind != "homeassistant":
        return None
    skipped = [p for p in ignored if is_ignored(p, HOMEASSISTANT_IGNORES)]
    if not skipped:
        return None
    names = ", ".join(skipped[:shown])
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return (
        f"skipped {len(skipped)} file{'s' if len(skipped) != 1 else ''} by the built-in "
        "Home Assistant ignore list: "
        f"{names}{more} (Home Assistant's own state, never deployed over; the list is "
        f"{' '.join(HOMEASSISTANT_IGNORES)})"
    )


def backup_dir(spec: TargetSpec) -> str:
    """Where a target's backups live: beside its root, never inside it."""
    if spec.backup_path:
        return spec.backup_path
    root = normpath(spec.remote_path)
    parent, _, name = root.rpartition("/")
    return f"{parent or ''}/.hearth-backups/{name}"


def check_target(spec: TargetSpec) -> list[str]:
    """Every reason a declared target cannot work, each naming the target."""
    problems = []
    name = spec.name
    if not isabs(spec.remote_path) or normpath(spec.remote_path) == "/":
        problems.append(f"target {name}: remote_path must be an absolute directory other than /")
    if spec.backup_path is not None:
        backups = normpath(spec.backup_path)
        root = normpath(spec.remote_path)
        if not isabs(backups):
            problems.append(f"target {name}: backup_path must be absolute")
        elif backups == root or backups.startswith(root.rstrip("/") + "/"):
            problems.append(f"target {name}: backup_path must lie outside remote_path")
    for root in spec.config_roots:
        if not isabs(root) or normpath(root) == "/":
            problems.append(
                f"target {name}: config_roots entry {root!r} must be an absolute directory "
                "other than /"
            )
    if spec.kind == "homeassistant" and not (spec.ha_url and spec.ha_token_secret):
        problems.append(
            f"target {name}: a homeassistant target needs ha_url and ha_token_secret "
            "(a long-lived access token stored with `hearth secret set`)"
        )
    if spec.known_host_key is None and not spec.trust_on_first_use:
        problems.append(
            f"target {name}: give known_host_key (the line from `ssh-keyscan -t ed25519 "
            f"{spec.host}`) or set trust_on_first_use: true"
        )
    if spec.health_check is not None and not spec.health_check.strip():
        problems.append(f"target {name}: health_check is empty")
    problems.extend(problem for _, problem in target_problems(spec))
    return problems
