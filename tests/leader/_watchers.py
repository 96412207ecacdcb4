"""Two watchers for one organization, in this event loop: one simulator, one real etcd, each
watcher with its own state directory and HTTP server (`two_watchers`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from tests.daemon.conftest import watcher_config
from tests.leader.conftest import RealEtcd
from watcher.daemon.service import Watcher
from watcher.serving import base_url_of, bind_socket
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator


@dataclass
class Instance:
    name: str
    watcher: Watcher
    http: httpx.AsyncClient  # the daemon's own HTTP surface
    stopped: anyio.Event

    @property
    def leads(self) -> bool:
        return self.watcher.leadership.is_leader

    async def status(self) -> dict[str, Any]:
        return (await self.http.get("/status")).json()  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def two_watchers(
    tmp_path: Path, etcd: RealEtcd, **overrides: Any
) -> AsyncIterator[tuple[RunningSimulator, httpx.AsyncClient, list[Instance]]]:
    key = f"/failover-watcher-test/{uuid.uuid4().hex}"
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
        contextlib.AsyncExitStack() as stack,
        anyio.create_task_group() as tg,
    ):
        instances = []
        for name in ("w1", "w2"):
            leader = {
                "backend": "etcd",
                "endpoints": [etcd.url],
                "key": key,
                "ttl_seconds": 2,
                "instance_id": name,
            }
            cfg = watcher_config(sim.base_url, tmp_path / name, leader=leader, **overrides)
            sock = bind_socket("127.0.0.1", 0)
            watcher = Watcher(cfg, listen_socket=sock)
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base_url_of(sock)[0]))
            instance = Instance(name, watcher, http, anyio.Event())

            async def serve(i: Instance = instance) -> None:
                try:
                    await i.watcher.serve()
                finally:
                    i.stopped.set()

            tg.start_soon(serve)
            await watcher.started.wait()
            instances.append(instance)
        try:
            yield sim, admin, instances
        finally:
            for i in instances:
                i.watcher.request_stop()
