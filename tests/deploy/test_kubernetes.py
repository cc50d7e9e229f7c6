"""The Kubernetes manifests (deploy/kubernetes/): each validates strictly against the Kubernetes
schemas, offline (kubernetes-validate; no cluster), and keeps what it promises: the
specification's three replicas and resources, secrets only from a Secret, the probes, a grace
period longer than the server's drain, a locked-down container, and objects that select the
pods they are meant for."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pinned tools

from agentcli.config import Settings

from .setting_names import SECRET_SETTINGS, setting_env_names

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
KUSTOMIZATION = K8S / "kustomization.yaml"
MANIFESTS = sorted(path for path in K8S.glob("*.yaml") if path != KUSTOMIZATION)
# Not applied with the rest (kustomization.yaml says why): an example Secret with placeholders,
# and the schema upgrade Job, created once per release before a rollout.
NOT_IN_KUSTOMIZATION = {"secret.example.yaml", "db-upgrade-job.yaml"}
# The oldest Kubernetes the manifests promise to work on (the preStop `sleep` action is 1.30),
# and the newest kubernetes-validate knows (its default).
VERSIONS = ("1.30", "latest")
POD_LABELS = {"app.kubernetes.io/name": "agentcli", "app.kubernetes.io/component": "server"}
# Secrets a replica must have; the others are optional (only some providers, Redis optional).
REQUIRED_SECRETS = {"AGENTCLI_API_KEYS", "AGENTCLI_STORE_URL"}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _one(name: str) -> dict[str, Any]:
    (doc,) = _documents(K8S / name)
    return doc


@cache
def _validation(version: str) -> str:
    """kubernetes-validate's report on every manifest at once (one process per version)."""
    args = [sys.executable, "-m", "kubernetes_validate", "--strict"]
    if version != "latest":
        args += ["-k", version]
    done = subprocess.run(
        [*args, *(str(path) for path in MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_there_are_manifests() -> None:
    names = {path.name for path in MANIFESTS}
    expected = {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "configmap.yaml"}
    assert names >= expected | {"networkpolicy.yaml", "secret.example.yaml"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_the_manifest_validates_strictly(path: Path, version: str) -> None:
    report = [line for line in _validation(version).splitlines() if f" {path} " in line]
    # One "passed" line per object; a kind with no schema is only a WARN to the tool: not here.
    assert len(report) == len(_documents(path)), report
    assert all(line.startswith("INFO ") and " passed " in line for line in report), report


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    for name in listed:
        assert (K8S / name).is_file(), f"kustomization.yaml lists {name}, which does not exist"
    assert set(listed) == {path.name for path in MANIFESTS} - NOT_IN_KUSTOMIZATION
    for labels in kustomization["labels"]:
        # Selectors are immutable: labels added later must never reach them.
        assert labels["includeSelectors"] is False
    assert [image["name"] for image in kustomization["images"]] == ["agentcli"]


def _deployment() -> dict[str, Any]:
    deployment = _one("deployment.yaml")
    assert deployment["kind"] == "Deployment"
    return deployment


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = workload["spec"]["template"]["spec"]
    return pod


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = _pod(workload)["containers"]
    (container,) = containers
    return container


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def test_three_replicas_of_the_image() -> None:
    deployment = _deployment()
    assert deployment["spec"]["replicas"] == 3
    assert _container(deployment)["image"].startswith("agentcli:")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels == POD_LABELS
    assert _selects(deployment["spec"]["selector"]["matchLabels"], labels)
    # A rollout never drops below the replicas serving.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_specifications_resources() -> None:
    resources = _container(_deployment())["resources"]
    assert resources == {
        "requests": {"memory": "256Mi", "cpu": "250m"},
        "limits": {"memory": "512Mi", "cpu": "500m"},
    }


def _secret_example() -> dict[str, Any]:
    secret = _one("secret.example.yaml")
    assert secret["kind"] == "Secret"
    return secret


@pytest.mark.parametrize("name", ["deployment.yaml", "db-upgrade-job.yaml"])
def test_secrets_come_only_from_the_secret(name: str) -> None:
    secret = _secret_example()
    container = _container(_one(name))
    env = {item["name"]: item for item in container.get("env", [])}
    assert set(env) <= setting_env_names(), "every variable is an agentcli setting"
    for var, item in env.items():
        assert var in SECRET_SETTINGS, f"{var}: settings that are not secret go in the ConfigMap"
        assert "value" not in item, f"{var} is written in the manifest"
        ref = item["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"], var
        assert ref["key"] in secret["stringData"], f"{var}: the example Secret has no {ref['key']}"
        assert ref.get("optional", False) is (var not in REQUIRED_SECRETS), var
    if name == "deployment.yaml":
        promised = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AGENTCLI_API_KEYS"}
        assert set(env) == promised | {"AGENTCLI_STORE_URL", "AGENTCLI_REDIS_URL"}
        (source,) = container["envFrom"]
        assert source["configMapRef"]["name"] == _one("configmap.yaml")["metadata"]["name"]
    else:
        assert set(env) == {"AGENTCLI_STORE_URL"}
        assert container["command"] == ["agentcli", "db", "upgrade"]


def test_the_example_secret_holds_only_placeholders() -> None:
    secret = _secret_example()
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, f"{key}: the example holds a real-looking value"
    text = (K8S / "secret.example.yaml").read_text(encoding="utf-8")
    assert re.search(r"(?i)not applied by kustomization", text)


def test_the_configmap_holds_only_settings_that_are_not_secret() -> None:
    data = _one("configmap.yaml")["data"]
    assert set(data) <= setting_env_names(), set(data) - setting_env_names()
    assert not set(data) & SECRET_SETTINGS
    assert all(isinstance(value, str) for value in data.values())
    assert data["AGENTCLI_LOG_FORMAT"] == "json"
    assert data["AGENTCLI_DATA_DIR"] == "/data"
    assert float(data["AGENTCLI_SESSION_TTL"]) > 0


def _shutdown_grace() -> float:
    """The drain the server does on SIGTERM: the ConfigMap's, else the default."""
    default = Settings.model_fields["shutdown_grace"].default
    assert isinstance(default, float)
    configured = _one("configmap.yaml")["data"].get("AGENTCLI_SHUTDOWN_GRACE")
    return max(default, float(configured)) if configured is not None else default


def _pre_stop_pause(container: dict[str, Any]) -> int:
    pre_stop = container["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        seconds: int = pre_stop["sleep"]["seconds"]
        return seconds
    command = pre_stop["exec"]["command"]
    assert command[0] in ("sleep", "/bin/sleep"), command
    return int(command[1])


def test_probes() -> None:
    container = _container(_deployment())
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readiness"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    port_names = {port["name"] for port in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in port_names | {8000}, probe
    # /readiness answers within 2 s even when a dependency hangs.
    assert container["readinessProbe"]["timeoutSeconds"] >= 2
    # /health answers 503 while draining: liveness must not kill a replica finishing its turns.
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > _shutdown_grace()


def test_the_grace_period_outlasts_the_drain() -> None:
    deployment = _deployment()
    pause = _pre_stop_pause(_container(deployment))
    assert pause >= 1
    grace = _pod(deployment)["terminationGracePeriodSeconds"]
    assert grace > _shutdown_grace() + pause


@pytest.mark.parametrize("name", ["deployment.yaml", "db-upgrade-job.yaml"])
def test_the_container_is_locked_down(name: str) -> None:
    workload = _one(name)
    pod = _pod(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    context = _container(workload)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 10001
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context.get("privileged", False) is False


def test_scratch_space_on_a_read_only_root() -> None:
    deployment = _deployment()
    volumes = {volume["name"]: volume for volume in _pod(deployment)["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in _container(deployment)["volumeMounts"]}
    assert set(mounts) == {"/tmp", "/data"}
    for name in mounts.values():
        assert "emptyDir" in volumes[name], name


def test_the_service_reaches_the_container_port() -> None:
    service = _one("service.yaml")
    container = _container(_deployment())
    assert _selects(service["spec"]["selector"], POD_LABELS)
    by_name = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert set(by_name.values()) == {8000}, "the image listens on 8000"
    for port in service["spec"]["ports"]:
        target = port["targetPort"]
        assert target in by_name or target in by_name.values(), target


def test_the_autoscaler_scales_the_deployment_on_cpu() -> None:
    hpa = _one("hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    deployment = _deployment()
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "Deployment",
        deployment["metadata"]["name"],
    )
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"


def test_the_disruption_budget_keeps_replicas_serving() -> None:
    pdb = _one("pdb.yaml")
    assert pdb["apiVersion"] == "policy/v1"
    assert _selects(pdb["spec"]["selector"]["matchLabels"], POD_LABELS)
    replicas = _deployment()["spec"]["replicas"]
    if "minAvailable" in pdb["spec"]:
        assert 2 <= pdb["spec"]["minAvailable"] < replicas
    else:
        assert pdb["spec"]["maxUnavailable"] == 1


def test_the_network_policy() -> None:
    policy = _one("networkpolicy.yaml")
    assert _selects(policy["spec"]["podSelector"]["matchLabels"], POD_LABELS)
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress = {
        (port.get("protocol", "TCP"), port["port"])
        for rule in policy["spec"]["ingress"]
        for port in rule["ports"]
    }
    assert ingress == {("TCP", 8000)}
    egress = {
        (port.get("protocol", "TCP"), port["port"])
        for rule in policy["spec"]["egress"]
        for port in rule["ports"]
    }
    assert egress == {("UDP", 53), ("TCP", 53), ("TCP", 6379), ("TCP", 5432), ("TCP", 443)}


def test_the_upgrade_job_runs_once_on_the_same_image() -> None:
    job = _one("db-upgrade-job.yaml")
    assert _pod(job)["restartPolicy"] == "Never"
    assert _container(job)["image"] == _container(_deployment())["image"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    # Its pods are not servers: the Service and the budget must not count them.
    assert not _selects(_one("service.yaml")["spec"]["selector"], labels)
    assert not _selects(_one("pdb.yaml")["spec"]["selector"]["matchLabels"], labels)
