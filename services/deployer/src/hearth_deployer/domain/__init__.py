"""The deployer's aggregates and their rules (no I/O): the declared targets, each
target's queue, each deployment.

The aggregates are re-exported here under the names their stored events carry
(``hearth_deployer.domain:Deployment.Created`` and so on, from before this was a package),
and ``legacy`` teaches the store the old bookkeeping events.
"""

from __future__ import annotations

from hearth_deployer.domain import legacy
from hearth_deployer.domain.deployment import TERMINAL_EVENTS, Deployment
from hearth_deployer.domain.errors import IllegalTransition
from hearth_deployer.domain.ids import (
    KNOWN_HOSTS_ID,
    NAMESPACE,
    TARGETS_ID,
    deployment_uuid,
    line_uuid,
)
from hearth_deployer.domain.target_line import CI_RESULTS_KEPT, Restored, TargetLine
from hearth_deployer.domain.targets import TARGET_EVENTS, KnownHosts, TargetBook

__all__ = [
    "CI_RESULTS_KEPT",
    "KNOWN_HOSTS_ID",
    "NAMESPACE",
    "TARGETS_ID",
    "TARGET_EVENTS",
    "TERMINAL_EVENTS",
    "Deployment",
    "IllegalTransition",
    "KnownHosts",
    "Restored",
    "TargetBook",
    "TargetLine",
    "deployment_uuid",
    "legacy",
    "line_uuid",
]
