"""``HEARTH_WEBHOOK_WORKERS``: the webhook gateway as several processes on its one port."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from hearth.cli.up import MAX_WEBHOOK_WORKERS, up
from hearth.stack.layout import DataDir
from hearth.stack.services import SERVICES, instances
from hearth.stack.up import Stack, UpOptions, record_state, service_env
from hearth_webhook_gw.settings import MAX_WORKERS, WebhookSettings


def test_workers_share_their_instance_port_and_are_supervised_apart() -> None:
    three = instances(1, workers=3)
    gateways = [i for i in three if i.definition.name == "webhook-gw"]
    assert [i.name for i in gateways] == ["webhook-gw", "webhook-gw-w2", "webhook-gw-w3"]
    assert {i.port for i in gateways} == {8090}
    assert len(three) == len(SERVICES) + 2, "only the gateway has workers"
    cluster = [i for i in instances(2, workers=2) if i.definition.name == "webhook-gw"]
    assert [(i.name, i.port) for i in cluster] == [
        ("webhook-gw", 8090),
        ("webhook-gw-w2", 8090),
        ("webhook-gw-2", 8190),
        ("webhook-gw-2-w2", 8190),
    ]


def test_each_worker_knows_its_number_and_has_its_own_instance(tmp_path: Path) -> None:
    stack = Stack(UpOptions(data_dir=tmp_path, webhook_workers=2), DataDir(tmp_path), "n", "")
    gateway = next(s for s in SERVICES if s.name == "webhook-gw")
    first, second = service_env(stack, {}, gateway), service_env(stack, {}, gateway, 1, 2)
    assert first["HEARTH_HTTP_PORT"] == second["HEARTH_HTTP_PORT"] == "8090"
    assert (first["HEARTH_WEBHOOK_WORKER"], second["HEARTH_WEBHOOK_WORKER"]) == ("1", "2")
    assert first["HEARTH_WEBHOOK_WORKERS"] == second["HEARTH_WEBHOOK_WORKERS"] == "2"
    assert first["HEARTH_INSTANCE"] != second["HEARTH_INSTANCE"]
    assert first["HEARTH_DATA_DIR"] != second["HEARTH_DATA_DIR"]
    deployer = next(s for s in SERVICES if s.name == "deployer")
    assert "HEARTH_WEBHOOK_WORKER" not in service_env(stack, {}, deployer)
    # `hearth status` probes each port once: the workers share the first's entry.
    stack.layout.root.mkdir(parents=True, exist_ok=True)
    assert "webhook-gw-w2" not in record_state(stack, 1)["services"]


def test_the_gateway_refuses_a_worker_number_beyond_the_count() -> None:
    assert WebhookSettings(webhook_workers=3, webhook_worker=3).polls is False
    assert WebhookSettings().polls is True
    with pytest.raises(ValidationError, match="HEARTH_WEBHOOK_WORKER is at most"):
        WebhookSettings(webhook_workers=2, webhook_worker=3)
    assert MAX_WEBHOOK_WORKERS == MAX_WORKERS


@pytest.mark.parametrize("value", ["0", "many", str(MAX_WORKERS + 1)])
def test_hearth_up_refuses_a_worker_count_it_cannot_run(value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        up, [], env={"HEARTH_WEBHOOK_WORKERS": value, "HEARTH_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code != 0
    assert "HEARTH_WEBHOOK_WORKERS" in result.output
