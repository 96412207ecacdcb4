"""Operator commands of a running daemon: hold, pin, release, dry run (behind the admin API).

Each command is kept on disk (`holds.py`), written to the audit trail and emitted as an event, and
so is the expiry of a hold or pin; a restart restores what is still in force.
"""

from __future__ import annotations

from typing import Any

import structlog

from watcher.core import Event, OperatorHold, OperatorPin, OperatorRelease, Tick
from watcher.daemon.engine import policy_from_config
from watcher.daemon.holds import Hold, OperatorState
from watcher.daemon.parts import Shell
from watcher.daemon.selfreport import Probes

log = structlog.get_logger("watcher.daemon")


class AdminCommands:
    """What `/admin/*` does; each answer is the strategy's `/status` entry after the command."""

    def __init__(self, shell: Shell, probes: Probes, state: OperatorState) -> None:
        self._shell = shell
        self._probes = probes
        self._state = state

    def _known(self, strategy: str) -> None:
        if strategy not in self._shell.engine.world.strategies:
            raise KeyError(f"unknown strategy {strategy!r}")

    async def _share(self) -> None:
        """With several instances, the commands are kept in etcd too: they follow a change of leader."""
        try:
            await self._shell.leadership.save_shared("operator", self._state.document())
        except Exception as exc:  # the local copy stands; the next command tries again
            log.error("could not share operator commands with the other instances", error=repr(exc))

    async def adopt_shared(self) -> None:
        """On becoming the leader: take the commands the last leader left, if newer than ours."""
        try:
            text = await self._shell.leadership.load_shared("operator")
        except Exception as exc:
            log.error("could not read the shared operator commands; keeping this instance's", error=repr(exc))
            return
        if text is None or not self._state.newer(text):
            return
        before = set(self._state.holds)
        self._state.adopt(text)
        self._state.persist()
        for strategy in before - set(self._state.holds):
            if strategy in self._shell.engine.world.strategies:
                await self._shell.engine.feed(OperatorRelease(strategy, self._shell.clock()))
        log.warning("operator commands adopted from the last leader", holds=sorted(self._state.holds))
        await self.restore()

    async def restore(self) -> None:
        """At start: put back the dry-run switch and every hold or pin still in force."""
        shell = self._shell
        if self._state.dry_run is not None and self._state.dry_run != shell.engine.policy.dry_run:
            shell.engine.replace_policy(policy_from_config(shell.config(), dry_run=self._state.dry_run))
            shell.metrics.dry_run.set(1 if self._state.dry_run else 0)
            log.warning("dry run restored from the operator state", enabled=self._state.dry_run)
        await self.expire()
        for hold in list(self._state.holds.values()):
            if hold.strategy not in shell.engine.world.strategies:
                continue
            log.warning("operator " + hold.command + " restored", strategy=hold.strategy, region=hold.region)
            await shell.engine.feed(self._event(hold, self._state.remaining(hold)))

    def _event(self, hold: Hold, seconds: float) -> Event:
        now = self._shell.clock()
        if hold.region is not None:
            return OperatorPin(hold.strategy, hold.region, now + seconds, now, hold.reason)
        return OperatorHold(hold.strategy, now + seconds, now, hold.reason)

    async def hold(self, strategy: str, seconds: float, region: str | None, reason: str) -> dict[str, Any]:
        self._known(strategy)
        wall = self._shell.wall
        hold = Hold(strategy, wall.now() + seconds, region, reason)
        log.warning(
            "operator " + hold.command, strategy=strategy, region=region, seconds=seconds, reason=reason
        )
        await self._shell.engine.feed(self._event(hold, seconds))
        doc = self._probes.strategy_doc(strategy)
        if doc.get("hold") or doc.get("pin"):  # a pin the core refused is not kept
            self._state.hold(hold)
            await self._share()
            await self._shell.announce.operator(
                hold.command,
                strategy,
                {"seconds": seconds, "region": region, "reason": reason, "until": wall.iso_wall(hold.until)},
            )
        return doc

    async def release(self, strategy: str) -> dict[str, Any]:
        self._known(strategy)
        log.warning("operator release", strategy=strategy)
        self._state.release(strategy)
        await self._share()
        await self._shell.engine.feed(OperatorRelease(strategy, self._shell.clock()))
        await self._shell.announce.operator("release", strategy, {})
        return self._probes.strategy_doc(strategy)

    async def set_dry_run(self, enabled: bool) -> dict[str, Any]:
        shell = self._shell
        shell.engine.replace_policy(policy_from_config(shell.config(), dry_run=enabled))
        shell.metrics.dry_run.set(1 if enabled else 0)
        self._state.set_dry_run(enabled)
        await self._share()
        log.warning("dry run " + ("enabled" if enabled else "disabled"))
        await shell.announce.operator("dry-run", None, {"enabled": enabled})
        # Turning dry run off acts on the state of the world at once, not at the next poll.
        await shell.engine.feed(Tick(shell.clock()))
        return {"dryRun": enabled}

    async def expire(self) -> None:
        """Holds and pins whose time is up: audited and emitted once (the core has let them go)."""
        for hold in self._state.expired():
            log.warning("operator " + hold.command + " expired", strategy=hold.strategy)
            await self._shell.announce.operator(
                "expired", hold.strategy, {"was": hold.command, "region": hold.region}
            )
