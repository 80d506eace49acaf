"""The Kubernetes manifests (deploy/k8s) as each overlay renders them, offline.

Every document is valid for a recent Kubernetes (kubernetes-validate's bundled schemas, strict:
an unknown field fails), and the properties deploy/README.md promises hold: every container
locked down (non-root, read-only root, no privilege escalation, no capabilities, seccomp) with
requests and limits; the API probed on /livez and /readyz; the node's home assembled from a
ConfigMap, a read-only Secret and an emptyDir; no Secret in the manifests, only references to
the two the operator creates; network policies that deny by default. Each test fails if the
property is removed from the manifests.

Needs ``kubectl`` (for ``kubectl kustomize``); ``make deploy-check`` installs it with apt-get.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.kit.config import Settings
from gateway.surfaces.api.operations import probes
from tests.support.avrr_commands import HOME, parse_avrr

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS_DIR = ROOT / "deploy" / "k8s" / "overlays"
OVERLAYS = sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").exists())
KUBECTL = os.environ.get("AVRR_KUBECTL") or shutil.which("kubectl")
#: The Kubernetes version validated against here; `make deploy-check` adds others.
KUBERNETES_VERSION = "1.35.0"
#: The Secrets the operator creates (deploy/README.md); the manifests only name them.
SECRETS = {"avrr-node-keys", "avrr-db"}

pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl is not installed: `make deploy-check` installs it (apt-get install kubectl)",
)

Document = dict[str, Any]


@functools.cache
def rendered(overlay: str) -> tuple[Document, ...]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", str(OVERLAYS_DIR / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, kind: str) -> list[Document]:
    return [doc for doc in rendered(overlay) if doc["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> Document:
    matches = [doc for doc in of_kind(overlay, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name} in {overlay}"
    return matches[0]


def workloads(overlay: str) -> list[Document]:
    return of_kind(overlay, "Deployment") + of_kind(overlay, "Job")


def pod_spec(workload: Document) -> Document:
    spec: Document = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Document) -> list[Document]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def config_map(overlay: str, prefix: str) -> Document:
    # configMapGenerator adds a hash of the content to the name.
    matches = [
        doc for doc in of_kind(overlay, "ConfigMap") if doc["metadata"]["name"].startswith(prefix)
    ]
    assert len(matches) == 1, prefix
    return matches[0]


def mounts(container: Document) -> dict[str, Document]:
    return {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}


def volumes(workload: Document) -> dict[str, Document]:
    return {volume["name"]: volume for volume in pod_spec(workload).get("volumes", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestRendering:
    def test_every_document_is_valid_for_kubernetes(self, overlay: str) -> None:
        for doc in rendered(overlay):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    def test_everything_lives_in_the_node_namespace(self, overlay: str) -> None:
        outside = [
            f"{doc['kind']}/{doc['metadata']['name']}"
            for doc in rendered(overlay)
            if doc["kind"] != "Namespace" and doc["metadata"].get("namespace") != "avrr"
        ]
        assert outside == []

    def test_the_namespace_enforces_the_restricted_pod_security_standard(
        self, overlay: str
    ) -> None:
        labels = named(overlay, "Namespace", "avrr")["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestContainers:
    def test_every_pod_runs_as_a_non_root_user_with_seccomp(self, overlay: str) -> None:
        for workload in workloads(overlay):
            context = pod_spec(workload)["securityContext"]
            assert context["runAsNonRoot"] is True, workload["metadata"]["name"]
            assert context["runAsUser"] != 0
            assert context["seccompProfile"]["type"] == "RuntimeDefault"

    def test_every_container_is_locked_down(self, overlay: str) -> None:
        for workload in workloads(overlay):
            for container in containers(workload):
                context = container["securityContext"]
                where = f"{workload['metadata']['name']}/{container['name']}"
                assert context["runAsNonRoot"] is True, where
                assert context["readOnlyRootFilesystem"] is True, where
                assert context["allowPrivilegeEscalation"] is False, where
                assert context["capabilities"]["drop"] == ["ALL"], where
                assert "add" not in context["capabilities"], where
                assert context["seccompProfile"]["type"] == "RuntimeDefault", where

    def test_no_pod_gets_a_kubernetes_api_token(self, overlay: str) -> None:
        for workload in workloads(overlay):
            assert pod_spec(workload)["automountServiceAccountToken"] is False

    def test_every_container_has_cpu_and_memory_requests_and_limits(self, overlay: str) -> None:
        for workload in workloads(overlay):
            for container in containers(workload):
                resources = container["resources"]
                for bound in ("requests", "limits"):
                    assert set(resources[bound]) >= {"cpu", "memory"}, container["name"]

    def test_every_image_is_pinned_to_a_version(self, overlay: str) -> None:
        for workload in workloads(overlay):
            for container in containers(workload):
                image = container["image"]
                name, _, tag = image.rpartition(":")
                assert "@sha256:" in image or (name and tag and tag != "latest"), image
                assert not image.endswith(":latest"), image

    def test_every_writable_volume_is_a_bounded_empty_dir(self, overlay: str) -> None:
        for workload in workloads(overlay):
            for container in containers(workload):
                for mount in container.get("volumeMounts", []):
                    if mount.get("readOnly"):
                        continue
                    volume = volumes(workload)[mount["name"]]
                    assert "sizeLimit" in volume["emptyDir"], mount["mountPath"]


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestApi:
    def test_the_api_is_probed_on_livez_and_readyz(self, overlay: str) -> None:
        (api,) = pod_spec(named(overlay, "Deployment", "avrr-api"))["containers"]
        ports = {port["name"]: port["containerPort"] for port in api["ports"]}
        assert {"/livez", "/readyz"} <= {route.path for route in probes.routes}  # type: ignore[attr-defined]
        assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert ports[api[probe]["httpGet"]["port"]] == 8000, probe

    def test_the_api_serves_on_all_addresses_with_several_processes(self, overlay: str) -> None:
        (api,) = pod_spec(named(overlay, "Deployment", "avrr-api"))["containers"]
        args = api["args"]
        assert args[:3] == ["avrr", "serve", HOME]
        assert args[args.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (inside the pod)
        assert int(args[args.index("--workers") + 1]) >= 1

    def test_the_service_reaches_the_api_pods_on_their_port(self, overlay: str) -> None:
        api = named(overlay, "Deployment", "avrr-api")
        service = named(overlay, "Service", "avrr-api")
        labels = api["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (port,) = service["spec"]["ports"]
        (container,) = pod_spec(api)["containers"]
        assert port["targetPort"] in {p["name"] for p in container["ports"]}

    def test_the_api_has_a_disruption_budget(self, overlay: str) -> None:
        api = named(overlay, "Deployment", "avrr-api")
        budget = named(overlay, "PodDisruptionBudget", "avrr-api")
        labels = api["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        # maxUnavailable, not minAvailable: a one-pod node can still be drained.
        assert budget["spec"]["maxUnavailable"] == 1

    def test_a_rollout_keeps_every_ready_pod_until_its_successor_is_ready(
        self, overlay: str
    ) -> None:
        strategy = named(overlay, "Deployment", "avrr-api")["spec"]["strategy"]
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestNodeHome:
    @pytest.mark.parametrize("name", ["avrr-api", "avrr-worker"])
    def test_the_home_is_config_keys_and_an_empty_dir(self, overlay: str, name: str) -> None:
        workload = named(overlay, "Deployment", name)
        (container,) = pod_spec(workload)["containers"]
        by_path = mounts(container)
        sources = volumes(workload)
        assert "emptyDir" in sources[by_path[HOME]["name"]]
        for file in ("node.json", "operator.json"):
            mount = by_path[f"{HOME}/{file}"]
            assert mount["subPath"] == file
            assert mount["readOnly"] is True
            assert sources[mount["name"]]["configMap"]["name"].startswith("avrr-node-config")
        keys = by_path[f"{HOME}/keys"]
        assert keys["readOnly"] is True
        secret = sources[keys["name"]]["secret"]
        assert secret["secretName"] == "avrr-node-keys"
        assert secret["defaultMode"] & 0o007 == 0, "keys readable by other users"
        assert "emptyDir" in sources[by_path["/tmp"]["name"]]  # noqa: S108

    def test_the_migration_gets_no_key(self, overlay: str) -> None:
        job = named(overlay, "Job", "avrr-migrate")
        (container,) = pod_spec(job)["containers"]
        assert container["args"] == ["avrr", "node", "migrate", HOME]
        assert not any("secret" in volume for volume in volumes(job).values())
        assert f"{HOME}/keys" not in mounts(container)
        assert pod_spec(job)["restartPolicy"] == "Never"

    def test_node_json_is_valid_settings_without_database_or_secret(self, overlay: str) -> None:
        settings = json.loads(config_map(overlay, "avrr-node-config")["data"]["node.json"])
        # node.json wins over the environment: a database_url here would hide the Secret's.
        kept_out = {"database_url", "keystore_url", "oidc_client_secret", "pkcs11_pin"}
        assert kept_out.isdisjoint(settings)
        Settings(home=Path(HOME), **settings)

    def test_the_environment_config_map_holds_no_secret(self, overlay: str) -> None:
        names = config_map(overlay, "avrr-node-env")["data"]
        for name in names:
            for word in ("SECRET", "PASSWORD", "PIN", "DATABASE_URL", "KEYSTORE_URL", "TOKEN"):
                assert word not in name, name

    def test_the_databases_come_from_the_secret(self, overlay: str) -> None:
        for workload in workloads(overlay):
            (container,) = pod_spec(workload)["containers"]
            env = {item["name"]: item for item in container["env"]}
            for name, key in (
                ("AVRR_DATABASE_URL", "database-url"),
                ("AVRR_KEYSTORE_URL", "keystore-url"),
            ):
                assert "value" not in env[name], name
                reference = env[name]["valueFrom"]["secretKeyRef"]
                assert (reference["name"], reference["key"]) == ("avrr-db", key)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_real_avrr_command(overlay: str, tmp_path: Path) -> None:
    for workload in workloads(overlay):
        for container in containers(workload):
            parse_avrr(container["args"], home=tmp_path)


def referenced_secrets(overlay: str) -> set[str]:
    names: set[str] = set()
    for workload in workloads(overlay):
        for volume in volumes(workload).values():
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
        for container in containers(workload):
            for item in container.get("env", []):
                if "secretKeyRef" in item.get("valueFrom", {}):
                    names.add(item["valueFrom"]["secretKeyRef"]["name"])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    names.add(source["secretRef"]["name"])
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestSecrets:
    def test_no_secret_is_written_in_the_manifests(self, overlay: str) -> None:
        assert of_kind(overlay, "Secret") == []

    def test_the_secrets_are_the_two_the_operator_creates(self, overlay: str) -> None:
        assert referenced_secrets(overlay) == SECRETS


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestNetworkPolicy:
    def test_every_pod_is_denied_in_and_out_by_default(self, overlay: str) -> None:
        deny = named(overlay, "NetworkPolicy", "avrr-default-deny")["spec"]
        assert deny["podSelector"] == {}
        assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
        assert "ingress" not in deny
        assert "egress" not in deny

    def test_only_the_ingress_controller_and_prometheus_reach_in(self, overlay: str) -> None:
        allowed: set[tuple[str, int, str]] = set()
        for policy in of_kind(overlay, "NetworkPolicy"):
            selected = policy["spec"]["podSelector"].get("matchLabels", {})
            for rule in policy["spec"].get("ingress", []):
                assert rule["from"], "an ingress rule without peers allows everyone"
                for peer in rule["from"]:
                    assert set(peer) <= {"namespaceSelector", "podSelector"}, peer
                    namespace = peer["namespaceSelector"]["matchLabels"]
                    for port in rule["ports"]:
                        allowed.add(
                            (
                                selected["app.kubernetes.io/component"],
                                port["port"],
                                namespace["kubernetes.io/metadata.name"],
                            )
                        )
        assert allowed == {
            ("api", 8000, "ingress-nginx"),
            ("api", 8000, "monitoring"),
            ("worker", 9464, "monitoring"),
        }

    def test_egress_is_dns_postgresql_and_https_only(self, overlay: str) -> None:
        ports: set[tuple[int, str]] = set()
        for policy in of_kind(overlay, "NetworkPolicy"):
            for rule in policy["spec"].get("egress", []):
                assert rule["to"], "an egress rule without peers allows everywhere"
                ports |= {(p["port"], p["protocol"]) for p in rule["ports"]}
        assert ports == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (443, "TCP")}

    def test_https_egress_excludes_private_ranges_and_the_metadata_service(
        self, overlay: str
    ) -> None:
        spec = named(overlay, "NetworkPolicy", "avrr-egress-https")["spec"]
        (rule,) = spec["egress"]
        v4 = next(peer["ipBlock"] for peer in rule["to"] if peer["ipBlock"]["cidr"] == "0.0.0.0/0")
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
            v4["except"]
        )


def component(doc: Document) -> str | None:
    labels: dict[str, str] = doc["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component")


@pytest.mark.parametrize("overlay", OVERLAYS)
class TestRollout:
    """deploy/README.md applies in two steps: everything but the API and the worker (selector
    ``app.kubernetes.io/component!=api,app.kubernetes.io/component!=worker``), waits for the
    migration Job, then everything."""

    def test_the_first_step_holds_what_the_migration_needs(self, overlay: str) -> None:
        first = [doc for doc in rendered(overlay) if component(doc) not in {"api", "worker"}]
        kinds = {doc["kind"] for doc in first}
        assert {"Namespace", "ServiceAccount", "ConfigMap", "Job", "NetworkPolicy"} <= kinds
        assert "Deployment" not in kinds
        job = named(overlay, "Job", "avrr-migrate")
        assert job in first
        needed = {v["configMap"]["name"] for v in volumes(job).values() if "configMap" in v}
        needed |= {
            source["configMapRef"]["name"]
            for container in containers(job)
            for source in container.get("envFrom", [])
        }
        assert needed <= {doc["metadata"]["name"] for doc in first if doc["kind"] == "ConfigMap"}

    def test_the_api_and_worker_are_labelled_for_the_second_step(self, overlay: str) -> None:
        for doc in rendered(overlay):
            if doc["kind"] in {"Deployment", "Service", "PodDisruptionBudget"}:
                assert component(doc) in {"api", "worker"}, doc["metadata"]["name"]


class TestSizes:
    def test_the_small_node_runs_one_api_and_one_worker(self) -> None:
        assert named("small", "Deployment", "avrr-api")["spec"]["replicas"] == 1
        assert named("small", "Deployment", "avrr-worker")["spec"]["replicas"] == 1

    def test_production_runs_three_apis_and_two_workers_on_different_machines(self) -> None:
        for name, replicas in (("avrr-api", 3), ("avrr-worker", 2)):
            deployment = named("production", "Deployment", name)
            assert deployment["spec"]["replicas"] == replicas
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            anti = pod_spec(deployment)["affinity"]["podAntiAffinity"]
            (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
            assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
            assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == labels
