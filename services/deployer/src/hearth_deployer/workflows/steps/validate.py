"""Validate: the fetched tree's YAML, includes and secrets (``ConfigValidated`` or
``ValidationFailed``)."""

from __future__ import annotations

from typing import Any, Protocol

import yaml

from hearth_deployer.domain.fetched import FetchedTree
from hearth_deployer.domain.plan import TEXT_LIMIT_BYTES
from hearth_deployer.domain.target_spec import builtin_ignored
from hearth_deployer.domain.validation.cache import ScanKey, ValidationKey
from hearth_deployer.domain.validation.tree import SECRETS_FILE
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.workflows.context import DeployContext
from hearth_deployer.workflows.steps.base import Recording, StepFailed
from hearth_events.catalogue import ConfigValidated, ValidationFailed


class ValidateRun(Recording, Protocol):
    """Reads the target's ignore list and, for a Home Assistant tree without its own
    ``secrets.yaml``, the names in the host's."""

    ctx: DeployContext
    ignore: tuple[str, ...]

    async def host(self) -> RemoteHost: ...


async def validate(run: ValidateRun, tree: FetchedTree) -> None:
    if run.d.is_validated:
        return
    spec = run.spec
    secret_names = None
    if spec.kind == "homeassistant" and not (tree.root / SECRETS_FILE).exists():
        secret_names = await _target_secret_names(run)
    # Parsing a few hundred files takes a while: off the event loop, and once per
    # distinct tree and inputs, however many targets of a fan-out deploy it.
    key = ValidationKey(
        scan=ScanKey(spec.repo, tree.commit, spec.subdirectory, run.ignore),
        secret_names=frozenset(secret_names) if secret_names is not None else None,
        config_roots=(spec.remote_path, *spec.config_roots),
    )
    report = await run.ctx.validations.validate(key, tree.root)
    skipped = builtin_ignored(spec, report.ignored)
    if skipped:
        run.log(skipped, step="validate")
    for warning in report.warnings:
        run.log(issue_text(warning), step="validate", level="warning")
    if not report.ok:
        for error in report.errors:
            run.log(issue_text(error), step="validate", level="error")
        await run.write(
            run.app.validation_failed,
            ValidationFailed(**run.ids(), errors=tuple(report.errors)),
        )
        raise StepFailed(
            "validate",
            f"{len(report.errors)} problem(s), first: {issue_text(report.errors[0])}",
        )
    run.log(f"{len(report.files)} files are valid", step="validate")
    await run.write(
        run.app.validated,
        ConfigValidated(
            **run.ids(), files_checked=len(report.files), warnings=tuple(report.warnings)
        ),
    )


async def _target_secret_names(run: ValidateRun) -> set[str] | None:
    try:
        found = await (await run.host()).read_files(
            run.spec.remote_path, [SECRETS_FILE], limit=TEXT_LIMIT_BYTES
        )
    except Exception as exc:
        raise StepFailed("validate", f"cannot read the target's {SECRETS_FILE}: {exc}") from exc
    data = found.get(SECRETS_FILE)
    if data is None:
        return set()
    try:
        loaded = yaml.safe_load(data)
    except yaml.YAMLError:
        return None
    return {str(k) for k in loaded} if isinstance(loaded, dict) else set()


def issue_text(issue: Any) -> str:
    where = issue.path
    if issue.line is not None:
        where += f":{issue.line}"
        if issue.column is not None:
            where += f":{issue.column}"
    return f"{where}: {issue.message}"
