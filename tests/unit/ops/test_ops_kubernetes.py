"""The Kubernetes manifests: schema-valid, and wired to what the image and the runtime really do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support.dockerfile import env_values, parse_dockerfile

REPO = Path(__file__).resolve().parents[3]
KUBERNETES = REPO / "deploy" / "kubernetes"
MANIFESTS = KUBERNETES / "base"
DRAIN_SECONDS = 10  # SPEC §8: calls in flight get up to 10 s after SIGTERM


def _load(name: str) -> dict:
    documents = [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
    assert len(documents) == 1, name
    return documents[0]


@pytest.fixture(scope="module")
def deployment() -> dict:
    return _load("deployment.yaml")


@pytest.fixture(scope="module")
def container(deployment) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.fixture(scope="module")
def configmap() -> dict:
    return _load("configmap.yaml")


@pytest.fixture(scope="module")
def secret() -> dict:
    return _load("secret.yaml")


@pytest.fixture(scope="module")
def dockerfile() -> list:
    return parse_dockerfile((REPO / "Dockerfile").read_text())


def test_kustomization_lists_every_manifest():
    kustomization = _load("kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    # `kubectl apply -k deploy/kubernetes` is the single-pod base.
    top = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert top["resources"] == ["base"]


@pytest.mark.parametrize("name", ["deployment.yaml", "configmap.yaml", "secret.yaml"])
def test_manifests_are_valid_against_the_kubernetes_schema(name):
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (dev extra)"
    )
    # strict: unknown fields (a typo like `readinesProbe`) fail too.
    kubernetes_validate.validate(_load(name), kubernetes_validate.latest_version(), strict=True)


def test_one_replica_recreated_because_the_platform_refuses_a_duplicate(deployment):
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    text = (MANIFESTS / "deployment.yaml").read_text()
    assert "Deployment already connected" in text and "409" in text  # the comment says why


def _port_number(container: dict, port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def test_probes_hit_livez_and_healthz_on_the_health_port(container, configmap, dockerfile):
    liveness, readiness = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
    assert liveness["path"] == "/livez" and readiness["path"] == "/healthz"
    health_port = int(configmap["data"]["HEALTH_PORT"])
    assert _port_number(container, liveness["port"]) == health_port
    assert _port_number(container, readiness["port"]) == health_port
    exposed = next(i.arguments for i in dockerfile if i.keyword == "EXPOSE")
    assert int(exposed) == health_port
    # The kubelet probes the pod IP: loopback-only health would fail every probe.
    assert configmap["data"]["HEALTH_HOST"] == "0.0.0.0"


def test_container_settings_and_credentials_come_from_the_configmap_and_secret(container, configmap, secret):
    assert {"configMapRef": {"name": configmap["metadata"]["name"]}} in container["envFrom"]
    data = configmap["data"]
    assert data["TOOL_RPC_URL"].startswith("wss://")
    assert data["EC_DISABLE_TRAY"] == "1" and data["EC_DISABLE_AUTOSTART"] == "1"
    assert data["EC_LOG_FORMAT"] == "json"
    assert not {"DEPLOYMENT_ID", "DEPLOYMENT_SECRET"} & set(data), "credentials belong in the Secret"

    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert secret_keys == {"DEPLOYMENT_ID", "DEPLOYMENT_SECRET"}
    env = {item["name"]: item for item in container["env"]}
    for name in ("DEPLOYMENT_ID", "DEPLOYMENT_SECRET"):
        assert "value" not in env[name], f"{name} must not be a literal in the Deployment"
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": name}


def test_grace_period_covers_the_drain_with_margin(deployment):
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert DRAIN_SECONDS + 5 <= grace <= DRAIN_SECONDS + 30


def test_resources_have_requests_and_limits(container):
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def _to_mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match is not None, quantity
    number, unit = match.groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def test_memory_limit_fits_the_idle_budget_with_room_for_calls(container):
    # DESIGN budget: ≤ 60 MB Python + ≤ 50 MB per node worker (2 by default) when idle.
    assert _to_mebibytes(container["resources"]["limits"]["memory"]) >= 2 * (60 + 2 * 50)


def test_runs_non_root_as_the_image_user(deployment, container, dockerfile):
    pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    useradd = next(i.arguments for i in dockerfile if i.keyword == "RUN" and "useradd" in i.arguments)
    image_uid = int(re.search(r"--uid (\d+)", useradd).group(1))
    assert pod_security["runAsUser"] == image_uid and pod_security["fsGroup"] == image_uid
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_install_dir_is_a_writable_volume_matching_the_start_command(deployment, container, dockerfile):
    command = container.get("command") or next(i.exec_form() for i in dockerfile if i.keyword == "CMD")
    assert command[:2] == ["edge-connector", "start"]
    install_dir = command[command.index("--dir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert install_dir in mounts
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    volume = volumes[mounts[install_dir]]
    assert "emptyDir" in volume or "persistentVolumeClaim" in volume
    # A read-only root filesystem needs every written path on a volume; /tmp is one of them.
    if container["securityContext"].get("readOnlyRootFilesystem"):
        assert "/tmp" in mounts
    assert env_values(dockerfile)["HEALTH_PORT"] == str(container["ports"][0]["containerPort"])
