"""deploy/kubernetes/dns-sync: the watcher with the DNS-sync receiver as a native sidecar.

Validated as tests/deploy/test_kubernetes.py validates the base example: core kinds strictly
against the Kubernetes 1.29 schemas kubernetes-validate ships, ServiceMonitors against the same
hand-written strict subset of the Prometheus Operator CRD; then the wiring between the manifests
and the two configs (each accepted by its own loader).
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
from tests.dnssync.bind import tsig_keygen
from watcher.config import load_config
from watcher.dnssync import load_dns_sync_config
from watcher.events import generate_secret

Docs = dict[str, list[dict[str, Any]]]


@pytest.fixture
def directory(repo: Path) -> Path:
    return repo / "deploy/kubernetes/dns-sync"


@pytest.fixture
def docs(directory: Path) -> Docs:
    found: Docs = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.setdefault(doc["kind"], []).append(doc)
    return found


def _one(docs: Docs, kind: str) -> dict[str, Any]:
    (doc,) = docs[kind]
    return doc


def _pod(docs: Docs) -> dict[str, Any]:
    pod: dict[str, Any] = _one(docs, "Deployment")["spec"]["template"]
    return pod


def _containers(docs: Docs) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = _pod(docs)["spec"]
    (sidecar,) = spec["initContainers"]
    (watcher,) = spec["containers"]
    return sidecar, watcher


def _mounts(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in container["volumeMounts"]}


def _configs(docs: Docs) -> tuple[dict[str, Any], dict[str, Any]]:
    data = _one(docs, "ConfigMap")["data"]
    return tomllib.loads(data["watcher.toml"]), tomllib.loads(data["dns-sync.toml"])


def test_every_core_document_validates_strictly(docs: Docs) -> None:
    kinds = {"ConfigMap", "Secret", "Deployment", "Service", "PersistentVolumeClaim"}
    assert kinds <= set(docs)
    for kind in kinds:
        for doc in docs[kind]:
            assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == "1.29", kind


def test_strict_validation_catches_a_typo_in_the_sidecar(docs: Docs) -> None:
    broken = copy.deepcopy(_one(docs, "Deployment"))
    broken["spec"]["template"]["spec"]["initContainers"][0]["startupProbee"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_service_monitors_match_their_schema(docs: Docs) -> None:
    assert len(docs["ServiceMonitor"]) == 2
    for monitor in docs["ServiceMonitor"]:
        jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)


def test_kustomization_lists_every_manifest(directory: Path) -> None:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    manifests = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(manifests)


def test_the_receiver_is_a_native_sidecar_of_the_watcher(docs: Docs) -> None:
    sidecar, watcher = _containers(docs)
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["args"][:1] == ["dns-sync"]
    assert watcher["args"][:1] == ["run"]
    for probe in ("startupProbe", "livenessProbe"):
        assert sidecar[probe]["httpGet"] == {"path": "/healthz", "port": "dns-sync"}
    assert "readinessProbe" not in sidecar
    for container in (sidecar, watcher):
        assert ":" in container["image"]
        assert not container["image"].endswith(":latest")
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]
    deployment = _one(docs, "Deployment")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"]["type"] == "Recreate"


def test_security_context_is_restrictive(docs: Docs) -> None:
    pod = _pod(docs)["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in _containers(docs):
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True, container["name"]
        assert sc["runAsUser"] == 10001, container["name"]
        assert sc["readOnlyRootFilesystem"] is True, container["name"]
        assert sc["allowPrivilegeEscalation"] is False, container["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], container["name"]
        assert "env" not in container, "secrets and settings come from files, not the environment"


def test_each_container_sees_only_its_own_secrets(docs: Docs) -> None:
    volumes = {v["name"]: v for v in _pod(docs)["spec"]["volumes"]}
    secret_name = _one(docs, "Secret")["metadata"]["name"]
    sidecar, watcher = _containers(docs)

    def keys(container: dict[str, Any]) -> set[str]:
        found: set[str] = set()
        for name in _mounts(container):
            secret = volumes[name].get("secret")
            if secret is not None:
                assert secret["secretName"] == secret_name
                found |= {item["key"] for item in secret["items"]}
        return found

    assert keys(watcher) == {"client_secret", "admin_token", "sink_secret"}
    assert keys(sidecar) == {"sink_secret", "tsig.key"}
    every = {"client_secret", "admin_token", "sink_secret", "tsig.key"}
    assert set(_one(docs, "Secret")["stringData"]) == every


def test_wiring_between_manifests_and_configs(docs: Docs) -> None:
    sidecar, watcher = _containers(docs)
    watcher_toml, dns_toml = _configs(docs)
    # The watcher delivers to the sidecar over loopback, signed with the secret the sidecar checks.
    (sink,) = watcher_toml["sinks"]
    (sidecar_port,) = sidecar["ports"]
    assert sink["url"] == f"http://127.0.0.1:{sidecar_port['containerPort']}/"
    assert dns_toml["receiver"]["listen"].endswith(f":{sidecar_port['containerPort']}")
    assert Path(sink["secret_file"]).name == Path(dns_toml["receiver"]["secret_file"]).name == "sink_secret"
    # Files are where the mounts put them.
    side, main = _mounts(sidecar), _mounts(watcher)
    assert str(Path(dns_toml["receiver"]["secret_file"]).parent) == side["dns-sync-credentials"]["mountPath"]
    assert str(Path(dns_toml["dns"]["tsig_secret_file"]).parent) == side["dns-sync-credentials"]["mountPath"]
    assert (
        str(Path(watcher_toml["genesys"]["client_secret_file"]).parent)
        == main["watcher-credentials"]["mountPath"]
    )
    assert dns_toml["state"]["dir"] == side["state"]["mountPath"]
    assert watcher_toml["state"]["dir"] == main["state"]["mountPath"]
    assert side["state"]["subPath"] != main["state"]["subPath"]
    assert sidecar["args"][-1] == side["config"]["mountPath"]
    assert watcher["args"][-1] == main["config"]["mountPath"]
    # State on a claim: the last sequence must survive the pod, or DNS could go backwards.
    volumes = {v["name"]: v for v in _pod(docs)["spec"]["volumes"]}
    claim = _one(docs, "PersistentVolumeClaim")["metadata"]["name"]
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] == claim
    assert volumes["config"]["configMap"]["name"] == _one(docs, "ConfigMap")["metadata"]["name"]


def test_each_metrics_port_has_its_own_service_and_monitor(docs: Docs) -> None:
    pod_labels = _pod(docs)["metadata"]["labels"]
    sidecar, watcher = _containers(docs)
    ports = {c["ports"][0]["name"]: c["ports"][0]["containerPort"] for c in (sidecar, watcher)}
    services = {s["metadata"]["name"]: s for s in docs["Service"]}
    assert set(services) == {"failover-watcher", "failover-watcher-dns-sync"}
    assert services["failover-watcher-dns-sync"]["spec"]["ports"][0]["targetPort"] == "dns-sync"
    assert services["failover-watcher"]["spec"]["ports"][0]["targetPort"] == "metrics"
    for service in services.values():
        assert service["spec"]["selector"].items() <= pod_labels.items()
        (port,) = service["spec"]["ports"]
        assert port["port"] == ports[port["targetPort"]]
    for monitor in docs["ServiceMonitor"]:
        selected = [
            s for s in services.values()
            if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        ]  # fmt: skip
        # Exactly one Service each, so the job label (the Service name) tells the two apart.
        assert [s["metadata"]["name"] for s in selected] == [monitor["metadata"]["name"]]


def test_both_configs_are_accepted(docs: Docs, tmp_path: Path) -> None:
    data = _one(docs, "ConfigMap")["data"]
    (tmp_path / "client_secret").write_text("from-the-secret-volume\n")
    (tmp_path / "admin_token").write_text("admin-token-from-the-secret-volume\n")
    (tmp_path / "sink_secret").write_text(generate_secret().get_secret_value() + "\n")
    (tmp_path / "tsig.key").write_text(tsig_keygen("failover-watcher."))
    watcher_toml = data["watcher.toml"].replace("/etc/failover-watcher/secrets", str(tmp_path))
    dns_toml = data["dns-sync.toml"].replace("/etc/failover-watcher/dns-sync-secrets", str(tmp_path))
    dns_toml = dns_toml.replace("/var/lib/failover-watcher/dns-sync", str(tmp_path / "state"))
    (tmp_path / "watcher.toml").write_text(watcher_toml)
    (tmp_path / "dns-sync.toml").write_text(dns_toml)
    cfg = load_config(tmp_path / "watcher.toml")
    assert cfg.sinks[0].url == "http://127.0.0.1:9465/"
    token = cfg.admin_token()
    assert token is not None
    assert token.get_secret_value() == "admin-token-from-the-secret-volume"
    # The real-organization profile (as deploy/kubernetes/base), its strategy the one the records follow.
    assert [(s.id, s.kind) for s in cfg.strategies] == [("voice-routing", "virtual")]
    assert (
        [t.strategy for t in cfg.triggers] == [g.strategy for g in cfg.emergency_groups] == ["voice-routing"]
    )
    dns = load_dns_sync_config(tmp_path / "dns-sync.toml")
    assert {r.strategy for r in dns.records} == {"voice-routing"}
    assert cfg.sink_secrets(cfg.sinks[0]) == tuple(dns.webhook_secrets())
    assert dns.receiver.listen == "0.0.0.0:9465"
