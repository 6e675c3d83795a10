"""docs/permissions.md is generated from the one declaration per service in
hearth_events.permissions and is fresh; no service user may declare or destroy."""

from __future__ import annotations

from pathlib import Path

from hearth_events.jetstream import CONSUMERS
from hearth_events.permissions import SERVICE_USERS, SERVICES, render_table, secret_watch

ROOT = Path(__file__).resolve().parents[3]


def test_the_permission_table_in_docs_is_fresh() -> None:
    assert (ROOT / "docs" / "permissions.md").read_text() == render_table(), (
        "stale docs/permissions.md; run `uv run python -m hearth_events.permissions --write`"
    )


def test_no_service_may_declare_or_destroy() -> None:
    for user in SERVICE_USERS.values():
        for subject in user.publish_allow:
            if subject.startswith("$JS.API") and subject.endswith(">"):
                # Reads of keys, or a watch whose filter (the own scope) the server checks.
                assert subject.startswith("$JS.API.DIRECT.GET.KV_") or subject == secret_watch(
                    user.name
                ), subject
            for verb in ("UPDATE", "DELETE", "PURGE", "SNAPSHOT", "RESTORE", "DURABLE"):
                assert f".{verb}." not in subject, subject


def test_every_durable_belongs_to_exactly_one_service() -> None:
    owners = [c for s in SERVICES.values() for c in s.consumers]
    assert sorted(owners) == sorted(CONSUMERS)


def test_each_service_uses_only_what_its_permissions_declare() -> None:
    from hearth_deployer.bootstrap import Deployer
    from hearth_device_manager.bootstrap import DeviceManager
    from hearth_notifier.bootstrap import Notifier
    from hearth_provisioner.bootstrap import Provisioner
    from hearth_query_api.bootstrap import QueryApi
    from hearth_webhook_gw.bootstrap import WebhookGateway

    services = (Deployer, DeviceManager, Notifier, Provisioner, QueryApi, WebhookGateway)
    assert {s.name for s in services} == set(SERVICES)
    for service in services:
        access = SERVICES[service.name]
        assert set(service.consumers) == set(access.consumers), service.name
        secrets = {"hearth_secrets"} if access.secrets else set()
        # A service that may read its scope of secrets need not open the bucket (yet).
        assert set(service.buckets) - secrets == set(access.writes + access.reads), service.name
        assert set(service.buckets) & {"hearth_secrets"} <= secrets, service.name
