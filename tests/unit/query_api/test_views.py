"""What the deployment page shows of a rollback's steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from hearth_query_api.entrypoints.dashboard.views import step_rows

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def step(kind: str, ms: int) -> SimpleNamespace:
    return SimpleNamespace(type=kind, at=T0 + timedelta(milliseconds=ms))


def test_a_rollbacks_request_is_named_and_no_step_took_negative_time() -> None:
    # The request is stored before the deployer announces the deployment (requested_at).
    detail = SimpleNamespace(
        requested_at=T0 + timedelta(milliseconds=128),
        steps=[
            step("RollbackRequested", 0),
            step("DeploymentStarted", 300),
            step("RollbackCompleted", 1300),
        ],
    )
    rows = step_rows(detail)
    assert [r.label for r in rows] == ["rollback requested", "started", "rolled back"]
    assert [r.took_ms for r in rows] == [None, 300, 1000]
