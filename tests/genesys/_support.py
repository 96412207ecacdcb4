"""A scripted Genesys Cloud behind `httpx.MockTransport`, and the secret markers."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
from pydantic import SecretStr

from tests.support import FakeClock
from watcher.config import GenesysSettings
from watcher.genesys import GenesysClient
from watcher.metrics import WatcherMetrics

API = "https://api.genesys.test"
LOGIN = "https://login.genesys.test"
CLIENT_ID = "watcher-client"
# Unique markers: neither may ever show up in a log line, an exception or a repr.
SECRET = "s3cr3t-MARKER-5b1e0c7d"
TOKEN_PREFIX = "tok3n-MARKER-9f2a44"
BASIC = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
MARKERS = (SECRET, TOKEN_PREFIX, BASIC)

Answer = httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


async def hang(_request: httpx.Request) -> httpx.Response:
    """An endpoint that never answers."""
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


class FakeGenesys:
    """Answers scripted per (method, path); the last scripted answer of a route repeats.

    The token endpoint issues a new token (`TOKEN_PREFIX-n`, one hour) unless scripted otherwise;
    unscripted API routes answer 404. Every request is recorded, with the fake time it arrived at.
    """

    def __init__(self, lifetime: float = 3600.0, clock: Callable[[], float] | None = None) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self.requests: list[httpx.Request] = []
        self.token_times: list[float] = []
        self.issued: list[str] = []
        self._scripts: dict[tuple[str, str], list[Answer]] = defaultdict(list)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self._scripts[(method, path)].extend(answers)

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/oauth/token"]

    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/oauth/token"]

    def issue_token(self) -> httpx.Response:
        value = f"{TOKEN_PREFIX}-{len(self.issued) + 1}"
        self.issued.append(value)
        return json_response(
            200, {"access_token": value, "token_type": "bearer", "expires_in": self.lifetime}
        )

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if request.url.path == "/oauth/token" and self.clock is not None:
            self.token_times.append(self.clock())
        queue = self._scripts.get(key)
        answer: Answer
        if queue:
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
        elif key == ("POST", "/oauth/token"):
            return self.issue_token()
        else:
            answer = json_response(404, {"message": f"no route {request.url.path}"})
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return await answer(request)


def settings(**overrides: Any) -> GenesysSettings:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "api_base_url": API,
        "login_base_url": LOGIN,
        "requests_per_minute": 60_000,
        "max_retries": 3,
        "request_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return GenesysSettings(**values)


def make_client(
    api: FakeGenesys, fake_time: FakeClock, metrics: WatcherMetrics | None = None, **overrides: Any
) -> GenesysClient:
    return GenesysClient(
        settings(**overrides),
        SecretStr(SECRET),
        transport=httpx.MockTransport(api.handler),
        metrics=metrics,
        clock=fake_time,
        sleep=fake_time.sleep,
    )


def sample(metrics: WatcherMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


HEALTH_PATH = "/api/v2/architecture/regions/us-east-1/health"
STRATEGY_PATH = "/api/v2/routing/strategies/strategy-1"
RULE_PATH = "/api/v2/eventbridge/routing/rules/rule-1"
REGIONS_PATH = "/api/v2/architecture/regions"
AUDIT_PATH = "/api/v2/platform/auditlogs"


def strategy_body(version: int = 3) -> dict[str, Any]:
    return {
        "id": "strategy-1",
        "name": "Architecture-Failover-Policy",
        "routingConfig": {
            "evaluationTimeoutMs": 5000,
            "regions": [
                {"regionId": "us-east-1", "priority": 1, "weight": 100, "failoverTrigger": "health_degraded"},
                {"regionId": "eu-west-1", "priority": 2, "weight": 0, "failoverTrigger": "health_degraded"},
            ],
        },
        "version": version,
    }


def rule_body(version: int = 7) -> dict[str, Any]:
    return {
        "id": "rule-1",
        "name": "follow-strategy-1",
        "priority": 10,
        "conditions": [{"field": "region", "equals": "us-east-1"}],
        "targets": [{"id": "target-use1"}],
        "version": version,
    }
