"""The daemon's own wire (`transport_kind="aiohttp"`, no transport given: straight to aiohttp) over
real loopback TCP, against a raw HTTP/1.1 server that records the bytes it receives. What httpx's
client put on the wire must still be there; what goes wrong in transit is typed as on httpx's wire.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import pytest
from anyio.abc import SocketStream
from pydantic import SecretStr

from watcher.config import GenesysSettings
from watcher.genesys import (
    GenesysClient,
    MalformedResponse,
    RequestTimeout,
    RoutingRule,
    ServerError,
    TransportFailure,
)
from watcher.genesys.transport import AiohttpWire
from watcher.metrics import WatcherMetrics

from ._support import MARKERS, SECRET, TOKEN_PREFIX

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/us-east-1/health"


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def answer(status: int, body: bytes | dict[str, object], **headers: str) -> bytes:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    head = {"Content-Type": "application/json", "Content-Length": str(len(content)), **headers}
    lines = [f"HTTP/1.1 {status} X"] + [f"{k.replace('_', '-')}: {v}" for k, v in head.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


Script = Callable[[Seen], Awaitable[bytes | None]]  # None: hang up without an answer


@dataclass
class RawServer:
    """One HTTP/1.1 server on loopback: keep-alive, requests recorded, answers scripted by path."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self) -> list[Seen]:
        return [s for s in self.seen if not s.target.startswith("/oauth")]

    async def _read(self, stream: SocketStream, buffer: bytearray) -> Seen | None:
        while b"\r\n\r\n" not in buffer:
            try:
                buffer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return None
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        request_line, *lines = head.decode().split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        size = int(headers.get("content-length", "0"))
        body = bytearray(rest)
        while len(body) < size:
            body += await stream.receive()
        buffer[:] = body[size:]
        return Seen(method, target, headers, bytes(body[:size]))

    async def _serve(self, stream: SocketStream) -> None:
        buffer = bytearray()
        async with stream:
            while (seen := await self._read(stream, buffer)) is not None:
                self.seen.append(seen)
                path = seen.target.split("?", 1)[0]
                if path.startswith("http://"):  # as a proxy is asked: the absolute form
                    path = "/" + path.split("/", 3)[3]
                if path == "/oauth/token":
                    token = {"access_token": f"{TOKEN_PREFIX}-1", "token_type": "bearer", "expires_in": 3600}
                    out: bytes | None = answer(200, token)
                elif path in self.scripts:
                    out = await self.scripts[path](seen)
                else:
                    out = answer(404, {"message": "no such thing"})
                if out is None:
                    return
                await stream.send(out)


@asynccontextmanager
async def raw_server() -> AsyncIterator[RawServer]:
    server = RawServer()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    server.port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - not Django
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server._serve)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def wired(
    server: RawServer, metrics: WatcherMetrics | None = None, base: str | None = None, **values: object
) -> AsyncIterator[GenesysClient]:
    cfg = GenesysSettings(
        client_id="watcher-client",
        api_base_url=base or server.url,
        login_base_url=base or server.url,
        max_retries=0,
        **values,
    )
    async with GenesysClient(cfg, SecretStr(SECRET), transport_kind="aiohttp", metrics=metrics) as client:
        assert isinstance(client._wire, AiohttpWire)  # the daemon's wire, not httpx's
        yield client


def always(out: bytes | None) -> Script:
    async def script(_seen: Seen) -> bytes | None:
        return out

    return script


async def test_a_poll_carries_the_token_and_the_client_headers_and_reuses_its_connection() -> None:
    async with raw_server() as server, wired(server) as client:
        server.scripts[HEALTH] = always(answer(200, {"status": "HEALTHY"}))
        for _ in range(3):
            assert (await client.region_health("us-east-1")).status == "HEALTHY"
    polls = server.api()
    assert [s.target for s in polls] == [HEALTH] * 3
    first = polls[0].headers
    assert first["authorization"] == f"Bearer {TOKEN_PREFIX}-1"
    assert first["accept"] == "application/json"
    assert first["user-agent"] == "failover-watcher"
    assert "gzip" in first["accept-encoding"]
    assert first["host"] == f"127.0.0.1:{server.port}"
    assert "cookie" not in first


async def test_a_put_sends_its_json_body_as_httpx_would_and_the_query_is_kept() -> None:
    rule = RoutingRule.model_validate(
        {"id": "rule-1", "version": 3, "priority": 5, "targets": [{"id": "t-1"}], "conditions": []}
    )
    written = {**rule.model_dump(mode="json", exclude_none=True), "version": 4}
    async with raw_server() as server, wired(server) as client:
        server.scripts["/api/v2/eventbridge/routing/rules/rule-1"] = always(answer(200, written))
        server.scripts["/api/v2/platform/auditlogs"] = always(answer(200, {"entities": []}))
        assert (await client.put_rule("rule-1", rule)).version == 4
        async for _ in client.audit_logs("strategy-1", page_size=7):
            pass
    put, audit = server.api()
    assert put.method == "PUT"
    assert put.headers["content-type"] == "application/json"
    assert (
        put.body
        == json.dumps(
            rule.model_dump(mode="json", exclude_none=True), separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert int(put.headers["content-length"]) == len(put.body)
    assert audit.target.split("?", 1)[1] == "pageSize=7&filterEntityId=strategy-1"


async def test_a_compressed_answer_is_decoded() -> None:
    body = gzip.compress(b'{"status": "DEGRADED"}')
    async with raw_server() as server, wired(server) as client:
        server.scripts[HEALTH] = always(answer(200, body, Content_Encoding="gzip"))
        assert (await client.region_health("us-east-1")).status == "DEGRADED"


async def test_an_undecodable_body_is_malformed_and_counted() -> None:
    metrics = WatcherMetrics()
    async with raw_server() as server, wired(server, metrics) as client:
        server.scripts[HEALTH] = always(answer(200, b"not gzip at all", Content_Encoding="gzip"))
        with pytest.raises(MalformedResponse, match="could not be decoded"):
            await client.region_health("us-east-1")
        server.scripts[HEALTH] = always(answer(200, b"<html>", Content_Type="text/html"))
        with pytest.raises(MalformedResponse, match="not JSON"):
            await client.region_health("us-east-1")
    sample = metrics.registry.get_sample_value
    assert sample("failover_watcher_malformed_responses_total", {"endpoint": "region_health"}) == 2


async def test_a_body_that_never_ends_is_a_timeout_within_the_deadline() -> None:
    async def stalled(_seen: Seen) -> bytes | None:
        await anyio.sleep_forever()
        return None

    async with raw_server() as server, wired(server) as client:
        server.scripts[HEALTH] = always(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"status": '
        )
        started = anyio.current_time()
        with anyio.fail_after(5), pytest.raises(RequestTimeout, match=r"no answer within 0\.3s"):
            await client.region_health("us-east-1", timeout=0.3)
        assert anyio.current_time() - started < 2.0
        server.scripts[HEALTH] = stalled  # no status line at all
        with anyio.fail_after(5), pytest.raises(RequestTimeout):
            await client.region_health("us-east-1", timeout=0.3)


async def test_a_hang_up_is_a_transport_failure_and_the_next_call_still_works() -> None:
    async with raw_server() as server, wired(server) as client:
        server.scripts[HEALTH] = always(None)
        with pytest.raises(TransportFailure, match="closed or broken") as caught:
            await client.region_health("us-east-1")
        assert not isinstance(caught.value, RequestTimeout)
        server.scripts[HEALTH] = always(answer(503, {"message": "busy"}))
        with pytest.raises(ServerError, match="busy"):
            await client.region_health("us-east-1")


async def test_a_redirect_is_not_followed_and_a_cookie_is_not_sent_back() -> None:
    async with raw_server() as server, wired(server) as client:
        server.scripts[HEALTH] = always(
            answer(302, {"message": "moved"}, Location="http://elsewhere.test/steal", Set_Cookie="s=1")
        )
        with pytest.raises(Exception, match="HTTP 302") as caught:
            await client.region_health("us-east-1")
        server.scripts[HEALTH] = always(answer(200, {"status": "HEALTHY"}))
        await client.region_health("us-east-1")
    assert [s.target for s in server.api()] == [HEALTH, HEALTH]  # nothing followed
    assert "cookie" not in server.api()[1].headers
    assert not any(marker in str(caught.value) for marker in MARKERS)


async def test_the_probe_gets_the_exchange_time_and_the_budget_follows_the_platform_count() -> None:
    async with raw_server() as server, wired(server) as client:
        server.scripts["/api/v2/date"] = always(
            answer(
                200,
                {"currentDate": "2026-12-07T00:00:00.000Z"},
                inin_ratelimit_count="250",
                inin_ratelimit_allowed="300",
                inin_ratelimit_reset="30",
            )
        )
        got = await client.probe(client.url("date"), timeout=2.0)
        assert got.status == 200
        assert got.latency_ms is not None
        assert 0 <= got.latency_ms < 2000
        # The platform said 50 are left of its window: the budget believes no more than that.
        assert client.budget.available <= 50


async def test_closing_the_client_closes_the_shared_session() -> None:
    async with raw_server() as server:
        async with wired(server) as client:
            server.scripts[HEALTH] = always(answer(200, {"status": "HEALTHY"}))
            await client.region_health("us-east-1")
            wire = client._wire
            assert isinstance(wire, AiohttpWire)
        assert wire.session().closed


async def test_the_proxy_of_the_environment_is_used_as_httpx_used_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Behind a corporate proxy (HTTP_PROXY / HTTPS_PROXY), every call goes through it, the token's too.
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    async with raw_server() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        proxy.scripts[HEALTH] = always(answer(200, {"status": "HEALTHY"}))
        async with wired(proxy, base="http://api.genesys.invalid") as client:
            assert (await client.region_health("us-east-1")).status == "HEALTHY"
    assert [s.target for s in proxy.seen] == [
        "http://api.genesys.invalid/oauth/token",
        f"http://api.genesys.invalid{HEALTH}",
    ]


async def test_an_id_is_sent_quoted_once_as_the_path_template_quotes_it() -> None:
    # An id is quoted by `url` (a slash cannot reach another path); aiohttp must not quote it again.
    quoted = "/api/v2/architecture/regions/eu%2Fwest%201%C3%A9/health"
    async with raw_server() as server, wired(server) as client:
        server.scripts[quoted] = always(answer(200, {"status": "HEALTHY"}))
        assert (await client.region_health("eu/west 1é")).status == "HEALTHY"
    assert [s.target for s in server.api()] == [quoted]
