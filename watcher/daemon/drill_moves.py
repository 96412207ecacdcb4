"""A drill's move (SPEC §8): a `MoveTo` of the drill machine made through the core as an
operator-style move of kind "drill" (the gated write path of every switch), then verified by
reading back the API's copy of the strategy and every follower on the region. The answer is the
machine's `Moved`: ok or why not, and each write's latency.
"""

from __future__ import annotations

import anyio

from watcher.core import (
    Event,
    OperatorFailback,
    OperatorMove,
    WriteFailed,
    WriteSkipped,
    WriteSucceeded,
)
from watcher.daemon.parts import Parts, Shell
from watcher.drills import DrillWrite, MoveTo
from watcher.genesys import GenesysError

MOVE_WAIT_SECONDS = 30.0  # a move's write outcome, as an operator's move waits for it
READBACK_SECONDS = 15.0  # then the strategy and every follower read back on the region


class DrillMoves:
    """Makes a drill's moves for one daemon."""

    def __init__(self, shell: Shell, parts: Parts) -> None:
        self._shell = shell
        self._parts = parts

    async def move(self, move: MoveTo) -> tuple[bool, tuple[DrillWrite, ...], str | None]:
        """Write, then read back: (ok, the writes, why not)."""
        ok, writes, reason = await self._write(move)
        if ok:
            ok, reason = await self._read_back(move.strategy, move.region)
        return ok, writes, reason

    async def _write(self, move: MoveTo) -> tuple[bool, tuple[DrillWrite, ...], str | None]:
        """The move through the core (kind "drill") and the executor; the writes it made."""
        engine, clock = self._shell.engine, self._shell.clock
        event: Event
        if move.leg == "to":
            event = OperatorMove(move.strategy, move.region, clock(), reason=move.reason, drill=True)
        else:
            event = OperatorFailback(move.strategy, clock(), reason=move.reason, drill=True)
        switched = await engine.switch(event, MOVE_WAIT_SECONDS)
        if switched.refused is not None:
            return False, (), switched.refused.explanation.summary
        if switched.write is None:
            return True, (), None  # already there
        outcome = switched.outcome
        writes = self._writes(move)
        match outcome:
            case WriteSucceeded():
                return True, writes, None
            case WriteFailed():
                return False, writes, outcome.error
            case WriteSkipped():
                return False, writes, "not written (dry run, or this instance does not lead)"
        return False, writes, f"still in flight after {MOVE_WAIT_SECONDS:g}s"

    def _writes(self, move: MoveTo) -> tuple[DrillWrite, ...]:
        last = self._shell.announce.last_switches.get(move.strategy) or {}
        if last.get("to") != move.region:
            return ()
        result = "success" if last.get("result") in ("success", "partial") else "failure"
        return tuple(
            DrillWrite(str(w["kind"]), str(w["id"]), float(w["latencySeconds"]) * 1000, result, move.leg)
            for w in last.get("writes", [])
        )

    async def _read_back(self, strategy: str, region: str) -> tuple[bool, str | None]:
        """The strategy and every follower read back on `region` (within `READBACK_SECONDS`)."""
        why: str | None = None
        with anyio.move_on_after(READBACK_SECONDS):
            while True:
                why = await self._off_region(strategy, region)
                if why is None:
                    return True, None
                await anyio.sleep(0.2)
        return False, f"read-back: {why}"

    async def _off_region(self, strategy: str, region: str) -> str | None:
        try:
            active = (await self._parts.readiness.strategies.of(strategy).read(strategy)).active_region()
            if active != region:
                return f"the API's copy of {strategy} routes to {active}, not {region}"
            for follower in self._parts.followers.of(strategy):
                if await follower.region_said() - {region}:
                    return f"{follower.kind} {follower.id} does not follow {region}"
        except GenesysError as exc:
            return f"could not read back: {exc}"
        return None
