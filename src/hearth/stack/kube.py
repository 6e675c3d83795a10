"""Hearth's Kubernetes manifests (``deploy/k8s/``), generated so that they never drift from
the services (:data:`hearth.stack.services.SERVICES`) and the bus users
(:mod:`hearth_events.permissions`). ``uv run python deploy/k8s/generate.py`` rewrites them;
``--secrets`` prints the Secrets filled with fresh passwords and the scope keys derived from
``$HEARTH_SECRET_KEY`` (pipe it to ``kubectl apply -f -``; never commit it)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hearth.stack.kube_devices import (
    DEVICE_MANAGER,
    device_container_ports,
    device_env,
    device_service,
)
from hearth.stack.kube_nats import (
    CLIENT_PORT,
    NAMESPACE,
    NATS,
    PASSWORDS_SECRET,
    client_urls,
    nats_manifests,
)
from hearth.stack.kube_policies import POSTGRES_PORT, network_policies
from hearth.stack.natsconf import ROUTE_PASSWORD_VARIABLE, password_variable
from hearth.stack.services import SERVICES, ServiceDef
from hearth_events.permissions import all_users

SCOPE_KEYS_SECRET = "hearth-scope-keys"  # noqa: S105 (a Secret's name)
DATABASE_SECRET = "hearth-database"  # noqa: S105 (a Secret's name)
POSTGRES = "hearth-postgres"
PLACEHOLDER = "REPLACE_ME"
#: Instances per Deployment: two, so one may restart or move while the other works; the
#: provisioner is one agent for the site it runs at (see its DaemonSet variant).
REPLICAS = 2
SINGLE = ("provisioner",)
#: Requests: a service's resident size once its code is loaded (65-94 MiB measured) plus its
#: connections and caches; limits leave room for a burst (a projection rebuild, a fan-out to
#: many targets, webhook bodies of up to 25 MiB each in flight). See docs/deploy.md.
RESOURCES = {
    "requests": {"cpu": "50m", "memory": "160Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
WIDE_RESOURCES = {  # the query API (projections, the dashboard) and the gateway (bodies)
    "requests": {"cpu": "100m", "memory": "192Mi"},
    "limits": {"cpu": "2", "memory": "1Gi"},
}
KUSTOMIZATION = [
    "namespace.yaml",
    "config.yaml",
    "nats.yaml",
    "postgres.yaml",
    "init-job.yaml",
    "services.yaml",
    "network-policies.yaml",
]


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "hearth", "app.kubernetes.io/component": component}


def image(service: str) -> str:
    """Built from the repository's Dockerfile; set your registry with kustomize ``images:``."""
    return f"hearth/{service}:latest"


def scope_variable(service: str) -> str:
    return "HEARTH_SCOPE_KEY_" + service.upper().replace("-", "_")


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def service_env(definition: ServiceDef) -> list[dict[str, Any]]:
    """Only this service's own credentials: its NATS user, its scope key, the database."""
    env: list[dict[str, Any]] = [
        {"name": "HEARTH_NATS_USER", "value": definition.name},
        _secret_env("HEARTH_NATS_PASSWORD", PASSWORDS_SECRET, password_variable(definition.name)),
        {"name": "HEARTH_HTTP_PORT", "value": str(definition.port)},
        {"name": "HEARTH_INSTANCE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    if definition.uses_database:
        env.append(_secret_env("HEARTH_DATABASE_URL", DATABASE_SECRET, "HEARTH_DATABASE_URL"))
    if definition.uses_secrets:
        env.append(
            _secret_env("HEARTH_SCOPE_KEY", SCOPE_KEYS_SECRET, scope_variable(definition.name))
        )
    if definition.name == DEVICE_MANAGER:
        env += device_env()
    return env


def _probe(path: str, port: int, period: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 3}


def pod_spec(definition: ServiceDef) -> dict[str, Any]:
    wide = definition.name in ("query-api", "webhook-gw")
    ports: list[dict[str, Any]] = [{"name": "http", "containerPort": definition.port}]
    if definition.name == DEVICE_MANAGER:
        ports += device_container_ports()
    container = {
        "name": definition.name,
        "image": image(definition.name),
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": "hearth-env"}}],
        "env": service_env(definition),
        "startupProbe": {**_probe("/healthz", definition.port, 5), "failureThreshold": 60},
        "livenessProbe": {**_probe("/healthz", definition.port, 10), "failureThreshold": 6},
        "readinessProbe": _probe("/readyz", definition.port, 5),
        "resources": WIDE_RESOURCES if wide else RESOURCES,
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/hearth"}],
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    return {
        "terminationGracePeriodSeconds": 30,  # HEARTH_SHUTDOWN_GRACE_S is 20
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
        "containers": [container],
        # Caches only (Git mirrors, fetched trees): the state lives in NATS and PostgreSQL.
        "volumes": [{"name": "data", "emptyDir": {}}],
    }


def service_manifests(definition: ServiceDef) -> list[dict[str, Any]]:
    lab = labels(definition.name)
    meta = {"name": definition.name, "namespace": NAMESPACE, "labels": lab}
    single = definition.name in SINGLE
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1 if single else REPLICAS,
                "selector": {"matchLabels": lab},
                "template": {"metadata": {"labels": lab}, "spec": pod_spec(definition)},
            },
        }
    ]
    if not single:  # one instance always up while nodes drain
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": definition.name, "namespace": NAMESPACE},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": lab}},
            }
        )
    if definition.name == DEVICE_MANAGER:
        out.append(device_service(lab))
    if definition.name in ("query-api", "webhook-gw"):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {
                    "selector": lab,
                    "ports": [{"name": "http", "port": definition.port, "targetPort": "http"}],
                },
            }
        )
    return out


def provisioner_daemonset() -> dict[str, Any]:
    """One provisioner agent per node labelled ``hearth.dev/wifi=true`` (see docs/deploy.md)."""
    definition = next(s for s in SERVICES if s.name == "provisioner")
    lab = labels("provisioner")
    spec = pod_spec(definition)
    spec["nodeSelector"] = {"hearth.dev/wifi": "true"}
    # The agent joins devices' own access points and the home Wi-Fi: it needs the node's
    # radios, so it shares the node's network (and its policies do not apply to it).
    spec["hostNetwork"] = True
    spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "provisioner", "namespace": NAMESPACE, "labels": lab},
        "spec": {
            "selector": {"matchLabels": lab},
            "template": {"metadata": {"labels": lab}, "spec": spec},
        },
    }


def config_manifests() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "hearth-env", "namespace": NAMESPACE},
            "data": {
                "HEARTH_NATS_URL": client_urls(),
                "HEARTH_LOG_FORMAT": "json",
                "HEARTH_PUBLIC_URL": "http://query-api.hearth.svc:8080",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "hearth-config", "namespace": NAMESPACE},
            "data": {"hearth.yaml": "# your hearth.yaml (see README.md, 'hearth.yaml')\n"},
        },
    ]


def postgres_manifests() -> list[dict[str, Any]]:
    lab = labels("postgres")
    container = {
        "name": "postgres",
        "image": "postgres:16-alpine",
        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
        "env": [
            {"name": "POSTGRES_USER", "value": "hearth"},
            {"name": "POSTGRES_DB", "value": "hearth"},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
            _secret_env("POSTGRES_PASSWORD", DATABASE_SECRET, "POSTGRES_PASSWORD"),
        ],
        "readinessProbe": {
            "exec": {"command": ["pg_isready", "-U", "hearth", "-d", "hearth"]},
            "periodSeconds": 5,
        },
        "livenessProbe": {
            "exec": {"command": ["pg_isready", "-U", "hearth", "-d", "hearth"]},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": POSTGRES, "namespace": NAMESPACE, "labels": lab},
            "spec": {"selector": lab, "ports": [{"name": "postgres", "port": POSTGRES_PORT}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": POSTGRES, "namespace": NAMESPACE, "labels": lab},
            "spec": {
                "serviceName": POSTGRES,
                "replicas": 1,
                "selector": {"matchLabels": lab},
                "template": {"metadata": {"labels": lab}, "spec": {"containers": [container]}},
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Gi"}},
                        },
                    }
                ],
            },
        },
    ]


def init_job() -> dict[str, Any]:
    """Declares every stream, bucket and consumer as admin, replicated on all three servers."""
    lab = labels("nats-init")
    container = {
        "name": "declare",
        "image": image("query-api"),
        "command": ["python", "-m", "hearth_events.declare"],
        "env": [
            {"name": "HEARTH_NATS_URL", "value": client_urls()},
            {"name": "HEARTH_NATS_USER", "value": "admin"},
            _secret_env("HEARTH_NATS_PASSWORD", PASSWORDS_SECRET, password_variable("admin")),
            {"name": "HEARTH_STREAM_REPLICAS", "value": "3"},
        ],
        "resources": RESOURCES,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "nats-init", "namespace": NAMESPACE, "labels": lab},
        "spec": {
            "backoffLimit": 20,  # retried until the NATS cluster has its quorum
            "template": {
                "metadata": {"labels": lab},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [container],
                },
            },
        },
    }


def secrets_manifests(value: Callable[[str, str], str]) -> list[dict[str, Any]]:
    """The three Secrets; ``value(secret, key)`` fills each key."""

    def secret(name: str, keys: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "type": "Opaque",
            "stringData": {k: value(name, k) for k in keys},
        }

    return [
        secret(
            PASSWORDS_SECRET,
            [password_variable(u.name) for u in all_users()] + [ROUTE_PASSWORD_VARIABLE],
        ),
        secret(SCOPE_KEYS_SECRET, [scope_variable(s.name) for s in SERVICES if s.uses_secrets]),
        secret(DATABASE_SECRET, ["POSTGRES_PASSWORD", "HEARTH_DATABASE_URL"]),
    ]


def filled_secrets(installation_key: str) -> list[dict[str, Any]]:
    from hearth_servicekit.secrets import scope_key

    postgres_password = secrets.token_urlsafe(24)

    def value(name: str, key: str) -> str:
        if name == SCOPE_KEYS_SECRET:
            service = key.removeprefix("HEARTH_SCOPE_KEY_").lower().replace("_", "-")
            return scope_key(installation_key, service)
        if key == "POSTGRES_PASSWORD":
            return postgres_password
        if key == "HEARTH_DATABASE_URL":
            return database_url(postgres_password)
        return secrets.token_urlsafe(24)

    return secrets_manifests(value)


def database_url(password: str) -> str:
    return f"postgresql://hearth:{password}@{POSTGRES}.{NAMESPACE}.svc:{POSTGRES_PORT}/hearth"


def files() -> dict[str, list[dict[str, Any]]]:
    """Each file of ``deploy/k8s`` (by its path there) and the objects in it, the
    kustomizations aside: the base's manifests, the Secrets' template, a variant's own."""
    app: list[dict[str, Any]] = []
    for definition in SERVICES:
        app += service_manifests(definition)
    return {
        "base/namespace.yaml": [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/name": "hearth"}},
            }
        ],
        "base/config.yaml": config_manifests(),
        "base/nats.yaml": nats_manifests(),
        "base/postgres.yaml": postgres_manifests(),
        "base/init-job.yaml": [init_job()],
        "base/services.yaml": app,
        "base/network-policies.yaml": network_policies(),
        "secrets.template.yaml": secrets_manifests(lambda _n, _k: PLACEHOLDER),
        "variants/provisioner-wifi/daemonset.yaml": [provisioner_daemonset()],
    }


HEADER = "# Generated by `uv run python deploy/k8s/generate.py`; do not edit by hand.\n"


class _PlainDumper(yaml.SafeDumper):
    """Repeats shared labels instead of writing YAML anchors (plainer for people and tools)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None  # configuration files stay readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_PlainDumper.add_representer(str, _text)


def render(objects: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(
        yaml.dump(o, Dumper=_PlainDumper, sort_keys=False) for o in objects
    )


def write(root: Path) -> None:
    for name, objects in files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(objects))


__all__ = ["CLIENT_PORT", "NATS", "files", "filled_secrets", "render", "write"]
