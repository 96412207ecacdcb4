"""Saying what the watcher did and why: every decision and switch to the log, the metrics, the event
outbox and the local audit trail.

The core decides; the executor writes; this module only tells. It is the one place that knows which
event type, log level and metric a decision or a switch maps to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
import structlog

from watcher.core import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    DriftDetected,
    Explanation,
    Refused,
    RegionTransition,
    Reweight,
    SafetyHeld,
    SafetyReleased,
)
from watcher.daemon.gauges import WorldGauges
from watcher.daemon.pending import PendingEvents
from watcher.daemon.readiness import ReadinessBoard
from watcher.daemon.statedir import StateDisk
from watcher.daemon.status import WallClock
from watcher.events import (
    ALL_DOWN,
    ALL_DOWN_CLEARED,
    DECISION,
    DRIFT,
    FAILBACK,
    OPERATOR,
    REGION_CHANGED,
    SWITCH_FAILED,
    SWITCHED,
    SWITCHING,
    AuditRecord,
    AuditTrail,
    Dispatcher,
    SequenceStore,
    build_event,
)
from watcher.events.cloudevent import DRILL  # a drill's report (SPEC §8)
from watcher.metrics import WatcherMetrics
from watcher.switch import SwitchReport

log = structlog.get_logger("watcher.daemon")

SWITCH_LOG_SIZE = 200
# Events the outbox could not store (disk full) wait in memory, in order, and are stored as soon as
# the disk allows: nothing is lost while the process lives. Bounded: past it the newest are dropped
# (counted), so the oldest, the start of the story (`switching`), are dropped last.


class Announcer:
    """Tells the world about decisions (actions of the core) and switches (reports of the executor).

    Events are published only while `speaks()` is true: the leader speaks for the organization, and
    followers would duplicate every event.
    """

    def __init__(
        self,
        metrics: WatcherMetrics,
        wall: WallClock,
        *,
        source: Callable[[], str],
        speaks: Callable[[], bool],
        clock: Callable[[], float],
        trail: AuditTrail | None = None,
        dispatcher: Dispatcher | None = None,
        sequences: SequenceStore | None = None,
        active_of: Callable[[str], str | None] = lambda strategy: None,
        settling: Callable[[str], bool] = lambda strategy: False,
        disk: StateDisk | None = None,
        readiness: ReadinessBoard | None = None,
    ) -> None:
        self.metrics = metrics
        self.wall = wall
        self.trail = trail
        self.dispatcher = dispatcher
        self.sequences = sequences
        # What the strategy routes to now, for events that carry no region of their own.
        self.active_of = active_of
        # True while a strategy's write is in flight: its outcome's event is numbered before the
        # world settles on it.
        self.settling = settling
        self._source = source
        self._speaks = speaks
        self._clock = clock
        self.world_gauges = WorldGauges(metrics)  # the world's state, mirrored in the gauges
        # Write failures under [state] dir (shared with the audit trail and the operator state).
        self.disk = disk if disk is not None else StateDisk(metrics)
        self.pending = PendingEvents(dispatcher, self.disk, metrics)
        self.last_switches: dict[str, dict[str, Any]] = {}
        self.switch_log: list[dict[str, Any]] = []
        # The last readiness round: a switch's explanation names its target's failed checks.
        self.readiness = readiness

    # ------------------------------------------------------------------------------ decisions

    async def decision(self, action: Action) -> None:
        """Log, count, audit and publish one action of the core."""
        m = self.metrics
        match action:
            case Reweight():
                m.decisions.labels(
                    strategy=action.strategy, kind=action.kind, dry_run=str(action.dry_run).lower()
                ).inc()
                log.warning(
                    "decision: switch",
                    strategy=action.strategy,
                    kind=action.kind,
                    from_region=action.from_region,
                    to_region=action.to_region,
                    dry_run=action.dry_run,
                    why=action.explanation.summary,
                )
            case RegionTransition():
                m.region_healthy.labels(region=action.region).set(1 if action.healthy else 0)
                (log.info if action.healthy else log.warning)(
                    "region " + ("healthy" if action.healthy else "unhealthy"),
                    region=action.region,
                    why=action.explanation.summary,
                )
                await self.publish(
                    REGION_CHANGED,
                    action.region,
                    {"region": action.region, "healthy": action.healthy, **self._why(action.explanation)},
                )
            case AllRegionsDown():
                m.all_regions_down.labels(strategy=action.strategy).set(1)
                m.decisions.labels(strategy=action.strategy, kind="all_down", dry_run="false").inc()
                log.error(
                    "every region down; changing nothing (fail-open)",
                    strategy=action.strategy,
                    why=action.explanation.summary,
                )
                await self._audit_decision(action.strategy, action.explanation)
                await self.publish(
                    ALL_DOWN, action.strategy, {"strategy": action.strategy, **self._why(action.explanation)}
                )
            case AllRegionsDownCleared():
                m.all_regions_down.labels(strategy=action.strategy).set(0)
                log.info(
                    "a region is healthy again", strategy=action.strategy, why=action.explanation.summary
                )
                await self.publish(
                    ALL_DOWN_CLEARED,
                    action.strategy,
                    {"strategy": action.strategy, **self._why(action.explanation)},
                )
            case DriftDetected():
                m.drift_events.labels(strategy=action.strategy).inc()
                log.warning(
                    "drift: strategy changed behind the watcher's back",
                    strategy=action.strategy,
                    expected=action.expected_region,
                    actual=action.actual_region,
                    why=action.explanation.summary,
                )
                await self._audit_decision(action.strategy, action.explanation)
                await self.publish(
                    DRIFT,
                    action.strategy,
                    {
                        "strategy": action.strategy,
                        "expected": action.expected_region,
                        "actual": action.actual_region,
                        **self._why(action.explanation),
                    },
                )
            case Refused():
                m.decisions.labels(strategy=action.strategy, kind="refused", dry_run="false").inc()
                log.warning("refused", strategy=action.strategy, why=action.explanation.summary)
                await self.publish(
                    DECISION,
                    action.strategy,
                    {"strategy": action.strategy, "decision": "refused", **self._why(action.explanation)},
                )
            case SafetyHeld() | SafetyReleased():
                await self._safety(action)

    async def _safety(self, action: SafetyHeld | SafetyReleased) -> None:
        """A safety rule (SPEC §8) starts or stops holding back an automatic switch: a block is a
        warning (an operator should look: the strategy may stay on a dead region), a delay is not."""
        held = isinstance(action, SafetyHeld)
        blocked = isinstance(action, SafetyHeld) and action.blocked
        if isinstance(action, SafetyHeld):
            kind = "safety_blocked" if blocked else "safety_delayed"
            self.metrics.decisions.labels(strategy=action.strategy, kind=kind, dry_run="false").inc()
            if blocked:
                self.metrics.safety_blocked.labels(strategy=action.strategy).set(1)
        else:
            self.metrics.safety_blocked.labels(strategy=action.strategy).set(0)
        what = "holds back" if held else "no longer holds back"
        (log.warning if blocked or not held else log.info)(
            f"safety rule {action.rule} {what} an automatic switch",
            strategy=action.strategy,
            rule=action.rule,
            why=action.explanation.summary,
        )
        await self._audit_decision(action.strategy, action.explanation)
        data: dict[str, Any] = {
            "strategy": action.strategy,
            "decision": "safety_held" if held else "safety_released",
            "rule": action.rule,
            **self._why(action.explanation),
        }
        if isinstance(action, SafetyHeld):
            data.update(blocked=action.blocked, to=action.target)
        await self.publish(DECISION, action.strategy, data)

    # ------------------------------------------------------------------------------ switches

    async def switch(self, report: SwitchReport, action: Reweight) -> None:
        """Log, keep for `/status`, and publish what one executed Reweight did."""
        if report.result == "follower":
            return
        data = {
            **report.to_dict(),
            **self._why(action.explanation),
            "order": list(action.order),
            "at": self.wall.iso(self._clock()),
        }
        not_ready = [] if self.readiness is None else self.readiness.failed(action.strategy, action.to_region)
        if not_ready:
            # SPEC §8: no ready region need not stop a switch, but its explanation says what failed.
            data["explanation"]["readiness"] = not_ready
        self.last_switches[action.strategy] = data
        self.switch_log.append(data)
        del self.switch_log[:-SWITCH_LOG_SIZE]
        if report.result == "dry_run":
            event_type = DECISION
        elif report.result == "failure":
            event_type = SWITCH_FAILED
        else:
            event_type = FAILBACK if action.kind == "failback" else SWITCHED
        failed = report.result in ("failure", "partial")
        (log.error if failed else log.warning if report.result == "dry_run" else log.info)(
            "switch " + report.result,
            **{k: v for k, v in report.to_dict().items() if k != "writes"},
            why=action.explanation.summary,
            **({"not_ready": [f"{c['check']}: {c['reason']}" for c in not_ready]} if not_ready else {}),
        )
        active = action.to_region if report.result.landed else action.from_region
        await self.publish(event_type, action.strategy, data, active_region=active)

    async def intent(self, action: Reweight) -> None:
        """Store the switch before it is written: a crash between the write and its report then
        still leaves an event about it (the outcome follows once known)."""
        data = {
            "strategy": action.strategy,
            "kind": action.kind,
            "from": action.from_region,
            "to": action.to_region,
            "order": list(action.order),
            **self._why(action.explanation),
        }
        await self.publish(SWITCHING, action.strategy, data, active_region=action.from_region)

    async def refusal(
        self, command: str, strategy: str | None, data: Mapping[str, Any], status: int, message: str
    ) -> None:
        """An operator command not carried out: counted, written to the audit trail and emitted."""
        self.metrics.operator_refusals.labels(command=command, code=str(status)).inc()
        payload = {"command": command, "strategy": strategy, "refused": True, "code": status}
        payload |= {"result": "refused", "message": message, **data}
        await self._record("operator", strategy, "refused", payload, error=message)

    async def operator(
        self, command: str, strategy: str | None, data: Mapping[str, Any], *, ok: bool = True
    ) -> None:
        """An operator command, or the expiry of one: to the audit trail and the event mesh. `ok`
        False: the command failed (`data` says why)."""
        payload = {"command": command, "strategy": strategy, **data}
        await self._record("operator", strategy, "success" if ok else "failure", payload)

    async def drill(self, report: Mapping[str, Any]) -> None:
        """A drill's report (SPEC §8): to the audit trail and as a `com.genesys.failover.drill` event."""
        ok = report.get("outcome") == "SUCCEEDED"
        reason = report.get("reason")
        error = None if ok or reason is None else str(reason)
        await self._record(
            "drill", str(report["strategy"]), "success" if ok else "failure", report, error=error
        )

    async def _record(
        self,
        kind: Literal["operator", "drill"],
        strategy: str | None,
        result: Literal["success", "failure", "refused"],
        payload: Mapping[str, Any],
        *,
        error: str | None = None,
    ) -> None:
        """One record of what operators did (or a drill): the audit trail, then the event mesh."""
        if self.trail is not None:
            record = AuditRecord(
                strategy=strategy or "*", kind=kind, result=result, error=error, explanation=dict(payload)
            )
            await self.trail.append(record)
        await self.publish(OPERATOR if kind == "operator" else DRILL, strategy or "operator", payload)

    # ------------------------------------------------------------------------------ channels

    async def publish(
        self,
        event_type: str,
        subject: str,
        data: Mapping[str, Any],
        *,
        active_region: str | object | None = ...,
    ) -> None:
        """Store one CloudEvent in the outbox (delivered by the dispatcher), if this instance speaks.

        An event about a strategy carries `activeRegion` (where it routes after the event) and
        `sequence` (monotonic per strategy across restarts), so a receiver never goes backwards.
        """
        if self.dispatcher is None or not self._speaks():
            return
        body = dict(data)
        strategy = body.get("strategy")
        if isinstance(strategy, str) and event_type != OPERATOR:
            region = self.active_of(strategy) if active_region is ... else active_region
            body["activeRegion"] = region
            if self.sequences is not None:
                body["sequence"] = await anyio.to_thread.run_sync(self.sequences.next, strategy)
        event = build_event(event_type, source=self._source(), subject=subject, data=body)
        await self.pending.store(event, subject)

    @property
    def unstored(self) -> int:
        """Events waiting in memory for the outbox to accept them."""
        return self.pending.unstored

    async def store_unstored(self) -> bool:
        return await self.pending.store_unstored()

    async def resync(self, status: Callable[[], Mapping[str, Any]]) -> None:
        """The full state to every sink, so a receiver that missed something converges. Only the
        leader speaks for the organization: a follower's belief is not the API's."""
        if self.dispatcher is not None and self._speaks():
            data = self.resync_state(status())
            if self.sequences is not None:
                await anyio.to_thread.run_sync(self.sequences.save)
            await self.dispatcher.resync(data)

    def resync_state(self, status: Mapping[str, Any]) -> dict[str, Any]:
        """The resync event's data: the status document, each strategy with a new sequence.

        A resync is the newest word on where a strategy routes, so it is numbered after everything
        sent so far: a receiver that applied a later sequence of another instance (the previous
        leader, or this one before its state directory was lost) still converges on it. Numbered
        in the same step as the state is read (no wait in between), so no event about a newer state
        can be numbered before it. A strategy whose write is in flight keeps its last sequence: the
        outcome's event is numbered before the world settles on it, and a new number on the old
        region would overtake it.
        """
        entries = list(status.get("strategies", []))
        fresh: dict[str, int] = {}
        if self.sequences is not None:
            fresh = self.sequences.issue([e["id"] for e in entries if not self.settling(e["id"])])
        strategies = [
            {**e, "sequence": fresh.get(e["id"], self.sequences.current(e["id"]) if self.sequences else 0)}
            for e in entries
        ]
        return {**status, "strategies": strategies}

    def _why(self, explanation: Explanation) -> dict[str, Any]:
        return {"explanation": self.wall.convert(explanation.to_dict())}

    async def _audit_decision(self, strategy: str, explanation: Explanation) -> None:
        if self.trail is None:
            return
        await self.trail.append(
            AuditRecord(
                strategy=strategy,
                kind="decision",
                result="success",
                explanation=self.wall.convert(explanation.to_dict()),
            )
        )
