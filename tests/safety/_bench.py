"""The test bench: a simulator on a free loopback port, its admin API, and an event receiver.

Every daemon of a test is configured against the bench (`bench.config(...)` writes its TOML file);
the receiver listens on a port chosen up front, so it can be down while a daemon runs (events must
wait in the outbox) and come up later on the same URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.safety._config import (
    OTHER,
    PRIMARY,
    SECONDARY,
    base_config,
    free_port,
    merged,
    sink,
    write_config,
)
from tests.safety._sim import SimAdmin
from watcher.events import ReceivedEvents, generate_secret, running_receiver
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator, strategy_seed

OPERATOR = "com.genesys.failover.operator"
SWITCHING = "com.genesys.failover.switching"
SWITCHED = "com.genesys.failover.switched"
FAILBACK = "com.genesys.failover.failback"
SWITCH_FAILED = "com.genesys.failover.switch_failed"
REGION_CHANGED = "com.genesys.failover.region_changed"
RESYNC = "com.genesys.failover.resync"

TWO_STRATEGIES = [
    {"id": "strategy-1", "regions": [PRIMARY, SECONDARY]},
    {"id": OTHER, "regions": [PRIMARY, SECONDARY]},
]


@dataclass
class Bench:
    tmp: Path
    sim: RunningSimulator
    admin: SimAdmin
    secret: str
    sink_port: int
    receivers: list[ReceivedEvents] = field(default_factory=list)

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_port}/events"

    def state_dir(self, name: str = "watcher") -> Path:
        return self.tmp / f"{name}-state"

    def config(self, name: str = "watcher", *, with_sink: bool = True, **overrides: Any) -> Path:
        """Write `<tmp>/<name>.toml` (state in `<tmp>/<name>-state`) and return its path."""
        data = merged(base_config(self.sim.base_url, self.state_dir(name), free_port()), **overrides)
        if with_sink and "sinks" not in overrides:
            data["sinks"] = [sink("events", self.sink_url, self.secret)]
        return write_config(self.tmp / f"{name}.toml", data)

    async def seed_second_strategy(self) -> None:
        await self.admin.put_strategy(OTHER, strategy_seed(OTHER, [PRIMARY, SECONDARY]))

    @contextlib.asynccontextmanager
    async def receiving(self) -> AsyncIterator[ReceivedEvents]:
        """The event receiver, up for the life of the block, on the bench's sink URL."""
        async with running_receiver([self.secret], port=self.sink_port) as received:
            self.receivers.append(received)
            yield received

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Every verified event any receiver of the bench got, once each, in arrival order."""
        seen: dict[str, dict[str, Any]] = {}
        for received in self.receivers:
            for e in received.events:
                seen.setdefault(e["id"], e)
        return [e for e in seen.values() if event_type is None or e["type"] == event_type]

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.receivers)


@contextlib.asynccontextmanager
async def bench(tmp_path: Path, *, receive: bool = True) -> AsyncIterator[Bench]:
    """A simulator with the default org (two regions, strategy-1, rule-1) and, if `receive`, a receiver."""
    state = SimulatorState(default_seed(), per_minute=100_000, seed_rng=7)
    async with (
        running_simulator(state) as sim,
        httpx.AsyncClient(base_url=sim.base_url, timeout=10.0) as http,
    ):
        b = Bench(tmp_path, sim, SimAdmin(http), generate_secret().get_secret_value(), free_port())
        if receive:
            async with b.receiving():
                yield b
        else:
            yield b
