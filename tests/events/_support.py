"""Helpers of the event tests: an independent test receiver.

The test receiver is deliberately NOT the package's receiver: it parses with the `cloudevents`
library and verifies with `standardwebhooks` directly, so a bug shared by our sender and our receiver
cannot hide. A chaos proxy in front of it plays a sink that is down (503, dropped connections).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import uvicorn
from cloudevents.core.bindings.http import HTTPMessage, from_structured_event
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import until
from watcher.metrics import WatcherMetrics


def sample(metrics: WatcherMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@dataclass
class CheckingReceiver:
    """Accepts (or fails on purpose) and records every verified delivery, duplicates included."""

    secret: SecretStr
    status: int = 200
    url: str = ""
    attempts: int = 0
    verified: list[dict[str, Any]] = field(default_factory=list)
    first_seen: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        webhook = Webhook(self.secret.get_secret_value())

        async def handle(request: Request) -> Response:
            self.attempts += 1
            body = await request.body()
            headers = dict(request.headers)
            try:
                webhook.verify(body, headers)
            except WebhookVerificationError as exc:
                self.failures.append(f"signature: {exc}")
                return Response(status_code=401)
            if headers.get("content-type") != "application/cloudevents+json":
                self.failures.append(f"content-type {headers.get('content-type')}")
            event = from_structured_event(HTTPMessage(headers=headers, body=body))
            record = {
                "id": event.get_id(),
                "type": event.get_type(),
                "subject": event.get_subject(),
                "data": event.get_data(),
                "webhook_id": headers["webhook-id"],
            }
            if record["id"] != record["webhook_id"]:
                self.failures.append("webhook-id differs from the event id")
            if self.status != 200:
                return Response(status_code=self.status)
            self.verified.append(record)
            if any(seen["id"] == record["id"] for seen in self.first_seen):
                self.duplicates += 1
            else:
                self.first_seen.append(record)
            return Response(status_code=200)

        return Starlette(routes=[Route("/ingest", handle, methods=["POST"])])


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serve_checking_receiver(secret: SecretStr) -> AsyncIterator[CheckingReceiver]:
    receiver = CheckingReceiver(secret)
    sock = _bound_socket()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/ingest"
    server = _QuietServer(uvicorn.Config(receiver.app(), log_level="warning", lifespan="off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        await until(lambda: server.started)
        try:
            yield receiver
        finally:
            server.should_exit = True
    sock.close()


@dataclass
class ChaosProxy:
    """A TCP proxy that plays a broken sink for its first connections, then passes through.

    `script` lists what each new connection gets: "503" (a canned answer) or "drop" (the request
    is read and the connection closed without an answer); once exhausted, "pass".
    """

    upstream_port: int
    script: list[str]
    port: int = 0
    served: dict[str, int] = field(default_factory=lambda: {"503": 0, "drop": 0, "pass": 0})

    async def handle(self, client: anyio.abc.SocketStream) -> None:
        mode = self.script.pop(0) if self.script else "pass"
        self.served[mode] += 1
        async with client:
            if mode != "pass":
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                    await client.receive()
                    if mode == "503":
                        await client.send(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n"
                            b"connection: close\r\n\r\n"
                        )
                return
            async with await anyio.connect_tcp("127.0.0.1", self.upstream_port) as upstream:

                async def pump(src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream) -> None:
                    with contextlib.suppress(
                        anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError
                    ):
                        async for chunk in src:
                            await dst.send(chunk)
                    tg.cancel_scope.cancel()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(pump, client, upstream)
                    tg.start_soon(pump, upstream, client)


@contextlib.asynccontextmanager
async def serve_chaos_proxy(upstream_port: int, script: list[str]) -> AsyncIterator[ChaosProxy]:
    proxy = ChaosProxy(upstream_port, script)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    proxy.port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, proxy.handle)
        try:
            yield proxy
        finally:
            tg.cancel_scope.cancel()
