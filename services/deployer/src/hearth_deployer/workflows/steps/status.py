"""The commit status on GitHub: pending when a deployment starts, its outcome when it
ends (only for GitHub repositories with a token, never for a dry run)."""

from __future__ import annotations

from typing import Protocol

from hearth_deployer.adapters.status import State
from hearth_deployer.domain import Deployment
from hearth_deployer.workflows.context import DeployContext
from hearth_events.catalogue import TargetSpec

TERMINAL_STATUS: dict[str, State] = {
    "DeploymentSucceeded": "success",
    "DeploymentFailed": "failure",
    "RollbackCompleted": "failure",
    "RollbackFailed": "error",
    "DeploymentCancelled": "error",
}


class StatusRun(Protocol):
    """Reads the repository, its token, the deployment's commit and outcome."""

    ctx: DeployContext
    spec: TargetSpec
    d: Deployment


async def report_status(run: StatusRun, state: State | None = None) -> None:
    ctx, d = run.ctx, run.d
    repo = ctx.repository(run.spec.repo)
    commit = d.commit
    if repo is None or not repo.token_secret or repo.provider != "github" or not commit:
        return
    if len(commit) < 40:
        return
    state = state or TERMINAL_STATUS.get(d.terminal or "")
    if state is None or d.dry_run:
        return
    token = (await ctx.secrets.get(repo.token_secret) or b"").decode()
    if not token:
        return
    url = f"{ctx.public_url.rstrip('/')}/deployments/{d.deployment_id}" if ctx.public_url else None
    await ctx.report_status(
        repo,
        commit,
        token=token,
        state=state,
        target=run.spec.name,
        description=_status_text(state, d.terminal),
        target_url=url,
    )


def _status_text(state: str, terminal: str | None) -> str:
    if state == "pending":
        return "deploying"
    return {
        "DeploymentSucceeded": "deployed",
        "DeploymentFailed": "deployment failed",
        "RollbackCompleted": "unhealthy: rolled back",
        "RollbackFailed": "rollback failed",
        "DeploymentCancelled": "cancelled",
    }.get(terminal or "", state)
