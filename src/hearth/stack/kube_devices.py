"""What the device manager's pods need for devices on the LAN (Kubernetes): the ports Gen1
CoIoT pushes and sleeping Gen2+ devices' wake-ups arrive on, and a LoadBalancer Service whose
address goes into ``HEARTH_COIOT_PEER`` and ``HEARTH_WAKE_WS_URL`` (docs/deploy.md, "Shelly
devices")."""

from __future__ import annotations

from typing import Any

from hearth.stack.kube_nats import NAMESPACE

DEVICE_MANAGER = "device-manager"
#: (name, port, protocol): ``HEARTH_COIOT_PORT`` and ``HEARTH_WAKE_WS_PORT``.
DEVICE_PORTS = (("coiot", 5683, "UDP"), ("wake-ws", 8186, "TCP"))
_SETTINGS = {"coiot": "HEARTH_COIOT_PORT", "wake-ws": "HEARTH_WAKE_WS_PORT"}


def device_env() -> list[dict[str, Any]]:
    return [{"name": _SETTINGS[name], "value": str(port)} for name, port, _ in DEVICE_PORTS]


def device_container_ports() -> list[dict[str, Any]]:
    return [
        {"name": name, "containerPort": port, "protocol": proto}
        for name, port, proto in DEVICE_PORTS
    ]


def device_service(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "device-manager-devices", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "type": "LoadBalancer",
            "selector": labels,
            "ports": [
                {"name": name, "port": port, "targetPort": name, "protocol": proto}
                for name, port, proto in DEVICE_PORTS
            ],
        },
    }
