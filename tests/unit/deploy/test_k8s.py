"""deploy/k8s, checked without a cluster: fresh from the generator, valid against the
Kubernetes JSON schemas, one workload per service with probes the services answer, the bus
users of permissions.py, and network policies that allow only the named flows."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from aiohttp import web

from hearth.stack.kube import PLACEHOLDER, files, render
from hearth.stack.natsconf import SERVER_NAME_VARIABLE, password_variable
from hearth.stack.services import SERVICES
from hearth_events.permissions import all_users
from hearth_servicekit.http import add_health_routes
from hearth_servicekit.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.30.0"


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def every_manifest() -> list[tuple[str, dict[str, Any]]]:
    return [(name, obj) for name in files() for obj in load(name)]


def kinds(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for _, o in every_manifest() if o["kind"] == kind}


def test_the_manifests_are_fresh_from_the_generator() -> None:
    for name, objects in files().items():
        assert (K8S / name).read_text() == render(objects), (
            f"deploy/k8s/{name} is stale: run `uv run python deploy/k8s/generate.py`"
        )


@pytest.mark.parametrize("name", sorted(files()))
def test_every_manifest_validates_against_the_kubernetes_schemas(name: str) -> None:
    for obj in load(name):
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_the_validation_catches_a_slip() -> None:
    deployment = kinds("Deployment")["deployer"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    broken = {
        **deployment,
        "spec": {
            **deployment["spec"],
            "template": {
                **deployment["spec"]["template"],
                "spec": {"containers": [{**container, "livenessProbe": {"httpGet": {}}}]},
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**deployment, "sepc": {}}, KUBERNETES, strict=True)


def test_the_kustomizations_name_files_that_exist() -> None:
    assert yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"] == ["base"]
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    generated = {n.removeprefix("base/") for n in files() if n.startswith("base/")}
    assert set(base["resources"]) == generated  # the Secrets are never applied from git
    for variant in (K8S / "variants").iterdir():
        kustomization = yaml.safe_load((variant / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            assert (variant / resource).exists(), f"{variant.name}: {resource}"
        for patch in kustomization["patches"]:
            target = patch["target"]
            assert any(
                o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]
                for _, o in every_manifest()
            ), target


@pytest.mark.parametrize(
    "folder", ["", "base", *(f"variants/{v.name}" for v in sorted((K8S / "variants").iterdir()))]
)
def test_kustomize_can_build_each_kustomization(folder: str) -> None:
    """kustomize's own rules for where a resource may be: a file in or below the
    kustomization's folder (its load restrictor), a folder that is a kustomization and does
    not hold this one (a base holding its overlay is a cycle: both variants once did,
    and `kubectl apply -k deploy/k8s/variants/…` refused them)."""
    root = (K8S / folder).resolve()
    for resource in yaml.safe_load((root / "kustomization.yaml").read_text())["resources"]:
        path = (root / resource).resolve()
        if path.is_dir():
            assert (path / "kustomization.yaml").is_file(), f"{folder}: {resource}"
            assert not root.is_relative_to(path), f"{folder}: {resource} holds {folder}"
        else:
            assert path.is_file() and path.is_relative_to(root), f"{folder}: {resource}"


def test_every_workspace_service_has_a_deployment_and_the_provisioner_a_daemonset() -> None:
    workspace = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file()}
    deployments = kinds("Deployment")
    assert set(deployments) == workspace
    assert set(kinds("DaemonSet")) == {"provisioner"}
    daemon = kinds("DaemonSet")["provisioner"]["spec"]["template"]["spec"]
    assert daemon["hostNetwork"] is True
    assert daemon["nodeSelector"] == {"hearth.dev/wifi": "true"}
    # Two instances and a budget keeping one up, except the provisioner (one per site).
    budgets = kinds("PodDisruptionBudget")
    assert set(budgets) == workspace - {"provisioner"} | {"hearth-nats"}
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] == (1 if name == "provisioner" else 2)


def _entry_point(service: str) -> tuple[str, int]:
    """The name and default port the service's ``__main__`` passes to ``run_service``."""
    package = ROOT / "services" / service / "src" / f"hearth_{service.replace('-', '_')}"
    # The house plan puts the call in entrypoints/run.py; a service not moved yet has it
    # in __main__.py.
    sources = [package / "entrypoints" / "run.py", package / "__main__.py"]
    tree = ast.Module(
        body=[n for f in sources if f.exists() for n in ast.parse(f.read_text()).body],
        type_ignores=[],
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_service":
            kw = {
                k.arg: ast.literal_eval(k.value)
                for k in node.keywords
                if k.arg in ("name", "default_port")
            }
            return kw["name"], kw["default_port"]
    raise AssertionError(f"{service} does not start through servicekit's run_service")


def test_every_probe_is_a_route_the_services_answer_on_their_port() -> None:
    app = web.Application()
    add_health_routes(app, service="x", metrics=ServiceMetrics("x"), probes={})
    answered = {
        r.resource.canonical for r in app.router.routes() if r.method == "GET" and r.resource
    }
    workloads = {**kinds("Deployment"), "provisioner-daemonset": kinds("DaemonSet")["provisioner"]}
    for name, workload in workloads.items():
        container = workload["spec"]["template"]["spec"]["containers"][0]
        service = container["name"]
        assert _entry_point(service) == (service, container["ports"][0]["containerPort"]), name
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["HEARTH_HTTP_PORT"] == str(container["ports"][0]["containerPort"])
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["path"] in answered
            assert container[probe]["httpGet"]["port"] == container["ports"][0]["containerPort"]
        assert set(container["resources"]) == {"requests", "limits"}


def test_each_service_gets_only_its_own_credentials() -> None:
    deployments = kinds("Deployment")
    for definition in SERVICES:
        container = deployments[definition.name]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["HEARTH_NATS_USER"]["value"] == definition.name
        ref = env["HEARTH_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "hearth-nats-passwords", "key": password_variable(definition.name)}
        assert ("HEARTH_DATABASE_URL" in env) == definition.uses_database
        assert ("HEARTH_SCOPE_KEY" in env) == definition.uses_secrets
        if definition.uses_secrets:
            key = env["HEARTH_SCOPE_KEY"]["valueFrom"]["secretKeyRef"]["key"]
            assert key == "HEARTH_SCOPE_KEY_" + definition.name.upper().replace("-", "_")
        assert "HEARTH_SECRET_KEY" not in env
    job = kinds("Job")["nats-init"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in job["env"]}
    assert job["command"] == ["python", "-m", "hearth_events.declare"]
    assert env["HEARTH_NATS_USER"]["value"] == "admin"
    assert env["HEARTH_STREAM_REPLICAS"]["value"] == "3"


def test_the_secrets_are_templates_with_placeholders_only() -> None:
    for obj in load("secrets.template.yaml"):
        assert set(obj["stringData"].values()) == {PLACEHOLDER}
    for name, obj in every_manifest():
        if name != "secrets.template.yaml":
            assert obj["kind"] != "Secret", name


def _nats_conf() -> str:
    config: str = kinds("ConfigMap")["hearth-nats-config"]["data"]["nats.conf"]
    return config


def test_the_nats_users_equal_permissions_py() -> None:
    users = re.findall(
        r'user: "([^"]+)"\n\s+password: \$(\w+)\n\s+permissions: \{\n'
        r"\s+publish: (\{.*\})\n\s+subscribe: (\{.*\})\n(\s+allow_responses: true\n)?",
        _nats_conf(),
    )
    found = {
        name: (variable, json.loads(publish), json.loads(subscribe), bool(responses))
        for name, variable, publish, subscribe, responses in users
    }
    expected = {
        u.name: (
            password_variable(u.name),
            {
                "allow": list(u.publish_allow),
                **({"deny": list(u.publish_deny)} if u.publish_deny else {}),
            },
            {"allow": list(u.subscribe_allow)},
            u.allow_responses,
        )
        for u in all_users()
    }
    assert found == expected
    secret = {o["metadata"]["name"]: o for o in load("secrets.template.yaml")}
    assert set(secret["hearth-nats-passwords"]["stringData"]) == {
        v[0] for v in expected.values()
    } | {"HEARTH_NATS_PASSWORD_ROUTE"}


def test_the_nats_cluster_configuration_is_valid_and_routed(tmp_path: Path) -> None:
    statefulset = kinds("StatefulSet")["hearth-nats"]
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["serviceName"] == "hearth-nats-headless"
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    # Routes are dialled with the route password (from the Secret, put in by Kubernetes
    # for $(…)) and admitted only with it.
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["-c", "/etc/nats/nats.conf", "--routes"]
    routes = args[3].split(",")
    assert len(routes) == 3
    for n, route in enumerate(routes):
        host = f"hearth-nats-{n}.hearth-nats-headless.hearth.svc:6222"
        assert route == f"nats://route:$(HEARTH_NATS_PASSWORD_ROUTE)@{host}"
    env = statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {
        "name": "HEARTH_NATS_PASSWORD_ROUTE",
        "valueFrom": {
            "secretKeyRef": {"name": "hearth-nats-passwords", "key": "HEARTH_NATS_PASSWORD_ROUTE"}
        },
    } in env
    assert 'authorization { user: "route", password: $HEARTH_NATS_PASSWORD_ROUTE }' in (
        _nats_conf()
    )
    assert "jetstream" in _nats_conf()
    check_nats_config(_nats_conf(), tmp_path / "nats.conf")


def check_nats_config(text: str, path: Path) -> None:
    """``nats-server -t`` on ``text``, every password variable set."""
    env = {**os.environ, SERVER_NAME_VARIABLE: "n1"}
    env.update({password_variable(u.name): "x" for u in all_users()})
    env["HEARTH_NATS_PASSWORD_ROUTE"] = "x"
    path.write_text(text)
    binary = Path(sys.executable).parent / "nats-server"
    result = subprocess.run(
        [str(binary), "-c", str(path), "-t"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _flows() -> set[tuple[str, str, str, str]]:
    """(direction, pod, peer, port) for every rule; a peer without selector is 'any'."""

    def peers(rule: dict[str, Any], key: str) -> list[str]:
        out = []
        for peer in rule.get(key, [{}]):
            if "podSelector" in peer:
                out.append(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"])
            elif "namespaceSelector" in peer:
                out.append(
                    "ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                )
            elif "ipBlock" in peer:
                out.append("ip:" + peer["ipBlock"]["cidr"])
            else:
                out.append("any")
        return out

    flows = set()
    for policy in kinds("NetworkPolicy").values():
        labels = policy["spec"]["podSelector"].get("matchLabels", {})
        pod = labels.get("app.kubernetes.io/component", "all-hearth" if labels else "all")
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in policy["spec"].get(direction, []):
                ports = [f"{p['protocol']}/{p['port']}" for p in rule.get("ports", [])] or ["all"]
                flows |= {
                    (direction, pod, peer, port) for peer in peers(rule, key) for port in ports
                }
    return flows


def test_network_policies_allow_only_the_named_flows() -> None:
    default = kinds("NetworkPolicy")["default-deny"]["spec"]
    assert default == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    services = {s.name: s for s in SERVICES}
    expected = {
        ("egress", "all-hearth", "ns:kube-system", "UDP/53"),
        ("egress", "all-hearth", "ns:kube-system", "TCP/53"),
        ("ingress", "nats", "nats", "TCP/6222"),
        ("egress", "nats", "nats", "TCP/6222"),
        ("ingress", "nats", "nats-init", "TCP/4222"),
        ("egress", "nats-init", "nats", "TCP/4222"),
        ("ingress", "query-api", "any", "TCP/8080"),
        ("ingress", "webhook-gw", "any", "TCP/8090"),
        # Devices on the LAN: Gen1 CoIoT pushes and sleeping devices' wake-ups.
        ("ingress", "device-manager", "any", "UDP/5683"),
        ("ingress", "device-manager", "any", "TCP/8186"),
    }
    for name, definition in services.items():
        expected |= {("ingress", "nats", name, "TCP/4222"), ("egress", name, "nats", "TCP/4222")}
        if definition.uses_database:
            expected |= {
                ("ingress", "postgres", name, "TCP/5432"),
                ("egress", name, "postgres", "TCP/5432"),
            }
        if name != "query-api":  # SSH hosts, Git, Home Assistant, devices, Apprise targets
            expected.add(("egress", name, "ip:0.0.0.0/0", "all"))
    assert _flows() == expected
    # Every policy restricts both ways, or names the one way it opens.
    for policy in kinds("NetworkPolicy").values():
        spec = policy["spec"]
        assert set(spec["policyTypes"]) == {
            t.title() for t in ("ingress", "egress") if t in spec
        } or (policy["metadata"]["name"] == "default-deny")


def test_devices_on_the_lan_reach_the_device_manager() -> None:
    """Gen1 CoIoT pushes (UDP 5683) and sleeping devices' wake-ups (8186) come from outside
    the cluster: a LoadBalancer Service onto the ports the device manager listens on."""
    pod = kinds("Deployment")["device-manager"]["spec"]["template"]["spec"]["containers"][0]
    listening = {p["name"]: (p["containerPort"], p.get("protocol", "TCP")) for p in pod["ports"]}
    env = {e["name"]: e.get("value") for e in pod["env"]}
    assert listening["coiot"] == (int(env["HEARTH_COIOT_PORT"]), "UDP")
    assert listening["wake-ws"] == (int(env["HEARTH_WAKE_WS_PORT"]), "TCP")
    service = kinds("Service")["device-manager-devices"]["spec"]
    assert service["type"] == "LoadBalancer"
    assert {p["targetPort"]: (p["port"], p["protocol"]) for p in service["ports"]} == {
        "coiot": (5683, "UDP"),
        "wake-ws": (8186, "TCP"),
    }
