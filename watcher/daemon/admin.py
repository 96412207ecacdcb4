"""Operator commands of a running daemon: hold, pin, release, dry run (behind the admin API)."""

from __future__ import annotations

from typing import Any

import structlog

from watcher.core import Event, OperatorHold, OperatorPin, OperatorRelease, Tick
from watcher.daemon.engine import policy_from_config
from watcher.daemon.parts import Shell
from watcher.daemon.probes import Probes

log = structlog.get_logger("watcher.daemon")


class AdminCommands:
    """What `/admin/*` does; each answer is the strategy's `/status` entry after the command."""

    def __init__(self, shell: Shell, probes: Probes) -> None:
        self._shell = shell
        self._probes = probes

    def _known(self, strategy: str) -> None:
        if strategy not in self._shell.engine.world.strategies:
            raise KeyError(f"unknown strategy {strategy!r}")

    async def hold(self, strategy: str, seconds: float, region: str | None, reason: str) -> dict[str, Any]:
        self._known(strategy)
        now = self._shell.clock()
        event: Event
        if region is not None:
            event = OperatorPin(strategy, region, now + seconds, now, reason)
        else:
            event = OperatorHold(strategy, now + seconds, now, reason)
        log.warning(
            "operator " + ("pin" if region else "hold"),
            strategy=strategy,
            region=region,
            seconds=seconds,
            reason=reason,
        )
        await self._shell.engine.feed(event)
        return self._probes.strategy_doc(strategy)

    async def release(self, strategy: str) -> dict[str, Any]:
        self._known(strategy)
        log.warning("operator release", strategy=strategy)
        await self._shell.engine.feed(OperatorRelease(strategy, self._shell.clock()))
        return self._probes.strategy_doc(strategy)

    async def set_dry_run(self, enabled: bool) -> dict[str, Any]:
        shell = self._shell
        shell.engine.replace_policy(policy_from_config(shell.config(), dry_run=enabled))
        shell.metrics.dry_run.set(1 if enabled else 0)
        log.warning("dry run " + ("enabled" if enabled else "disabled"))
        # Turning dry run off acts on the state of the world at once, not at the next poll.
        await shell.engine.feed(Tick(shell.clock()))
        return {"dryRun": enabled}
