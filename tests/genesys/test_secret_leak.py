"""No credential ever reaches a log line, an exception text or a repr, on any error path.

The client secret and every issued token carry unique markers; each error path of the client is driven
once, its exception logged the way the daemon logs failures, and every byte of output searched.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
import structlog

from tests.support import FakeClock
from watcher.genesys import GenesysClient, GenesysError, RoutingRule, Strategy
from watcher.logs import configure_logging
from watcher.metrics import WatcherMetrics

from ._support import (
    AUDIT_PATH,
    BASIC,
    HEALTH_PATH,
    MARKERS,
    RULE_PATH,
    SECRET,
    STRATEGY_PATH,
    TOKEN_PREFIX,
    FakeGenesys,
    hang,
    json_response,
    make_client,
    rule_body,
    strategy_body,
)

pytestmark = pytest.mark.anyio

TOKEN = "/oauth/token"
Call = Callable[[GenesysClient], Awaitable[object]]


async def echo_authorization(request: httpx.Request) -> httpx.Response:
    """A gateway that quotes the request's credential back in its error message."""
    return json_response(400, {"message": f"bad header: {request.headers.get('Authorization')}"})


async def health(client: GenesysClient) -> object:
    return await client.region_health("us-east-1", retries=2)


async def put_strategy(client: GenesysClient) -> object:
    return await client.put_strategy(Strategy.model_validate(strategy_body()))


async def put_rule(client: GenesysClient) -> object:
    return await client.put_rule("rule-1", RoutingRule.model_validate(rule_body()))


async def audit(client: GenesysClient) -> object:
    return [e async for e in client.audit_logs("strategy-1")]


# (name, scripted routes, call); every call must end in a GenesysError.
SCENARIOS: list[tuple[str, list[tuple[str, str, list[Any]]], Call]] = [
    ("token-401", [("POST", TOKEN, [json_response(401, {"error": "invalid_client"})])], health),
    ("token-400", [("POST", TOKEN, [json_response(400, {"error_description": "bad grant"})])], health),
    ("token-throttled", [("POST", TOKEN, [json_response(400, {"message": "rate limit exceeded"})])], health),
    ("token-429", [("POST", TOKEN, [json_response(429, {}, **{"Retry-After": "1"})])], health),
    ("token-5xx", [("POST", TOKEN, [json_response(503, {"message": "down"})])], health),
    ("token-transport", [("POST", TOKEN, [httpx.ConnectError("refused")])], health),
    ("token-timeout", [("POST", TOKEN, [hang])], health),
    ("token-malformed", [("POST", TOKEN, [httpx.Response(200, content=b"{not json")])], health),
    ("token-echo", [("POST", TOKEN, [echo_authorization])], health),
    ("api-401-twice", [("GET", HEALTH_PATH, [json_response(401, {"message": "no"})])], health),
    ("api-400", [("PUT", RULE_PATH, [json_response(400, {"message": "schema"})])], put_rule),
    ("api-400-echo", [("PUT", RULE_PATH, [echo_authorization])], put_rule),
    ("api-403", [("PUT", STRATEGY_PATH, [json_response(403, {"message": "scope"})])], put_strategy),
    ("api-404", [("GET", HEALTH_PATH, [json_response(404, {"message": "gone"})])], health),
    ("api-409", [("PUT", STRATEGY_PATH, [json_response(409, {"message": "conflict"})])], put_strategy),
    (
        "api-400-version",
        [("PUT", RULE_PATH, [json_response(400, {"message": "does not match the current version"})])],
        put_rule,
    ),
    ("api-429", [("GET", HEALTH_PATH, [json_response(429, {}, **{"Retry-After": "3"})])], health),
    ("api-5xx", [("GET", HEALTH_PATH, [json_response(500, {"message": "boom"})])], health),
    ("api-transport", [("GET", HEALTH_PATH, [httpx.ConnectError("reset")])], health),
    ("api-timeout", [("GET", HEALTH_PATH, [hang])], health),
    ("api-bad-json", [("GET", HEALTH_PATH, [httpx.Response(200, content=b"<html>")])], health),
    ("api-wrong-shape", [("GET", HEALTH_PATH, [json_response(200, {"status": 5})])], health),
    (
        "audit-other-host",
        [("GET", AUDIT_PATH, [json_response(200, {"entities": [], "nextPage": "https://evil.example/x"})])],
        audit,
    ),
]


async def run_scenario(
    routes: list[tuple[str, str, list[Any]]], call: Call, seen: list[object], api_log: list[httpx.Request]
) -> None:
    fake_time = FakeClock(autojump=True)
    api = FakeGenesys()
    for method, path, answers in routes:
        api.on(method, path, *answers)
    client = make_client(api, fake_time, WatcherMetrics(), request_timeout_seconds=0.05, max_retries=2)
    log = structlog.get_logger("watcher.test")
    async with client:
        with anyio.fail_after(5), pytest.raises(GenesysError) as caught:
            await call(client)
        exc = caught.value
        # The daemon's way of reporting a failure: structlog with the traceback, and stdlib for libraries.
        log.error("call failed", error=str(exc), exc_info=exc)
        log.warning("call failed", error=exc)
        logging.getLogger("watcher.test").error("call failed: %s", exc, exc_info=exc)
        seen += [exc, exc.__context__, exc.__cause__, client, client.tokens, client.settings]
        seen.append("".join(traceback.format_exception(exc)))
        seen.append(client.tokens._current)
    api_log += api.requests


async def test_no_credential_leaks_on_any_error_path(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    out = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=out)
    seen: list[object] = []
    api_log: list[httpx.Request] = []
    for _name, routes, call in SCENARIOS:
        await run_scenario(routes, call, seen, api_log)

    # The refresher's failure path logs too.
    api = FakeGenesys()
    api.on("POST", TOKEN, json_response(500, {"message": f"Bearer {TOKEN_PREFIX}-x"}))
    fake_time = FakeClock(autojump=True)
    client = make_client(api, fake_time, max_retries=0)
    async with client, anyio.create_task_group() as tg:
        tg.start_soon(client.tokens.run_refresher)
        while len(fake_time.sleeps) < 2:
            await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()

    texts = [out.getvalue(), caplog.text, *(str(x) for x in seen), *(repr(x) for x in seen)]
    # The markers really travelled: otherwise this test could not fail.
    assert any(r.headers.get("Authorization") == f"Basic {BASIC}" for r in api_log)
    assert any(r.headers.get("Authorization", "").startswith(f"Bearer {TOKEN_PREFIX}") for r in api_log)
    assert "token refused; fetching a new one" in out.getvalue()
    assert "token refresh failed" in out.getvalue()
    assert "Traceback" in out.getvalue()
    assert out.getvalue().count("call failed") == 2 * len(SCENARIOS)
    assert "[redacted]" in out.getvalue()  # the echoed credentials were masked, not dropped silently
    for marker in MARKERS:
        for text in texts:
            assert marker not in text, f"{marker!r} leaked into: {text[:300]!r}"
    assert SECRET not in out.getvalue()
