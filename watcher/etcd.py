"""etcd v3 through its JSON gateway: the wire client leader election talks to (no gRPC, no new
dependency).

Numbers that are int64 in the protobuf travel as strings; keys and values are base64; fields at
their default value (false, 0) are left out of answers. Several endpoints are tried in turn; the
one that answers stays in use.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx


class EtcdError(Exception):
    """An etcd call that did not do what was asked."""


class EtcdUnavailable(EtcdError):
    """No endpoint answered (transport error, timeout or 5xx on every one): transient."""


class EtcdRefused(EtcdError):
    """etcd answered with an error (e.g. `requested lease not found`)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode(errors="replace")


@dataclass(frozen=True)
class Holder:
    """Who holds the leader key: the instance id written in it and the lease it lives under."""

    instance: str
    lease: int

    @classmethod
    def from_kv(cls, kv: dict[str, Any]) -> Holder:
        return cls(_unb64(kv.get("value", "")), int(kv.get("lease", 0)))


class EtcdGateway:
    """The wire: etcd v3's JSON gateway over several endpoints, moving on at a transport error.

    Numbers that are int64 in the protobuf travel as strings; keys and values are base64; fields
    at their default value (false, 0) are left out of answers.
    """

    def __init__(self, endpoints: list[str], http: httpx.AsyncClient | None, timeout: float) -> None:
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.http = http  # set by the owner before the first call
        self._timeout = timeout
        self._current = 0

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._current]

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the endpoint in use, then to the others in turn; the one that answers stays in use."""
        assert self.http is not None, "EtcdGateway.http is not set"
        problems = []
        n = len(self.endpoints)
        for i in range(n):
            index = (self._current + i) % n
            endpoint = self.endpoints[index]
            try:
                response = await self.http.post(endpoint + path, json=body, timeout=self._timeout)
            except httpx.HTTPError as exc:
                problems.append(f"{endpoint}: {type(exc).__name__}")
                continue
            if response.status_code >= 500:
                problems.append(f"{endpoint}: HTTP {response.status_code}")
                continue
            self._current = index
            # A streaming call (keepalive) answers one JSON document per line.
            line = next((ln for ln in response.text.splitlines() if ln.strip()), "{}")
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise EtcdRefused(f"{path}: not JSON (HTTP {response.status_code})") from exc
            error = doc.get("error") if isinstance(doc, dict) else None
            if response.status_code >= 400 or error:
                message = doc.get("message") or (error.get("message") if isinstance(error, dict) else error)
                raise EtcdRefused(f"{path}: {message or response.status_code}", doc.get("code"))
            return doc  # type: ignore[no-any-return]
        raise EtcdUnavailable(f"{path}: no etcd endpoint answered ({'; '.join(problems)})")

    async def grant(self, ttl: int) -> tuple[int, int]:
        doc = await self.call("/v3/lease/grant", {"TTL": ttl})
        return int(doc["ID"]), int(doc.get("TTL", 0))

    async def keepalive(self, lease: int) -> int:
        """The lease's renewed TTL; 0 when etcd no longer knows it (expired or revoked)."""
        doc = await self.call("/v3/lease/keepalive", {"ID": str(lease)})
        return int(doc.get("result", {}).get("TTL", 0))

    async def revoke(self, lease: int) -> None:
        """Revoke (which deletes the keys under it); a lease already gone is not an error."""
        try:
            await self.call("/v3/lease/revoke", {"ID": str(lease)})
        except EtcdRefused as exc:
            if exc.code != 5:  # NOT_FOUND
                raise

    async def holder(self, key: str) -> Holder | None:
        doc = await self.call("/v3/kv/range", {"key": _b64(key)})
        kvs = doc.get("kvs") or []
        return Holder.from_kv(kvs[0]) if kvs else None

    async def get(self, key: str) -> str | None:
        doc = await self.call("/v3/kv/range", {"key": _b64(key)})
        kvs = doc.get("kvs") or []
        return _unb64(kvs[0].get("value", "")) if kvs else None

    async def put(self, key: str, value: str) -> None:
        """A plain key (no lease): state that must outlive every instance."""
        await self.call("/v3/kv/put", {"key": _b64(key), "value": _b64(value)})

    async def campaign(self, key: str, instance: str, lease: int) -> tuple[bool, Holder | None]:
        """Create `key` under `lease` if nobody holds it; else say who does. One transaction."""
        k = _b64(key)
        doc = await self.call(
            "/v3/kv/txn",
            {
                "compare": [{"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
                "success": [{"request_put": {"key": k, "value": _b64(instance), "lease": str(lease)}}],
                "failure": [{"request_range": {"key": k}}],
            },
        )
        if doc.get("succeeded"):
            return True, Holder(instance, lease)
        for response in doc.get("responses") or []:
            kvs = response.get("response_range", {}).get("kvs") or []
            if kvs:
                return False, Holder.from_kv(kvs[0])
        return False, None
