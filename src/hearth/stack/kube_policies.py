"""NetworkPolicies for Kubernetes: deny everything, then allow only the flows the
architecture names (services -> NATS and PostgreSQL, ingress to the query API and the
webhook gateway, devices' pushes to the device manager, routes between NATS servers) plus
DNS and the services' own reach outside the cluster (SSH hosts, Git, Home Assistant,
devices, notification targets)."""

from __future__ import annotations

from typing import Any

from hearth.stack.kube_devices import DEVICE_MANAGER, DEVICE_PORTS
from hearth.stack.kube_nats import CLIENT_PORT, NAMESPACE
from hearth.stack.natsconf import CLUSTER_PORT
from hearth.stack.services import SERVICES

POSTGRES_PORT = 5432
#: Services that reach out of the cluster: the deployer (SSH, Git, Home Assistant), the
#: gateway (polls Git), the device manager (devices, desired config in Git) and provisioner
#: (devices), the notifier (Apprise).
EXTERNAL = ("webhook-gw", "deployer", "device-manager", "provisioner", "notifier")


def component(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/component": name}


def _policy(name: str, pod: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    types = [t for t in ("Ingress", "Egress") if t.lower() in spec]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"podSelector": {"matchLabels": pod}, "policyTypes": types, **spec},
    }


def _from(*components: str) -> list[dict[str, Any]]:
    return [{"podSelector": {"matchLabels": component(c)}} for c in components]


def _port(port: int, protocol: str = "TCP") -> dict[str, Any]:
    return {"protocol": protocol, "port": port}


def network_policies() -> list[dict[str, Any]]:
    services = [s.name for s in SERVICES]
    nats_clients = [*services, "nats-init"]
    db_clients = [s.name for s in SERVICES if s.uses_database]
    everyone = {"app.kubernetes.io/name": "hearth"}
    policies = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": NAMESPACE},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        _policy(
            "dns",
            everyone,
            {
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                }
                            }
                        ],
                        "ports": [_port(53, "UDP"), _port(53)],
                    }
                ]
            },
        ),
        _policy(
            "nats",
            component("nats"),
            {
                "ingress": [
                    {"from": _from(*nats_clients), "ports": [_port(CLIENT_PORT)]},
                    {"from": _from("nats"), "ports": [_port(CLUSTER_PORT)]},
                ],
                "egress": [{"to": _from("nats"), "ports": [_port(CLUSTER_PORT)]}],
            },
        ),
        _policy(
            "postgres",
            component("postgres"),
            {"ingress": [{"from": _from(*db_clients), "ports": [_port(POSTGRES_PORT)]}]},
        ),
    ]
    for definition in SERVICES:
        egress: list[dict[str, Any]] = [{"to": _from("nats"), "ports": [_port(CLIENT_PORT)]}]
        if definition.uses_database:
            egress.append({"to": _from("postgres"), "ports": [_port(POSTGRES_PORT)]})
        if definition.name in EXTERNAL:
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
        spec: dict[str, Any] = {"egress": egress}
        if definition.name in ("query-api", "webhook-gw"):
            spec["ingress"] = [{"ports": [_port(definition.port)]}]
        if definition.name == DEVICE_MANAGER:  # from the devices, wherever they are
            spec["ingress"] = [{"ports": [_port(port, proto) for _, port, proto in DEVICE_PORTS]}]
        policies.append(_policy(definition.name, component(definition.name), spec))
    policies.append(
        _policy(
            "nats-init",
            component("nats-init"),
            {"egress": [{"to": _from("nats"), "ports": [_port(CLIENT_PORT)]}]},
        )
    )
    return policies
