"""Leadership: the one gate every write passes, so that several watchers never write at once.

The failover core decides in every instance (a follower keeps warm state, ready to take over); only
the leader's executor writes and emits events. Backends: `SingleInstance` (always the leader: run
exactly one) here, and `EtcdLeaderElection` (a key held under an etcd lease) in `election.py`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, Protocol

import anyio
import structlog

from watcher.config import WatcherConfig
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.daemon")


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Leadership(Protocol):
    """What the daemon asks of a leadership backend."""

    on_change: Callable[[bool], None] | None

    @property
    def is_leader(self) -> bool: ...

    async def may_write(self, strategy: str) -> bool:
        """True only while this instance is certainly the leader (its lease cannot have lapsed)."""
        ...

    async def confirm(self, strategy: str) -> bool:
        """A linearizable check, made right before a write is sent, that this instance still leads
        (the leader key is still held under its lease, and the lease cannot have lapsed)."""
        ...

    @property
    def fences(self) -> bool:
        """Whether other instances may have written: then a new leader fences what it owns."""
        ...

    async def load_shared(self, name: str) -> str | None:
        """State shared by every instance (operator commands), as the last leader left it."""
        ...

    async def save_shared(self, name: str, value: str) -> None: ...

    async def run(self, stop: anyio.Event) -> None:
        """Campaign and keep leadership until `stop`; give it up on the way out."""
        ...

    def describe(self) -> dict[str, Any]:
        """For `/status`: backend, this instance, whether it leads, and who does."""
        ...


class SingleInstance:
    """Always the leader: the deployment guarantees one instance (replicas: 1, Recreate)."""

    def __init__(
        self, instance_id: str | None = None, *, on_change: Callable[[bool], None] | None = None
    ) -> None:
        self.instance_id = instance_id or default_instance_id()
        self.on_change = on_change

    @property
    def is_leader(self) -> bool:
        return True

    async def may_write(self, strategy: str) -> bool:
        return True

    async def confirm(self, strategy: str) -> bool:
        return True

    @property
    def fences(self) -> bool:
        return False

    async def load_shared(self, name: str) -> str | None:
        return None  # one instance: its [state] dir is the whole truth

    async def save_shared(self, name: str, value: str) -> None:
        return None

    async def run(self, stop: anyio.Event) -> None:
        if self.on_change is not None:
            self.on_change(True)
        await stop.wait()

    def describe(self) -> dict[str, Any]:
        return {"backend": "none", "instance": self.instance_id, "leader": True, "holder": self.instance_id}


class Takeovers:
    """What a change of leadership sets off, without calling into whoever runs the daemon.

    The leadership backend calls it (its `on_change`) from its own task: the gauge is set at once;
    a gain marks every strategy unread again (what the API holds is the truth: the former leader
    may have switched, or died before it could) and wakes the initial read, which waits on `next`.
    Losing leadership needs nothing more: writes stop at the gate.
    """

    def __init__(
        self, metrics: WatcherMetrics, unread: set[str], config: Callable[[], WatcherConfig]
    ) -> None:
        self._metrics = metrics
        self._unread = unread  # shared with the read-back and the executor: changed in place
        self._config = config
        self._wanted = anyio.Event()

    def __call__(self, leader: bool) -> None:
        self._metrics.leader.set(1 if leader else 0)
        (log.info if leader else log.warning)("leadership " + ("gained" if leader else "lost"))
        if leader:
            self._unread.update(s.id for s in self._config().strategies)
            self._wanted.set()

    def read_new(self) -> None:
        """A reload added strategies while this instance leads: read them."""
        self._wanted.set()

    async def next(self) -> None:
        """Wait until strategies are to be read (at once if that was asked meanwhile)."""
        await self._wanted.wait()
        self._wanted = anyio.Event()
