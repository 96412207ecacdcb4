"""deploy/kubernetes: schema validation (kubernetes-validate, offline) and the manifests' wiring.

Core kinds are validated strictly (unknown fields rejected) against the Kubernetes 1.29 schemas
that kubernetes-validate ships: 1.29 is the first version where native sidecars (init containers
with restartPolicy: Always) are on by default. The ServiceMonitor is a CRD with no schema there: it
is validated against SERVICE_MONITOR_SCHEMA (in kubernetes_schema.py), a hand-written strict subset
of the Prometheus Operator's monitoring.coreos.com/v1 CRD (field names, types and the duration
pattern as the CRD declares them), covering the fields our manifest uses.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import kubernetes_validate  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml

from tests.deploy.kubernetes_schema import K8S_VERSION, SERVICE_MONITOR_SCHEMA
from watcher.config import load_config


def _documents(repo: Path) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted((repo / "deploy/kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[doc["kind"]] = doc
    return docs


@pytest.fixture
def docs(repo: Path) -> dict[str, dict[str, Any]]:
    return _documents(repo)


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret", "Deployment", "Service"])
def test_core_kinds_validate_strictly(docs: dict[str, dict[str, Any]], kind: str) -> None:
    assert kubernetes_validate.validate(docs[kind], K8S_VERSION, strict=True) == "1.29"


def test_strict_validation_catches_a_typo(docs: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(docs["Deployment"])
    broken["spec"]["template"]["spec"]["initContainers"][0]["restartPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_service_monitor_matches_its_schema(docs: dict[str, dict[str, Any]]) -> None:
    jsonschema.validate(docs["ServiceMonitor"], SERVICE_MONITOR_SCHEMA)
    broken = copy.deepcopy(docs["ServiceMonitor"])
    broken["spec"]["endpoints"][0]["interval"] = "15 seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SERVICE_MONITOR_SCHEMA)


def test_kustomization_lists_every_manifest(repo: Path) -> None:
    kustomization = yaml.safe_load((repo / "deploy/kubernetes/kustomization.yaml").read_text())
    manifests = {p.name for p in (repo / "deploy/kubernetes").glob("*.yaml")}
    assert set(kustomization["resources"]) == manifests - {"kustomization.yaml"}


def _pod(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pod: dict[str, Any] = docs["Deployment"]["spec"]["template"]
    return pod


def _watcher(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (watcher,) = _pod(docs)["spec"]["initContainers"]
    return dict(watcher)


def test_watcher_is_a_native_sidecar_with_probes_but_no_readiness(
    docs: dict[str, dict[str, Any]],
) -> None:
    watcher = _watcher(docs)
    assert watcher["restartPolicy"] == "Always"
    assert watcher["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert watcher["startupProbe"]["httpGet"]["path"] == "/healthz"
    # A sidecar's readiness gates the pod's: the app must not leave its Service with the watcher.
    assert "readinessProbe" not in watcher
    assert not _pod(docs)["spec"].get("readinessGates")
    assert [c["name"] for c in _pod(docs)["spec"]["containers"]] == ["app"]
    assert ":" in watcher["image"]
    assert not watcher["image"].endswith(":latest")
    assert watcher["resources"]["requests"]
    assert watcher["resources"]["limits"]
    assert docs["Deployment"]["spec"]["replicas"] == 1
    assert docs["Deployment"]["spec"]["strategy"]["type"] == "Recreate"


def test_security_context_is_restrictive(docs: dict[str, dict[str, Any]]) -> None:
    pod = _pod(docs)["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in [*pod["initContainers"], *pod["containers"]]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True, container["name"]
        assert sc["runAsUser"] == 10001, container["name"]
        assert sc["readOnlyRootFilesystem"] is True, container["name"]
        assert sc["allowPrivilegeEscalation"] is False, container["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], container["name"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, container["name"]


def test_wiring_between_manifests(docs: dict[str, dict[str, Any]]) -> None:
    pod, watcher = _pod(docs), _watcher(docs)
    service, monitor = docs["Service"], docs["ServiceMonitor"]
    pod_labels = pod["metadata"]["labels"]
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (port,) = watcher["ports"]
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"] == monitor["spec"]["endpoints"][0]["port"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])

    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m for m in watcher["volumeMounts"]}
    assert volumes["config"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert volumes["credentials"]["secret"]["secretName"] == docs["Secret"]["metadata"]["name"]
    assert "emptyDir" in volumes["state"]
    assert watcher["args"][-1] == mounts["config"]["mountPath"]

    toml = tomllib.loads(docs["ConfigMap"]["data"]["watcher.toml"])
    secret_file = Path(toml["genesys"]["client_secret_file"])
    assert str(secret_file.parent) == mounts["credentials"]["mountPath"]
    assert secret_file.name in docs["Secret"]["stringData"]
    assert toml["state"]["dir"] == mounts["state"]["mountPath"]
    assert toml["server"]["listen"].endswith(f":{port['containerPort']}")


def test_configmap_config_is_accepted_by_the_watcher(docs: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    text = docs["ConfigMap"]["data"]["watcher.toml"]
    secret = tmp_path / "client_secret"
    secret.write_text("from-the-secret-volume\n")
    config = tmp_path / "watcher.toml"
    config.write_text(text.replace("/etc/failover-watcher/secrets/client_secret", str(secret)))
    cfg = load_config(config)
    assert cfg.client_secret().get_secret_value() == "from-the-secret-volume"
    assert cfg.server.listen == "0.0.0.0:9464"
