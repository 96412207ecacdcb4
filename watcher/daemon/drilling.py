"""The drill controller (SPEC §8): the shell around the pure drill machine (`watcher.drills.step`).

It feeds the machine what happens (an operator's start or abort, a scheduled slot, region health
transitions, alarm readings, ticks, this instance stopping or losing leadership, and, when it leads
again or after a restart, the drill it finds stored) and does what the machine asks: a `MoveTo` is
an operator-style move of kind "drill" through the core and the gated write path (no flap, no
failback hold on the way back, no safety-budget count), verified by reading back the strategy and
every follower, and answered with `Moved`; a `Report` goes to the log, the audit trail, an event and
the metrics. The book is stored under `[state] dir` after every step (atomically), so a SIGKILL
mid-drill leaves the running drill for the next start to end.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import structlog
from anyio.abc import TaskGroup

from watcher.aio import sleep
from watcher.atomic import write_json
from watcher.core import OperatorRelease
from watcher.daemon.drill_moves import DrillMoves
from watcher.daemon.parts import Parts, Shell
from watcher.daemon.readiness import ReadinessBoard
from watcher.drills import (
    AbortDrill,
    Action,
    AlarmReading,
    AlarmsFiring,
    AlarmsRead,
    Drill,
    DrillBook,
    DrillPolicy,
    Input,
    Moved,
    MoveTo,
    Outcome,
    Recovered,
    RegionHealthChanged,
    Report,
    StartDrill,
    Stopping,
    StrategyFacts,
    Tick,
    book_from_state,
    book_status,
    book_to_state,
    drill_json,
    due,
    read_alarms,
    step,
)

log = structlog.get_logger("watcher.drills")

TICK_SECONDS = 0.25
STORE_FILE = "drills.json"
SHARED_NAME = "drills"  # the book's name in the state shared by every instance (etcd when HA)


class DrillRefused(Exception):
    """A start or abort the controller does not carry out; the message says why."""


class DrillController:
    """Runs drills for one daemon (one task: `run`; the admin API calls `start` and `abort`)."""

    def __init__(
        self, shell: Shell, parts: Parts, readiness: ReadinessBoard, prometheus: httpx.AsyncClient
    ) -> None:
        self._shell = shell
        self._parts = parts
        self._readiness = readiness
        self._prometheus = prometheus
        self._drill_moves = DrillMoves(shell, parts)
        self._lock = anyio.Lock()  # one step at a time, each stored before the next
        self._following = anyio.Lock()
        self._path = Path(shell.config().state.dir) / STORE_FILE
        self._book, self._stored_running = self._load()
        self._moves, self._receive_moves = anyio.create_memory_object_stream[MoveTo](math.inf)
        self._healthy: frozenset[str] | None = None
        self._leading = False
        self._adopted = False  # the shared book read since leadership was gained

    # ------------------------------------------------------------------------------ policy, facts

    @property
    def policy(self) -> DrillPolicy:
        d = self._shell.config().drills
        return DrillPolicy(outcome_alarms=tuple(d.outcome_alarms), blocking_alarms=tuple(d.blocking_alarms))

    def _now(self) -> float:
        return self._shell.wall.now()

    def _healthy_now(self) -> frozenset[str]:
        return frozenset(r for r, h in self._shell.engine.world.regions.items() if h.healthy)

    def facts(self, strategy: str) -> StrategyFacts:
        cfg = self._shell.config()
        settings = next(s for s in cfg.strategies if s.id == strategy)
        engine = self._shell.engine
        status = engine.world.strategies.get(strategy)
        return StrategyFacts(
            strategy,
            tuple(settings.regions),
            self._healthy_now(),
            engine.active_region(strategy),
            held=status is not None and status.held,
            pinned=status is not None and status.pin is not None,
            dry_run=engine.policy.dry_run,
            ready=self._readiness.ready_regions(strategy),
        )

    async def _alarms(self) -> AlarmReading:
        d = self._shell.config().drills
        if not d.watched or d.prometheus_url is None:
            return AlarmsFiring()
        timeout = min(d.alarm_interval_seconds, 5.0)
        return await read_alarms(self._prometheus, d.prometheus_url, d.watched, timeout=timeout)

    # ------------------------------------------------------------------------------ operator

    def status(self) -> dict[str, Any]:
        """The `"drills"` part of `/status`."""
        return book_status(self._book)

    async def start(self, strategy: str, to: str | None, seconds: float) -> dict[str, Any]:
        """Start a drill now: its record (running), or `DrillRefused` with the machine's reason."""
        cfg = self._shell.config()
        if strategy not in {s.id for s in cfg.strategies}:
            raise KeyError(strategy)
        if not self._shell.leadership.is_leader:
            raise DrillRefused("this instance does not lead: start the drill on the leader")
        if not self._leading:
            await self._follow_leadership()  # a drill left running is ended first
        if not self._leading:
            raise DrillRefused("the drills are not running yet (strategies being read); try again")
        if strategy in self._parts.readback.unread:
            raise DrillRefused(f"{strategy} has not been read from the API yet")
        reading = await self._alarms()
        drill_id = uuid.uuid4().hex[:12]
        event = StartDrill(self._now(), drill_id, self.facts(strategy), reading, seconds, to=to)
        actions = await self.feed(event)
        refused = next((a.drill for a in actions if isinstance(a, Report)), None)
        if refused is not None and refused.outcome is Outcome.NOT_STARTED:
            raise DrillRefused(refused.reason or "refused")
        running = self._book.running
        if running is None or running.drill.id != drill_id:
            raise DrillRefused("the drill ended at once; see `drill status`")
        return drill_json(running.drill)

    async def abort(self, reason: str) -> dict[str, Any]:
        running = self._book.running
        if running is None or running.suspended:
            raise DrillRefused("no drill is running")
        await self.feed(AbortDrill(self._now(), reason or "aborted by an operator"))
        return drill_json(running.drill if self._book.running is None else self._book.running.drill)

    # ------------------------------------------------------------------------------ the machine

    async def feed(self, event: Input) -> tuple[Action, ...]:
        """One step of the machine, stored, then its actions started (moves) or done (reports)."""
        async with self._lock:
            before = self._book
            self._book, actions = step(before, event, self.policy)
            if self._book is not before:
                await self._store()
                await self._share()
        for action in actions:
            if isinstance(action, MoveTo):
                self._moves.send_nowait(action)
            else:
                await self._report(action.drill)
        return actions

    async def _store(self) -> None:
        # From a worker thread: an fsync must not stall the polls and switches of the event loop.
        try:
            await anyio.to_thread.run_sync(write_json, self._path, book_to_state(self._book))
        except OSError as exc:
            self._shell.announce.disk.failed("operator", exc)
            log.error("could not store the drill book", path=str(self._path), error=str(exc))

    async def _share(self) -> None:
        """With several instances, the book is kept where the next leader reads it (etcd). Only
        while leading: a deposed instance must not overwrite its successor's book."""
        leadership = self._shell.leadership
        if not leadership.is_leader:
            return
        try:
            await leadership.save_shared(SHARED_NAME, json.dumps(book_to_state(self._book)))
        except Exception as exc:  # the local copy stands; the next change tries again
            log.warning("could not share the drill book", error=str(exc))

    async def _adopt_shared(self) -> None:
        """Leadership gained: the book the last leader shared, if any (its running drill to end)."""
        try:
            text = await self._shell.leadership.load_shared(SHARED_NAME)
        except Exception as exc:
            log.warning("could not read the shared drill book", error=str(exc))
            return
        if not text:
            return
        try:
            book, running = book_from_state(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("shared drill book unreadable; keeping this instance's", error=str(exc))
            return
        mine = self._book.running
        if mine is not None and running is not None and mine.drill.id == running.id:
            running = None  # the one suspended here: recovered from this instance's book
        self._book = DrillBook(mine, book.recent, book.started_slots, book.refused_slots)
        self._stored_running = running or self._stored_running

    def _load(self) -> tuple[DrillBook, Drill | None]:
        try:
            return book_from_state(json.loads(self._path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return DrillBook(), None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("stored drill book unreadable; starting from an empty one", error=str(exc))
            return DrillBook(), None

    # ------------------------------------------------------------------------------ the task

    async def run(self) -> None:
        stop = self._shell.stop
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._mover, tg)
            alarms_due = 0.0
            while not stop.is_set():
                await self._follow_leadership()
                if self._leading:
                    await self._feed_health()
                    now = self._shell.clock()
                    running = self._book.running
                    if now >= alarms_due:  # alarms and schedules, every `alarm_interval_seconds`
                        alarms_due = now + self._shell.config().drills.alarm_interval_seconds
                        if running is not None and not running.suspended and self.policy.reads_alarms:
                            await self.feed(AlarmsRead(self._now(), await self._alarms()))
                        await self._scheduled()
                    await self.feed(Tick(self._now()))
                if await sleep(TICK_SECONDS, stop):
                    break
            if self._leading and self._book.running is not None:
                await self.feed(Stopping(self._now(), "the instance stopped"))
            tg.cancel_scope.cancel()

    async def _follow_leadership(self) -> None:
        """Leadership gained (and the strategies read): recover a stored or suspended drill before
        anything else; lost: the drill is suspended for the next leader to end."""
        async with self._following:  # the loop and an operator's start may both get here
            await self._follow()

    async def _follow(self) -> None:
        leader = self._shell.leadership.is_leader and not self._parts.readback.unread
        if leader and not self._leading:
            if not self._adopted:
                await self._adopt_shared()
                self._adopted = True
            drill = self._stored_running
            suspended = self._book.running.drill if self._book.running is not None else None
            found = drill or suspended
            known = {st.id for st in self._shell.config().strategies}
            if found is not None and found.strategy not in known:
                log.error("a drill left running names a strategy no longer configured", drill=found.id)
                found = drill = self._stored_running = None
            if found is not None and not self._judged(found.strategy):
                return  # the drill is ended once its regions' health is known, not before
            self._leading = True
            self._healthy = self._healthy_now()
            self._stored_running = None
            if found is not None:
                log.warning("recovering a drill left running", drill=found.id, strategy=found.strategy)
                await self.feed(Recovered(self._now(), self.facts(found.strategy), drill))
        elif not self._shell.leadership.is_leader and self._leading:
            self._leading = self._adopted = False
            if self._book.running is not None:
                await self.feed(Stopping(self._now(), "leadership lost"))

    def _judged(self, strategy: str) -> bool:
        """Every region of `strategy` judged healthy or unhealthy (after a start, it takes `rise`)."""
        regions = self._shell.engine.world.regions
        settings = next((s for s in self._shell.config().strategies if s.id == strategy), None)
        return settings is None or all(
            (h := regions.get(r)) is not None and (h.healthy or h.unhealthy) for r in settings.regions
        )

    async def _feed_health(self) -> None:
        now = self._healthy_now()
        before = self._healthy if self._healthy is not None else now
        self._healthy = now
        for region in sorted(before ^ now):
            await self.feed(RegionHealthChanged(self._now(), region, region in now))

    async def _scheduled(self) -> None:
        schedules = self._shell.config().drills.schedules
        if not schedules:
            return
        for schedule, slot in due(list(schedules), datetime.now(UTC)):
            # Once per slot; a refused one is tried again (silently) until the slot closes.
            if slot.key in self._book.started_slots:
                continue
            end = slot.end.timestamp()
            seconds = min(float(schedule.duration_seconds), max(end - self._now(), 0.0))
            event = StartDrill(
                self._now(),
                uuid.uuid4().hex[:12],
                self.facts(schedule.strategy),
                await self._alarms(),
                seconds,
                to=schedule.to,
                slot_key=slot.key,
            )
            await self.feed(event)

    # ------------------------------------------------------------------------------ moves

    async def _mover(self, tg: TaskGroup) -> None:
        async for move in self._receive_moves:
            tg.start_soon(self._move, move)

    async def _move(self, move: MoveTo) -> None:
        started = self._shell.clock()
        ok, writes, reason = await self._drill_moves.move(move)
        if ok:  # from the move's start to the read-back that confirmed it
            seconds = self._shell.clock() - started
            self._shell.metrics.drill_switch_seconds.labels(strategy=move.strategy, leg=move.leg).observe(
                seconds
            )
        await self.feed(Moved(self._now(), move.drill_id, move.leg, ok, writes, reason))

    # ------------------------------------------------------------------------------ reports

    async def _report(self, drill: Drill) -> None:
        doc = drill_json(drill)
        outcome = drill.outcome.value if drill.outcome is not None else "UNKNOWN"
        self._shell.metrics.drills.labels(strategy=drill.strategy, outcome=outcome).inc()
        (log.info if drill.outcome is Outcome.SUCCEEDED else log.warning)(
            "drill " + outcome.lower().replace("_", " "),
            drill=drill.id,
            strategy=drill.strategy,
            to=drill.to,
            why=drill.reason,
            switch_seconds=doc["switchSeconds"],
            back_seconds=doc["backSeconds"],
        )
        if drill.outcome is Outcome.INTERRUPTED and drill.back_at is None:
            # Not moved back: the failover rules own the strategy again (the drill's move stood as
            # an operator's choice would; released, automatic failback resumes).
            status = self._shell.engine.world.strategies.get(drill.strategy)
            if status is not None and status.adopted and not status.held and status.pin is None:
                with contextlib.suppress(Exception):
                    await self._shell.engine.feed(OperatorRelease(drill.strategy, self._shell.clock()))
        await self._shell.announce.drill(doc)
