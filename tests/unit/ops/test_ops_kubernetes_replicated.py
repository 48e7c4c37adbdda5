"""The replicated Kubernetes variant (SPEC.md §14): deploy/kubernetes/replicated over the base.

The overlay is rendered here the way kustomize applies a strategic-merge patch without lists (maps
merge, scalars replace); when `kubectl` is on PATH its own `kubectl kustomize` rendering must agree.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
KUBERNETES = REPO / "deploy" / "kubernetes"
OVERLAY = KUBERNETES / "replicated"
DRAIN_SECONDS = 10  # SPEC §8: calls in flight get up to 10 s after SIGTERM
EXAMPLE_HPA = "horizontalpodautoscaler-calls-in-flight.example.yaml"


def _load(path: Path) -> dict:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert len(documents) == 1, path
    return documents[0]


def _merge(base: dict, patch: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            assert not isinstance(value, list), "the overlay patches no lists (their merge keys vary by field)"
            merged[key] = copy.deepcopy(value)
    return merged


def _render() -> dict[str, dict]:
    """Every object of the overlay by kind, the Deployment patched."""
    kustomization = _load(OVERLAY / "kustomization.yaml")
    objects: dict[str, dict] = {}
    for resource in kustomization["resources"]:
        path = (OVERLAY / resource).resolve()
        if path.is_dir():
            for name in _load(path / "kustomization.yaml")["resources"]:
                document = _load(path / name)
                objects[document["kind"]] = document
        else:
            document = _load(path)
            objects[document["kind"]] = document
    for patch in kustomization["patches"]:
        document = _load(OVERLAY / patch["path"])
        target = objects[document["kind"]]
        assert target["metadata"]["name"] == document["metadata"]["name"]
        objects[document["kind"]] = _merge(target, document)
    return objects


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    return _render()


@pytest.fixture(scope="module")
def deployment(rendered) -> dict:
    return rendered["Deployment"]


def test_every_file_of_the_overlay_is_used_or_an_example():
    kustomization = _load(OVERLAY / "kustomization.yaml")
    used = {r for r in kustomization["resources"] if not r.startswith("..")} | {
        p["path"] for p in kustomization["patches"]
    }
    present = {p.name for p in OVERLAY.glob("*.yaml")} - {"kustomization.yaml"}
    assert present - used == {EXAMPLE_HPA}


def test_rendered_objects_and_the_example_are_valid_against_the_kubernetes_schema(rendered):
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (dev extra)"
    )
    assert set(rendered) == {"ConfigMap", "Secret", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    for document in [*rendered.values(), _load(OVERLAY / EXAMPLE_HPA)]:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_three_pods_rolled_one_at_a_time_never_below_three(deployment):
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def test_probes_readiness_on_healthz_liveness_on_livez(deployment):
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"


def test_grace_period_is_above_the_drain(deployment):
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= DRAIN_SECONDS + 10


def test_disruption_budget_covers_the_pods_and_keeps_most_serving(rendered, deployment):
    pdb = rendered["PodDisruptionBudget"]["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["maxUnavailable"] == 1 < deployment["spec"]["replicas"]


def test_autoscaler_scales_this_deployment_on_cpu_from_its_replicas(rendered, deployment):
    hpa = rendered["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["minReplicas"] == deployment["spec"]["replicas"] < hpa["maxReplicas"]
    assert [m["resource"]["name"] for m in hpa["metrics"] if m["type"] == "Resource"] == ["cpu"]


def test_calls_in_flight_example_reads_a_metric_the_runtime_exports(rendered, deployment):
    example = _load(OVERLAY / EXAMPLE_HPA)["spec"]
    (metric,) = example["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "edge_calls_in_flight"
    assert '"edge_calls_in_flight"' in (REPO / "edge_runtime" / "runtime_status.py").read_text()
    assert example["scaleTargetRef"] == rendered["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" and annotations["prometheus.io/scrape"] == "true"
    health = next(
        p["containerPort"]
        for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        if p["name"] == "health"
    )
    assert annotations["prometheus.io/port"] == str(health)


def test_the_platform_replicas_advised_cover_every_pod_that_can_run_at_once(rendered, deployment):
    # The autoscaler's maximum plus the rollout's surge pod: fewer, and a rollout's new pod is refused 409.
    needed = (
        rendered["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]
        + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    )
    advised = re.search(
        r"deployment update <DEPLOYMENT_ID> --replicas (\d+)", (OVERLAY / "kustomization.yaml").read_text()
    )
    assert advised and int(advised.group(1)) == needed
    assert f"--replicas {needed}" in (REPO / "docs" / "production.md").read_text()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed: the Python rendering stands alone")
def test_kubectl_kustomize_renders_the_same_objects(rendered):
    output = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60, check=True
    )
    by_kind = {d["kind"]: d for d in yaml.safe_load_all(output.stdout) if d}
    assert by_kind == rendered
