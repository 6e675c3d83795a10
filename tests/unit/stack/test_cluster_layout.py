"""``hearth up --cluster``: which processes, on which ports, and which data dirs it refuses."""

from __future__ import annotations

import json
from pathlib import Path

from hearth.stack.cluster import layout_problem, node_ports, replicas_for
from hearth.stack.layout import DataDir, nats_servers
from hearth.stack.services import SERVICES, instances
from hearth.stack.up import Stack, UpOptions, service_env


def test_a_cluster_runs_two_of_each_service_but_one_provisioner() -> None:
    assert [i.name for i in instances(1)] == [s.name for s in SERVICES]
    two = {i.name: i.port for i in instances(2)}
    assert two["deployer-2"] == two["deployer"] + 100
    assert two["query-api-2"] == 8180 and two["webhook-gw-2"] == 8190
    assert "provisioner-2" not in two
    assert len(two) == 2 * len(SERVICES) - 1
    assert len(set(two.values())) == len(two), "every instance on its own port"


def test_a_second_instance_has_its_own_port_data_dir_and_instance_name(tmp_path: Path) -> None:
    stack = Stack(
        UpOptions(data_dir=tmp_path, cluster=3), DataDir(tmp_path), "nats://a,nats://b", ""
    )
    deployer = next(s for s in SERVICES if s.name == "deployer")
    first, second = service_env(stack, {}, deployer), service_env(stack, {}, deployer, 2)
    assert first["HEARTH_INSTANCE"] != second["HEARTH_INSTANCE"]
    assert first["HEARTH_DATA_DIR"] != second["HEARTH_DATA_DIR"]
    assert (first["HEARTH_HTTP_PORT"], second["HEARTH_HTTP_PORT"]) == ("8181", "8281")
    assert second["HEARTH_NATS_URL"] == "nats://a,nats://b"
    assert nats_servers(" nats://a , nats://b,") == ["nats://a", "nats://b"]


def test_node_ports_are_one_block_and_replicas_at_most_three() -> None:
    assert node_ports(4223, 3) == ([4223, 4224, 4225], [4226, 4227, 4228])
    assert node_ports(4223, 1) == ([4223], [4224])
    assert [replicas_for(n) for n in (1, 3, 5)] == [1, 3, 3]


def test_a_data_dir_keeps_the_nats_layout_it_was_made_with(tmp_path: Path) -> None:
    nats_dir = tmp_path / "nats"
    assert layout_problem(nats_dir, 1) is None
    assert layout_problem(nats_dir, 3) is None
    (nats_dir / "jetstream").mkdir(parents=True)
    assert layout_problem(nats_dir, 1) is None
    assert "start it without --cluster" in str(layout_problem(nats_dir, 3))
    (nats_dir / "jetstream").rmdir()
    (nats_dir / "cluster.json").write_text(json.dumps({"nodes": 3}))
    assert layout_problem(nats_dir, 3) is None
    assert "`hearth up --cluster 3`" in str(layout_problem(nats_dir, 1))
    assert "not 5; start it with `--cluster 3`" in str(layout_problem(nats_dir, 5))
