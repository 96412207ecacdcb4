"""deploy/kubernetes: every shape (overlays/single, overlays/ha, overlays/sidecar), rendered from its
kustomization as `kubectl apply -k` would, validated offline (kubernetes-validate) and wired.

There is no kustomize binary here: `render` below follows the kustomizations (resources, files and
directories, and strategic-merge patches of maps) and refuses any field it does not know, so a
kustomization using more than that fails here instead of being half-rendered.

Core kinds are validated strictly (unknown fields rejected) against the Kubernetes 1.29 schemas
that kubernetes-validate ships: 1.29 is the first version where native sidecars (init containers
with restartPolicy: Always) are on by default. The ServiceMonitor is a CRD with no schema there: it
is validated against SERVICE_MONITOR_SCHEMA (in kubernetes_schema.py), a hand-written strict subset
of the Prometheus Operator's monitoring.coreos.com/v1 CRD (field names, types and the duration
pattern as the CRD declares them), covering the fields our manifest uses.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import kubernetes_validate  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml

from tests.deploy.kubernetes_schema import K8S_VERSION, SERVICE_MONITOR_SCHEMA
from watcher.config import load_config

SHAPES = ("single", "ha", "sidecar")
KUBERNETES = Path(__file__).resolve().parents[2] / "deploy/kubernetes"
Docs = dict[str, dict[str, Any]]


def _merge(target: dict[str, Any], patch: dict[str, Any], where: str) -> None:
    """Strategic merge for maps; lists would need their merge keys, so they are refused."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, f"{where}.{key}")
        elif isinstance(value, list):
            raise NotImplementedError(f"{where}.{key}: list patches are not rendered by this test")
        else:
            target[key] = value


def render(directory: Path) -> list[dict[str, Any]]:
    """The documents `kubectl apply -k directory` would apply."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {"apiVersion", "kind", "resources", "patches"}
    assert not unknown, f"{directory}: render() does not know {sorted(unknown)}"
    docs: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += render(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, patch
        for p in yaml.safe_load_all((directory / patch["path"]).read_text()):
            (target,) = [
                d for d in docs if (d["kind"], d["metadata"]["name"]) == (p["kind"], p["metadata"]["name"])
            ]
            _merge(target, p, f"{p['kind']}/{p['metadata']['name']}")
    return docs


def _documents(shape: str) -> Docs:
    docs: Docs = {}
    for doc in render(KUBERNETES / "overlays" / shape):
        assert doc["kind"] not in docs, f"{shape}: two {doc['kind']}s"
        docs[doc["kind"]] = doc
    return docs


@pytest.fixture(params=SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(shape: str) -> Docs:
    return _documents(shape)


def _workload(docs: Docs) -> dict[str, Any]:
    (workload,) = [d for kind, d in docs.items() if kind in ("Deployment", "StatefulSet")]
    return workload


def _pod(docs: Docs) -> dict[str, Any]:
    pod: dict[str, Any] = _workload(docs)["spec"]["template"]
    return pod


def _watcher(docs: Docs) -> dict[str, Any]:
    spec = _pod(docs)["spec"]
    (watcher,) = [
        c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == "failover-watcher"
    ]
    return dict(watcher)


def _toml(docs: Docs) -> dict[str, Any]:
    return tomllib.loads(docs["ConfigMap"]["data"]["watcher.toml"])


def test_each_shape_has_its_objects() -> None:
    kinds = {shape: sorted(_documents(shape)) for shape in SHAPES}
    shared = ["ConfigMap", "Secret", "Service", "ServiceMonitor"]
    assert kinds == {
        "single": sorted([*shared, "Deployment", "PersistentVolumeClaim"]),
        "ha": sorted([*shared, "StatefulSet", "PodDisruptionBudget"]),
        "sidecar": sorted([*shared, "Deployment", "PersistentVolumeClaim"]),
    }


def test_core_kinds_validate_strictly(docs: Docs) -> None:
    for kind, doc in docs.items():
        if kind != "ServiceMonitor":
            assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == "1.29", kind


def test_strict_validation_catches_a_typo(docs: Docs) -> None:
    broken = copy.deepcopy(_workload(docs))
    spec = broken["spec"]["template"]["spec"]
    (spec.get("initContainers") or spec["containers"])[0]["restartPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_service_monitor_matches_its_schema(docs: Docs) -> None:
    jsonschema.validate(docs["ServiceMonitor"], SERVICE_MONITOR_SCHEMA)
    broken = copy.deepcopy(docs["ServiceMonitor"])
    broken["spec"]["endpoints"][0]["interval"] = "15 seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SERVICE_MONITOR_SCHEMA)


@pytest.mark.parametrize("directory", ["base", *(f"overlays/{s}" for s in SHAPES)])
def test_kustomization_lists_every_manifest(directory: str) -> None:
    path = KUBERNETES / directory
    kustomization = yaml.safe_load((path / "kustomization.yaml").read_text())
    listed = {r for r in kustomization["resources"] if not r.startswith("..")}
    listed |= {p["path"] for p in kustomization.get("patches", [])}
    manifests = {p.name for p in path.glob("*.yaml")}
    assert listed == manifests - {"kustomization.yaml"}


def test_no_manifest_is_left_outside_the_layout() -> None:
    assert sorted(p.name for p in KUBERNETES.glob("*.yaml")) == []


def test_the_single_shape_is_one_writer_on_a_persistent_volume() -> None:
    docs = _documents("single")
    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert _toml(docs).get("leader", {}).get("backend", "none") == "none"


def test_the_ha_shape_is_two_leader_elected_watchers_never_on_one_node() -> None:
    docs = _documents("ha")
    statefulset, pdb = docs["StatefulSet"], docs["PodDisruptionBudget"]
    assert statefulset["spec"]["replicas"] == 2
    assert _toml(docs)["leader"]["backend"] == "etcd"
    labels = _pod(docs)["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= pdb["spec"]["minAvailable"] < statefulset["spec"]["replicas"]
    (term,) = _pod(docs)["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= labels.items()
    env = {e["name"]: e for e in _watcher(docs)["env"]}
    assert env["WATCHER_LEADER__INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert statefulset["spec"]["serviceName"] == docs["Service"]["metadata"]["name"]


def test_the_ha_config_is_the_base_config_plus_leader() -> None:
    base = yaml.safe_load((KUBERNETES / "base/configmap.yaml").read_text())["data"]["watcher.toml"]
    ha = _documents("ha")["ConfigMap"]["data"]["watcher.toml"]
    assert ha.startswith(base), (
        "overlays/ha/configmap-leader.yaml must repeat base/configmap.yaml's watcher.toml"
    )
    assert set(tomllib.loads(ha)) - set(tomllib.loads(base)) == {"leader"}


def test_the_config_is_the_real_organization_profile(docs: Docs) -> None:
    toml = _toml(docs)
    platform = tomllib.loads((KUBERNETES.parents[1] / "config/platform.toml").read_text())
    for section in (
        "regions",
        "strategies",
        "triggers",
        "emergency_groups",
        "failback",
        "statuspage",
        "health",
    ):
        assert toml[section] == platform[section], section
    assert toml["server"]["admin_token_file"]
    assert "rules" not in toml


def test_watcher_is_a_native_sidecar_with_probes_but_no_readiness() -> None:
    docs = _documents("sidecar")
    watcher = _watcher(docs)
    assert _pod(docs)["spec"]["initContainers"] == [_pod(docs)["spec"]["initContainers"][0]]
    assert watcher["restartPolicy"] == "Always"
    assert watcher["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert watcher["startupProbe"]["httpGet"]["path"] == "/healthz"
    # A sidecar's readiness gates the pod's: the app must not leave its Service with the watcher.
    assert "readinessProbe" not in watcher
    assert not _pod(docs)["spec"].get("readinessGates")
    assert [c["name"] for c in _pod(docs)["spec"]["containers"]] == ["app"]
    assert docs["Deployment"]["spec"]["replicas"] == 1
    assert docs["Deployment"]["spec"]["strategy"]["type"] == "Recreate"


@pytest.mark.parametrize("shape", ["single", "ha"])
def test_the_watcher_has_liveness_and_readiness_probes(shape: str) -> None:
    watcher = _watcher(_documents(shape))
    assert watcher["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert watcher["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert watcher["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "restartPolicy" not in watcher


def test_image_and_resources(docs: Docs) -> None:
    watcher = _watcher(docs)
    assert ":" in watcher["image"]
    assert not watcher["image"].endswith(":latest")
    assert watcher["resources"]["requests"]
    assert watcher["resources"]["limits"]


def test_security_context_is_restrictive(docs: Docs) -> None:
    pod = _pod(docs)["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True, container["name"]
        assert sc["runAsUser"] == 10001, container["name"]
        assert sc["readOnlyRootFilesystem"] is True, container["name"]
        assert sc["allowPrivilegeEscalation"] is False, container["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], container["name"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, container["name"]


def test_wiring_between_manifests(docs: Docs) -> None:
    pod, watcher, workload = _pod(docs), _watcher(docs), _workload(docs)
    service, monitor = docs["Service"], docs["ServiceMonitor"]
    pod_labels = pod["metadata"]["labels"]
    assert workload["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
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
    assert watcher["args"][-1] == mounts["config"]["mountPath"]

    # State persists: a claim of its own (single, sidecar) or one per pod (ha), never an emptyDir.
    if "state" in volumes:
        claim = volumes["state"]["persistentVolumeClaim"]["claimName"]
        assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
    else:
        (template,) = workload["spec"]["volumeClaimTemplates"]
        assert template["metadata"]["name"] == "state"
        assert template["spec"]["accessModes"] == ["ReadWriteOnce"]

    toml = _toml(docs)
    items = {i["path"]: i["key"] for i in volumes["credentials"]["secret"]["items"]}
    for secret_file in (toml["genesys"]["client_secret_file"], toml["server"]["admin_token_file"]):
        path = Path(secret_file)
        assert str(path.parent) == mounts["credentials"]["mountPath"]
        assert items[path.name] in docs["Secret"]["stringData"]
    assert toml["state"]["dir"] == mounts["state"]["mountPath"]
    assert toml["server"]["listen"].endswith(f":{port['containerPort']}")


def _secret_files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "client_secret").write_text("from-the-secret-volume\n")
    (tmp_path / "admin_token").write_text("admin-token-from-the-secret-volume\n")
    return {
        "WATCHER_GENESYS__CLIENT_SECRET_FILE": str(tmp_path / "client_secret"),
        "WATCHER_SERVER__ADMIN_TOKEN_FILE": str(tmp_path / "admin_token"),
    }


def test_configmap_config_is_accepted_by_the_watcher(
    docs: Docs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "watcher.toml"
    config.write_text(docs["ConfigMap"]["data"]["watcher.toml"])
    for name, value in _secret_files(tmp_path).items():
        monkeypatch.setenv(name, value)
    cfg = load_config(config)
    assert cfg.client_secret().get_secret_value() == "from-the-secret-volume"
    token = cfg.admin_token()
    assert token is not None
    assert token.get_secret_value() == "admin-token-from-the-secret-volume"
    assert cfg.server.listen == "0.0.0.0:9464"


def test_configmap_config_passes_check_config(docs: Docs, tmp_path: Path) -> None:
    """`failover-watcher check-config`, the daemon's own gate, on the ConfigMap's file as mounted."""
    config = tmp_path / "watcher.toml"
    config.write_text(docs["ConfigMap"]["data"]["watcher.toml"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    done = subprocess.run(
        [sys.executable, "-m", "watcher.cli", "check-config", "--config", str(config)],
        env={**env, **_secret_files(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith(f"{config}: OK"), done.stderr
    assert "admin-token-from-the-secret-volume" not in done.stdout + done.stderr
