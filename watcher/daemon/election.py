"""Leader election on etcd v3, through its JSON gateway (no gRPC client, no new dependency).

etcd's own election recipe, simplified: a key (`leader.key`) is created under a lease only if it
does not exist (a transaction comparing its create revision with 0); whoever created it leads while
it keeps the lease alive. Followers read the key every `ttl/3` and campaign again when it is gone.
Revoking the lease deletes the key, which is how a stopping leader hands over at once rather than
after the TTL.

Why the local clock gates writes: etcd expires a lease `ttl` seconds after the last keepalive it
*received*; this instance cannot know about expiry while it is cut off from etcd. So a write is only
allowed until `sent + ttl - margin`, where `sent` is the local monotonic time at which the last
successful keepalive (or grant) was *sent*: the server's countdown started no earlier than that.
`margin` (a quarter of the TTL) covers what the countdown cannot: a write that passed the gate just
before the deadline and is still on the wire, and the rate difference between two hosts' clocks.
With refreshes every `ttl/3`, the window (`0.75 ttl`) survives one lost refresh.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import structlog

from watcher.aio import Backoff
from watcher.config import LeaderSettings
from watcher.daemon.leadership import default_instance_id
from watcher.etcd import EtcdError, EtcdGateway

log = structlog.get_logger("watcher.leader")

SAFETY_FRACTION = 0.25  # of the TTL: see the module docstring
RESIGN_TIMEOUT_SECONDS = 2.0
MIN_BACKOFF_SECONDS = 0.05


class EtcdLeaderElection:
    """Leadership held as an etcd key under a lease; implements `watcher.daemon.leadership.Leadership`.

    >>> # settings = LeaderSettings(backend="etcd", endpoints=["http://etcd:2379"])
    >>> # election = EtcdLeaderElection(settings, on_change=lambda leader: print(leader))
    >>> # await election.run(stop)      # campaigns, holds, and resigns when `stop` is set
    """

    def __init__(
        self,
        settings: LeaderSettings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.instance_id = settings.instance_id or default_instance_id()
        self.on_change = on_change
        self.ttl = settings.ttl_seconds
        self.margin = SAFETY_FRACTION * self.ttl
        self.interval = self.ttl / 3
        self._http = http
        self._clock = clock
        self._sleep = sleep
        # Each call must give up well before the lease could lapse.
        self._gateway = EtcdGateway(settings.endpoints, http, min(5.0, self.interval))
        self._leader = False
        self._lease: int | None = None  # the lease this instance holds, whether or not it leads
        self._valid_until = -math.inf
        self._holder: str | None = None

    # ------------------------------------------------------------------------------ Leadership

    @property
    def is_leader(self) -> bool:
        return self._leader

    async def may_write(self, strategy: str) -> bool:
        return self._leader and self._clock() < self._valid_until

    async def confirm(self, strategy: str) -> bool:
        """Read the leader key (etcd's range is linearizable): still ours, under our lease, and the
        write window still open after the answer came back."""
        if not await self.may_write(strategy):
            return False
        lease = self._lease
        try:
            holder = await self._gateway.holder(self.settings.key)
        except (EtcdError, KeyError, TypeError, ValueError) as exc:
            log.warning("leadership not confirmed: etcd did not answer", error=str(exc), strategy=strategy)
            return False
        if holder is None or lease is None or holder.lease != lease:
            self._holder = holder.instance if holder else None
            log.error(
                "leadership not confirmed: the leader key is held by another instance; not writing",
                holder=self._holder,
                strategy=strategy,
                instance=self.instance_id,
            )
            self._step_down("the leader key is no longer held under this instance's lease")
            return False
        return await self.may_write(strategy)

    @property
    def fences(self) -> bool:
        return True

    async def load_shared(self, name: str) -> str | None:
        return await self._gateway.get(f"{self.settings.key}/shared/{name}")

    async def save_shared(self, name: str, value: str) -> None:
        await self._gateway.put(f"{self.settings.key}/shared/{name}", value)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "etcd",
            "instance": self.instance_id,
            "leader": self._leader,
            "holder": self._holder,
            "ttl": self.ttl,
            "endpoint": self._gateway.endpoint,
            "key": self.settings.key,
        }

    async def run(self, stop: anyio.Event) -> None:
        """Campaign and hold until `stop`; then resign (revoke the lease) so a successor starts now."""
        async with self._client() as http:
            self._gateway.http = http
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._campaign_forever)
                    await stop.wait()
                    tg.cancel_scope.cancel()
            finally:
                # Shielded: the daemon cancels its tasks right after the stop event.
                with anyio.CancelScope(shield=True), anyio.move_on_after(RESIGN_TIMEOUT_SECONDS):
                    await self._resign()

    # ------------------------------------------------------------------------------ the loop

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
        else:
            async with httpx.AsyncClient() as http:
                yield http

    async def _campaign_forever(self) -> None:
        failures = 0
        while True:
            try:
                await (self._refresh() if self._leader else self._campaign())
            except (EtcdError, KeyError, TypeError, ValueError) as exc:  # the last three: odd answers
                failures += 1
                delay = Backoff(2 * MIN_BACKOFF_SECONDS, self.interval, "half").delay(failures)
                log.warning(
                    "etcd call failed; retrying",
                    leader=self._leader,
                    error=str(exc) if isinstance(exc, EtcdError) else repr(exc),
                    retry_in=round(delay, 3),
                    instance=self.instance_id,
                )
            else:
                failures = 0
                delay = self.interval
            if self._leader:
                # Never sleep past the moment the right to write runs out.
                delay = max(0.0, min(delay, self._valid_until - self._clock()))
            await self._sleep(delay)
            if self._leader and self._clock() >= self._valid_until:
                self._step_down("no successful keepalive within the lease's safe window")

    async def _campaign(self) -> None:
        gw = self._gateway
        holder = await gw.holder(self.settings.key)
        self._holder = holder.instance if holder else None
        if holder is not None:
            if self._lease is not None and holder.lease == self._lease:
                # Still ours (a keepalive or campaign answer was lost on the way): reclaim it.
                await self._refresh()
            return
        sent = self._clock()
        # A lease left from a campaign whose answer was lost is reused if etcd still knows it.
        lease = self._lease
        granted = 0 if lease is None else await gw.keepalive(lease)
        if lease is None or granted <= 0:
            lease, granted = await gw.grant(self.ttl)
            self._lease = lease
        self._valid_until = sent + min(self.ttl, granted) - self.margin
        won, holder = await gw.campaign(self.settings.key, self.instance_id, lease)
        self._holder = holder.instance if holder else None
        if won:
            self._become_leader()
        else:
            await self._drop_lease()

    async def _refresh(self) -> None:
        lease = self._lease
        if lease is None:
            self._step_down("no lease")
            return
        gw = self._gateway
        sent = self._clock()
        ttl = await gw.keepalive(lease)
        if ttl <= 0:
            self._lease = None
            self._step_down("lease expired or revoked in etcd")
            return
        holder = await gw.holder(self.settings.key)
        self._holder = holder.instance if holder else None
        if holder is None or holder.lease != lease:
            self._step_down("leader key no longer held under this instance's lease")
            await self._drop_lease()
            return
        self._valid_until = sent + min(self.ttl, ttl) - self.margin
        self._become_leader()

    async def _drop_lease(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(EtcdError):
                await self._gateway.revoke(lease)

    async def _resign(self) -> None:
        self._step_down("stopping")
        try:
            await self._drop_lease()
        except Exception as exc:  # never fail a shutdown over etcd; the lease lapses by itself
            log.warning("could not revoke the leader lease", error=repr(exc), instance=self.instance_id)

    # ------------------------------------------------------------------------------ transitions

    def _become_leader(self) -> None:
        self._holder = self.instance_id
        if self._clock() >= self._valid_until:
            # etcd answered so late that the write window is already over: leading now would only
            # flap. The key stays ours; the next round reclaims it if etcd answers in time.
            self._step_down("etcd answered after the write window closed")
            return
        if self._leader:
            return
        self._leader = True
        log.info("elected leader", instance=self.instance_id, key=self.settings.key, ttl=self.ttl)
        self._notify(True)

    def _step_down(self, reason: str) -> None:
        self._valid_until = -math.inf
        if not self._leader:
            return
        self._leader = False
        if self._holder == self.instance_id:
            self._holder = None
        log.warning("stepping down as leader", instance=self.instance_id, reason=reason)
        self._notify(False)

    def _notify(self, leader: bool) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(leader)
        except Exception as exc:  # the daemon's callback must not break the election
            log.error("leadership callback failed", error=repr(exc), leader=leader)
