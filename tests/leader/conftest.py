"""Fixtures for leader election: an in-memory etcd gateway behind `httpx.MockTransport`,
and a real etcd (`/usr/bin/etcd`) on free loopback ports for the integration tests."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import until_sync

ETCD_BINARY = "/usr/bin/etcd"
ETCD_START_SECONDS = 20.0


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _not_found() -> httpx.Response:
    message = "etcdserver: requested lease not found"
    return httpx.Response(404, json={"error": message, "message": message, "code": 5})


@dataclass
class FakeEtcd:
    """etcd's JSON gateway in memory: leases never expire by themselves (tests revoke them), so
    what a test sees comes from the election's own clock, not from the fake's."""

    keys: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (value, lease)
    leases: dict[int, int] = field(default_factory=dict)  # lease -> granted TTL
    down: set[str] = field(default_factory=set)  # endpoints that refuse connections
    failing: set[str] = field(default_factory=set)  # endpoints that answer 503
    calls: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, path) that got an answer
    on_call: Callable[[str], None] | None = None
    _next_lease: int = 7000

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())

    def grant(self, ttl: int = 10) -> int:
        self._next_lease += 1
        self.leases[self._next_lease] = ttl
        return self._next_lease

    def hold(self, key: str, instance: str) -> int:
        """Another instance takes the key."""
        lease = self.grant()
        self.keys[key] = (instance, lease)
        return lease

    def revoke(self, lease: int) -> None:
        self.leases.pop(lease, None)
        self.keys = {k: v for k, v in self.keys.items() if v[1] != lease}

    def paths(self, path: str) -> list[str]:
        return [endpoint for endpoint, p in self.calls if p == path]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        endpoint = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if endpoint in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if endpoint in self.failing:
            return httpx.Response(503, json={"error": "etcdserver: no leader", "code": 14})
        path = request.url.path
        self.calls.append((endpoint, path))
        if self.on_call is not None:
            self.on_call(path)
        body: dict[str, Any] = json.loads(request.content)
        if path == "/v3/lease/grant":
            lease = self.grant(int(body["TTL"]))
            return httpx.Response(200, json={"ID": str(lease), "TTL": str(body["TTL"])})
        if path == "/v3/lease/keepalive":
            lease = int(body["ID"])
            result: dict[str, Any] = {"ID": str(lease)}
            if lease in self.leases:
                result["TTL"] = str(self.leases[lease])
            return httpx.Response(200, text=json.dumps({"result": result}) + "\n")
        if path == "/v3/lease/revoke":
            lease = int(body["ID"])
            if lease not in self.leases:
                return _not_found()
            self.revoke(lease)
            return httpx.Response(200, json={"header": {}})
        if path == "/v3/kv/range":
            return httpx.Response(200, json=self._range(body["key"]))
        if path == "/v3/kv/txn":
            key = body["compare"][0]["key"]
            if key in {_b64(k) for k in self.keys}:
                return httpx.Response(200, json={"responses": [{"response_range": self._range(key)}]})
            put = body["success"][0]["request_put"]
            if int(put["lease"]) not in self.leases:
                return _not_found()
            name = base64.b64decode(key).decode()
            self.keys[name] = (base64.b64decode(put["value"]).decode(), int(put["lease"]))
            return httpx.Response(200, json={"succeeded": True, "responses": [{"response_put": {}}]})
        return httpx.Response(404, json={"error": "not found", "code": 12})

    def _range(self, b64key: str) -> dict[str, Any]:
        for name, (value, lease) in self.keys.items():
            if _b64(name) == b64key:
                kv = {"key": b64key, "value": _b64(value), "lease": str(lease), "create_revision": "2"}
                return {"kvs": [kv], "count": "1"}
        return {"header": {}}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RealEtcd:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def real_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealEtcd]:
    """One etcd for the session (each test uses its own key), torn down at the end."""
    if shutil.which(ETCD_BINARY) is None:
        pytest.skip(f"{ETCD_BINARY} not installed: Debian etcd-server (deploy/install-system-deps.sh)")
    base: Path = tmp_path_factory.mktemp("etcd")
    client, peer = _free_port(), _free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    log = (base / "etcd.log").open("wb")
    process = subprocess.Popen(
        [
            ETCD_BINARY,
            "--name=default",
            f"--data-dir={base / 'data'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                tail = (base / "etcd.log").read_text()[-2000:]
                pytest.fail(f"etcd exited at start ({process.returncode}): {tail}")
            try:
                return bool(httpx.get(f"{url}/health", timeout=0.5).json().get("health") == "true")
            except (httpx.HTTPError, ValueError):
                return False

        until_sync(healthy, "etcd healthy", ETCD_START_SECONDS, interval=0.05)
        yield RealEtcd(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
