"""deploy/kubernetes: valid against the Kubernetes schemas (offline, strict) and hardened.

The schemas ship inside the kubernetes-validate wheel, so nothing is downloaded.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from .helpers import (
    ROOT,
    UID,
    integer_settings_env_names,
    memory_needed,
    project_version,
    quantity,
    settings_env_names,
)

KUBE = ROOT / "deploy" / "kubernetes"
# A concrete release whose schemas the wheel ships; validate() must not fall back to another.
KUBERNETES_VERSION = "1.33.0"

Doc = dict[str, Any]


def _manifests() -> list[Path]:
    return sorted(p for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")


def _docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all_docs() -> list[Doc]:
    return [doc for path in _manifests() for doc in _docs(path)]


def _one(kind: str) -> Doc:
    found = [d for d in _all_docs() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _pod(deployment: Doc) -> Doc:
    pod: Doc = deployment["spec"]["template"]["spec"]
    return pod


def _container(deployment: Doc) -> Doc:
    containers = _pod(deployment)["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def test_the_schemas_ship_with_the_package() -> None:
    assert KUBERNETES_VERSION.rsplit(".", 1)[0] in {v.rsplit(".", 1)[0] for v in all_versions()}
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    assert (schemas / f"v{KUBERNETES_VERSION}-local-strict" / "_definitions.json").is_file()


@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_manifest_is_valid_against_the_kubernetes_schema_strict(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path.name} is empty"
    for doc in docs:
        try:
            validated = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = ".".join(str(p) for p in e.path)
            pytest.fail(f"{path.name}: {doc['kind']} invalid at {where}: {e.message}")
        assert validated == KUBERNETES_VERSION.rsplit(".", 1)[0], "another version was used"


def test_strict_validation_catches_a_misspelt_field() -> None:
    """The validator is not a no-op: strict mode refuses a field the schema does not know."""
    deployment = copy.deepcopy(_one("Deployment"))
    container = _container(deployment)
    container["livenessprobe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="livenessprobe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_expected_objects_and_api_versions() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for d in _all_docs()}
    assert kinds == {
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
    }


def test_kustomization_lists_every_manifest_and_the_image() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(p.name for p in _manifests())
    assert kustomization["images"] == [{"name": "weightinit", "newTag": project_version()}]


def test_deployment_runs_several_replicas_of_the_versioned_image() -> None:
    deployment = _one("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert _container(deployment)["image"] == f"weightinit:{project_version()}"


def test_probes_liveness_healthz_readiness_readyz_on_the_served_port() -> None:
    container = _container(_one("Deployment"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    probes = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in probes.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in ("http", 8000), probe


def test_resources_have_requests_and_limits() -> None:
    resources = _container(_one("Deployment"))["resources"]
    for resource in ("cpu", "memory"):
        request = quantity(resources["requests"][resource])
        limit = quantity(resources["limits"][resource])
        assert 0 < request <= limit, resource


def test_security_context_is_non_root_and_read_only() -> None:
    deployment = _one("Deployment")
    pod, container = _pod(deployment), _container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("automountServiceAccountToken") is False
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == UID
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc.get("privileged", False) is False


def test_tmp_is_a_writable_empty_dir() -> None:
    deployment = _one("Deployment")
    mounts = {m["mountPath"]: m["name"] for m in _container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in _pod(deployment)["volumes"]}
    assert "/tmp" in mounts
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert not any(m.get("readOnly") for m in _container(deployment)["volumeMounts"])


def test_env_sets_every_weightinit_limit_and_workers_equal_the_cpu_limit() -> None:
    container = _container(_one("Deployment"))
    env = {e["name"]: e for e in container["env"]}
    assert {n for n in env if n.startswith("WEIGHTINIT_")} == settings_env_names()
    cpu_limit = quantity(container["resources"]["limits"]["cpu"])
    workers = env.pop("WEIGHTINIT_THREADS")
    if "valueFrom" in workers:
        # Kubernetes fills it in from the limit itself: whole cores, rounded up
        ref = workers["valueFrom"]["resourceFieldRef"]
        assert ref["resource"] == "limits.cpu"
        assert ref.get("containerName", container["name"]) == container["name"]
        assert quantity(ref.get("divisor", "1")) == 1
        assert cpu_limit == math.ceil(cpu_limit), "a whole number of cores"
    else:
        assert int(workers["value"]) == cpu_limit >= 1
    for name in integer_settings_env_names() - {"WEIGHTINIT_THREADS"}:
        value = env[name]["value"]
        assert value.isdigit() and int(value) >= 1, (name, value)
    keys = env["WEIGHTINIT_API_KEYS"]["valueFrom"]["secretKeyRef"]
    assert keys["optional"] is True  # no Secret: no keys asked for


def test_service_selects_the_pods_and_targets_the_container_port() -> None:
    deployment, service = _one("Deployment"), _one("Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in ("http", 8000)


def test_hpa_scales_the_deployment_on_cpu() -> None:
    deployment, hpa = _one("Deployment"), _one("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert deployment["spec"]["replicas"] == hpa["spec"]["minReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"


def test_pdb_covers_the_pods_and_leaves_one_running() -> None:
    deployment, pdb, hpa = (
        _one("Deployment"),
        _one("PodDisruptionBudget"),
        _one("HorizontalPodAutoscaler"),
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    if "maxUnavailable" in pdb["spec"]:
        assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]
    else:
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_memory_limit_fits_the_largest_requests_in_flight() -> None:
    container = _container(_one("Deployment"))
    env = {e["name"]: e.get("value") for e in container["env"]}
    workers = math.ceil(quantity(container["resources"]["limits"]["cpu"]))
    needed = memory_needed(workers, int(env["WEIGHTINIT_MAX_WHOLE_ELEMENTS"]))
    assert quantity(container["resources"]["limits"]["memory"]) >= needed
    # requests = limits for memory: no OOM kill because the node overcommitted
    assert quantity(container["resources"]["requests"]["memory"]) == quantity(
        container["resources"]["limits"]["memory"]
    )
