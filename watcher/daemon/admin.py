"""Operator commands of a running daemon (the admin API): hold, pin, release, dry run, move,
failback, and the drills' (`drill_commands.py`). Each command, and a hold's or pin's expiry, is
kept on disk (`holds.py`), audited and emitted; a restart restores what is still in force.

A command the watcher does not carry out is a refusal (`Refusal`, answered 4xx/5xx with the
reason): an unknown strategy or region, a pin the core would refuse (a region not healthy), a
command that cannot be kept on disk. Each refusal is in the audit trail too. A command is stored
before it is applied, so what was acknowledged is what a restart restores.

The disk is written from a worker thread, within `STORE_TIMEOUT_SECONDS`: a slow or hung fsync
refuses the command (503) instead of stalling the event loop, and with it every poll and switch.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import structlog

from watcher.core import (
    Event,
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorPin,
    OperatorRelease,
    Refused,
    Tick,
    WriteFailed,
    WriteSkipped,
    WriteSucceeded,
    step,
)
from watcher.daemon.drill_commands import DrillCommands
from watcher.daemon.drilling import DrillController
from watcher.daemon.engine import policy_from_config
from watcher.daemon.holds import Commands, Hold, NotStored, OperatorState
from watcher.daemon.http import Refusal
from watcher.daemon.kept_switches import KeptSwitches
from watcher.daemon.parts import Shell
from watcher.daemon.selfreport import Probes

log = structlog.get_logger("watcher.daemon")

# How long `move` and `failback` wait for their write's outcome before answering "still in flight".
SWITCH_WAIT_SECONDS = 30.0
STORE_TIMEOUT_SECONDS = 5.0


class AdminCommands:
    """What `/admin/*` does; each answer is the strategy's `/status` entry after the command."""

    def __init__(
        self, shell: Shell, probes: Probes, state: OperatorState, drilling: DrillController | None = None
    ) -> None:
        self._shell = shell
        self._drills = DrillCommands(shell, drilling)
        self._probes = probes
        self._state = state
        # One command at a time: each is planned from the state the one before left.
        self._commanding = anyio.Lock()
        # The safety budget outlives the process like the commands do (restored once, at start).
        self._switches = KeptSwitches(state.path.parent, shell.clock, shell.wall.now)

    def _known(self, strategy: str) -> None:
        if strategy not in self._shell.engine.world.strategies:
            known = ", ".join(sorted(self._shell.engine.world.strategies)) or "none"
            raise Refusal(404, f"unknown strategy {strategy!r} (configured: {known})", unknown="strategy")

    def _pinnable(self, strategy: str, region: str) -> None:
        """Refuse a pin the core would not carry out, with its reason, before anything is kept."""
        engine = self._shell.engine
        if region not in engine.world.regions:
            known = ", ".join(sorted(engine.world.regions))
            raise Refusal(404, f"unknown region {region!r} (configured: {known})", unknown="region")
        preference = next((sp.preference for sp in engine.policy.strategies if sp.id == strategy), ())
        if region not in preference:
            raise Refusal(
                400, f"cannot pin {strategy} to {region}: not one of its regions ({', '.join(preference)})"
            )
        # The core is pure: ask it what it would do with the pin, without applying it.
        now = self._shell.clock()
        _, actions = step(engine.world, OperatorPin(strategy, region, now + 1.0, now, ""), engine.policy)
        for action in actions:
            if isinstance(action, Refused) and action.strategy == strategy:
                raise Refusal(409, action.explanation.summary)

    async def refused(
        self, command: str, strategy: str | None, data: dict[str, Any], refusal: Refusal
    ) -> None:
        """A command not carried out: logged, counted and written to the audit trail."""
        log.warning(
            "operator command refused",
            command=command,
            strategy=strategy,
            code=refusal.status,
            reason=refusal.message,
        )
        await self._shell.announce.refusal(command, strategy, data, refusal.status, refusal.message)

    async def _write(self, commands: Commands) -> None:
        """`store` off the event loop, within `STORE_TIMEOUT_SECONDS` (`NotStored` otherwise)."""
        try:
            with anyio.fail_after(STORE_TIMEOUT_SECONDS):
                await anyio.to_thread.run_sync(self._state.store, commands, abandon_on_cancel=True)
        except TimeoutError:
            why = f"the disk did not answer within {STORE_TIMEOUT_SECONDS:g} s"
            self._shell.announce.disk.failed("operator", why)
            raise NotStored(f"cannot keep it on disk under [state] dir: {why}") from None

    async def _keep(self, command: str, strategy: str | None, commands: Commands) -> None:
        """Store `commands`, then take them; a refusal (503) when they cannot be stored."""
        try:
            await self._write(commands)
        except NotStored as exc:
            target = f" of {strategy}" if strategy else ""
            raise Refusal(503, f"{command}{target} refused: {exc}") from None
        self._state.take(commands)

    async def _persist(self) -> None:
        """Store the state as it is (after an expiry, an adoption): a failure is counted, not raised."""
        with contextlib.suppress(NotStored):
            await self._write(self._state.current)

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
        await self._persist()
        for strategy in before - set(self._state.holds):
            if strategy in self._shell.engine.world.strategies:
                await self._shell.engine.feed(OperatorRelease(strategy, self._shell.clock()))
        log.info("operator commands adopted from the last leader", holds=sorted(self._state.holds))
        await self.restore()

    async def restore(self) -> None:
        """At start: put back the dry-run switch and every hold or pin still in force."""
        shell = self._shell
        if self._state.dry_run is not None and self._state.dry_run != shell.engine.policy.dry_run:
            shell.engine.replace_policy(policy_from_config(shell.config(), dry_run=self._state.dry_run))
            shell.metrics.dry_run.set(1 if self._state.dry_run else 0)
            log.warning("dry run restored from the operator state", enabled=self._state.dry_run)
        if not shell.engine.world.ledger.switches:
            kept = self._switches.load()
            if kept.switches:
                shell.engine.adopt_ledger(kept)
                log.warning("safety budget restored", switches=len(kept.switches))
        await self.expire()
        for hold in list(self._state.holds.values()):
            if hold.strategy not in shell.engine.world.strategies:
                continue
            log.info("operator " + hold.command + " restored", strategy=hold.strategy, region=hold.region)
            await shell.engine.feed(self._event(hold, self._state.remaining(hold)))
        self._gauge_holds()

    def _gauge_holds(self) -> None:
        """`failover_watcher_operator_hold{strategy,kind}`: 1 while a hold or pin is in force."""
        gauge = self._shell.metrics.operator_holds
        for strategy in self._shell.engine.world.strategies:
            hold = self._state.holds.get(strategy)
            for kind in ("hold", "pin"):
                gauge.labels(strategy=strategy, kind=kind).set(1 if hold and hold.command == kind else 0)

    def _event(self, hold: Hold, seconds: float) -> Event:
        now = self._shell.clock()
        if hold.region is not None:
            return OperatorPin(hold.strategy, hold.region, now + seconds, now, hold.reason)
        return OperatorHold(hold.strategy, now + seconds, now, hold.reason)

    async def hold(self, strategy: str, seconds: float, region: str | None, reason: str) -> dict[str, Any]:
        wall = self._shell.wall
        hold = Hold(strategy, wall.now() + seconds, region, reason)
        data: dict[str, Any] = {"seconds": seconds, "region": region, "reason": reason}
        async with self._commanding:
            try:
                self._known(strategy)
                if region is not None:
                    self._pinnable(strategy, region)
                await self._keep(hold.command, strategy, self._state.with_hold(hold))
            except Refusal as refusal:
                await self.refused(hold.command, strategy, data, refusal)
                raise
            return await self._apply_hold(hold, data)

    async def _apply_hold(self, hold: Hold, data: dict[str, Any]) -> dict[str, Any]:
        strategy, seconds, wall = hold.strategy, data["seconds"], self._shell.wall
        region, reason = hold.region, hold.reason
        log.info("operator " + hold.command, strategy=strategy, region=region, seconds=seconds, reason=reason)
        await self._shell.engine.feed(self._event(hold, seconds))
        doc = self._probes.strategy_doc(strategy)
        if not (doc.get("hold") or doc.get("pin")):
            # The world changed between the check and the command (the region failed meanwhile).
            self._state.take(self._state.without_hold(strategy))
            await self._persist()
            self._gauge_holds()
            decision = doc.get("lastDecision") or {}
            late = Refusal(409, str(decision.get("summary") or f"the core refused the {hold.command}"))
            await self.refused(hold.command, strategy, data, late)
            raise late
        await self._share()
        await self._shell.announce.operator(
            hold.command, strategy, {**data, "until": wall.iso_wall(hold.until)}
        )
        self._gauge_holds()
        return doc

    async def release(self, strategy: str, *, override: bool = False, reason: str = "") -> dict[str, Any]:
        """End a hold or pin; `override` (SPEC §8 `release --override`) also lets go the automatic
        switch a safety rule holds back, audited with the rule it overrode."""
        async with self._commanding:
            return await self._release(strategy, override=override, reason=reason)

    async def _release(self, strategy: str, *, override: bool, reason: str) -> dict[str, Any]:
        try:
            self._known(strategy)
            await self._keep("release", strategy, self._state.without_hold(strategy))
        except Refusal as refusal:
            await self.refused("release", strategy, {"override": override, "reason": reason}, refusal)
            raise
        block = self._shell.engine.world.strategies[strategy].safety if override else None
        if override:
            log.warning(
                "operator release --override",
                strategy=strategy,
                rule=block.rule if block else None,
                to=block.target if block else None,
                reason=reason,
            )
        else:
            log.info("operator release", strategy=strategy)
        self._gauge_holds()
        await self._share()
        await self._shell.engine.feed(OperatorRelease(strategy, self._shell.clock(), override=override))
        data: dict[str, Any] = {}
        if override:
            data = {
                "override": True,
                "rule": block.rule if block else None,
                "to": block.target if block else None,
                "reason": reason,
                "message": f"{block.rule} overridden: the switch of {strategy} to {block.target} goes now"
                if block
                else f"no safety rule holds {strategy} back: nothing to override",
            }
        await self._shell.announce.operator("release", strategy, data)
        return self._probes.strategy_doc(strategy)

    async def set_dry_run(self, enabled: bool) -> dict[str, Any]:
        async with self._commanding:
            return await self._set_dry_run(enabled)

    async def _set_dry_run(self, enabled: bool) -> dict[str, Any]:
        shell = self._shell
        try:
            await self._keep("dry-run", None, self._state.with_dry_run(enabled))
        except Refusal as refusal:
            await self.refused("dry-run", None, {"enabled": enabled}, refusal)
            raise
        shell.engine.replace_policy(policy_from_config(shell.config(), dry_run=enabled))
        shell.metrics.dry_run.set(1 if enabled else 0)
        await self._share()
        log.warning("dry run " + ("enabled: nothing will be written" if enabled else "disabled"))
        await shell.announce.operator("dry-run", None, {"enabled": enabled})
        # Turning dry run off acts on the state of the world at once, not at the next poll.
        await shell.engine.feed(Tick(shell.clock()))
        return {"dryRun": enabled}

    async def expire(self) -> None:
        """Holds and pins whose time is up: audited and emitted once (the core has let them go).
        Called on every tick, it also keeps the safety budget on disk when it changed."""
        self._switches.save(self._shell.engine.world.ledger)
        if self._commanding.locked():
            return  # a command is being stored from the state as it is: the next tick expires
        expired = self._state.expired()
        if expired:
            self._gauge_holds()
            await self._persist()
        for hold in expired:
            log.info("operator " + hold.command + " expired", strategy=hold.strategy)
            await self._shell.announce.operator(
                "expired", hold.strategy, {"was": hold.command, "region": hold.region}
            )

    # ------------------------------------------------------------------------ move and failback

    async def move(
        self, strategy: str, region: str, *, force: bool = False, reason: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """Switch `strategy` to `region` now through the normal write path: (HTTP status, answer)."""
        self._known(strategy)
        data: dict[str, Any] = {"to": region, "force": force, "reason": reason}
        sp = self._shell.engine.policy.strategy(strategy)
        if sp is not None and region not in sp.preference:
            why = f"cannot move {strategy} to {region}: not one of its regions {', '.join(sp.preference)}"
            return await self._answer(400, "move", strategy, "refused", why, data)
        event = OperatorMove(strategy, region, self._shell.clock(), force=force, reason=reason)
        return await self._switch("move", strategy, event, data)

    async def failback(self, strategy: str, *, reason: str = "") -> tuple[int, dict[str, Any]]:
        """Return `strategy` to its preferred region now: (HTTP status, answer)."""
        self._known(strategy)
        event = OperatorFailback(strategy, self._shell.clock(), reason=reason)
        return await self._switch("failback", strategy, event, {"reason": reason})

    async def _switch(
        self, command: str, strategy: str, event: OperatorMove | OperatorFailback, data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Feed the command, then wait for its write's outcome (the executor feeds it back)."""
        engine = self._shell.engine
        log.info("operator " + command, strategy=strategy, **data)
        switched = await engine.switch(event, SWITCH_WAIT_SECONDS)
        if switched.refused is not None:
            why = switched.refused.explanation.summary
            return await self._answer(409, command, strategy, "refused", why, data)
        write, outcome = switched.write, switched.outcome
        if write is None:  # already there: the core says so in its last decision
            decision = engine.world.strategies[strategy].last_decision
            said = decision.summary if decision else f"{strategy}: nothing to do"
            return await self._answer(200, command, strategy, "unchanged", said, data)
        data = {**data, "from": write.from_region}
        done = f"{command} {strategy}: {write.from_region} -> {write.to_region}"
        match outcome:
            case WriteSucceeded():
                return await self._answer(200, command, strategy, "done", f"{done}: written", data)
            case WriteFailed():
                return await self._answer(
                    502, command, strategy, "failed", f"{done}: failed: {outcome.error}", data
                )
            case WriteSkipped() if outcome.follower:
                why = f"{done}: not written: this instance does not lead (ask the leader)"
                return await self._answer(409, command, strategy, "not written", why, data)
            case WriteSkipped():
                return await self._answer(
                    409, command, strategy, "not written", f"{done}: not written (dry run)", data
                )
        why = f"{done}: still in flight after {SWITCH_WAIT_SECONDS:g}s; see /status"
        return await self._answer(504, command, strategy, "in flight", why, data)

    async def _answer(
        self, code: int, command: str, strategy: str, result: str, message: str, data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Log, audit and emit the command's outcome; the answer is one line and the strategy."""
        ok = code == 200
        (log.error if code >= 500 else log.warning)(
            "operator " + command + " " + result, strategy=strategy, why=message
        )
        if result == "refused":  # audited and counted like every refused command
            await self._shell.announce.refusal(command, strategy, data, code, message)
        else:
            await self._shell.announce.operator(
                command, strategy, {**data, "result": result, "message": message}, ok=ok
            )
        return code, {
            "done": ok,
            "result": result,
            "message": message,
            "strategy": self._probes.strategy_doc(strategy),
        }

    # ------------------------------------------------------------------------ drills (SPEC §8)

    def drills(self) -> dict[str, Any]:
        return self._drills.status()

    async def drill_start(self, strategy: str, to: str | None, seconds: float) -> tuple[int, dict[str, Any]]:
        self._known(strategy)
        return await self._drills.start(strategy, to, seconds)

    async def drill_abort(self, reason: str) -> tuple[int, dict[str, Any]]:
        return await self._drills.abort(reason)
