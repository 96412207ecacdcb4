"""A drill as the operator sees it: the `"drills"` part of `/status` and the `drill status` text.

`status_json` renders exactly the shape SPEC §8 shows (camelCase, RFC 3339 UTC times, the last ten
drills newest first), plus `from`, `phase`, `origin`, `durationSeconds` and each write's `leg`.
`status_text` renders that JSON again (the CLI only has the daemon's answer): one summary line, then
per drill a small table with the outcome, why, the time to move, each write's latency and the time
back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from watcher.drills.drill import DrillBook
from watcher.drills.record import Drill


def iso(moment: float | None) -> str | None:
    """Wall-clock seconds as RFC 3339 UTC (`2026-12-08T10:00:00Z`), as the rest of `/status`."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=UTC).isoformat().replace("+00:00", "Z")


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def drill_json(drill: Drill) -> dict[str, Any]:
    """One drill in `/status` (also the data of its `com.genesys.failover.drill` event)."""
    return {
        "id": drill.id,
        "strategy": drill.strategy,
        "from": drill.preferred,
        "to": drill.to,
        "phase": drill.phase.value,
        "origin": drill.origin,
        "durationSeconds": drill.duration_seconds,
        "outcome": None if drill.outcome is None else drill.outcome.value,
        "reason": drill.reason,
        "startedAt": iso(drill.started_at),
        "arrivedAt": iso(drill.arrived_at),
        "endedAt": iso(drill.ended_at),
        "switchSeconds": _seconds(drill.switch_seconds),
        "backSeconds": _seconds(drill.back_seconds),
        "writes": [
            {"kind": w.kind, "id": w.id, "latencyMs": round(w.latency_ms), "result": w.result, "leg": w.leg}
            for w in drill.writes
        ],
    }


def status_json(running: Drill | None, recent: Iterable[Drill], limit: int = 10) -> dict[str, Any]:
    """`{"running": …, "recent": [the last ten, newest first]}`."""
    return {
        "running": None if running is None else drill_json(running),
        "recent": [drill_json(d) for d in list(recent)[:limit]],
    }


def book_status(book: DrillBook) -> dict[str, Any]:
    """`status_json` of the machine's book: what `/status` shows under `"drills"`."""
    return status_json(None if book.running is None else book.running.drill, book.recent)


def summary_line(drills: Mapping[str, Any]) -> str:
    """One line: the running drill, else the last one, else that there was none."""
    running, recent = drills.get("running"), drills.get("recent") or []
    if running:
        decided = f", ending: {running['outcome']}" if running.get("outcome") else ""
        return (
            f"drill {running['id']} of {running['strategy']} is {running['phase']} "
            f"({running['from']} -> {running['to']}, since {running['startedAt']}){decided}"
        )
    if recent:
        last = recent[0]
        outcome = f"{last['outcome']} at {last['endedAt']}"
        return f"no drill running; last: {last['id']} of {last['strategy']} {outcome}"
    return "no drill running; none yet"


def drill_table(drill: Mapping[str, Any]) -> str:
    """The table of one drill (the `drill status` body and a closing note's example)."""
    rows: list[tuple[str, str]] = [
        ("outcome", str(drill.get("outcome") or f"(running: {drill.get('phase')})")),
        ("why", drill.get("reason") or "-"),
        ("started", f"{drill.get('startedAt')} ({drill.get('origin')})"),
        ("time to move", _span(drill.get("switchSeconds"))),
    ]
    writes: Sequence[Mapping[str, Any]] = drill.get("writes") or []
    width = max((len(f"{w['kind']} {w['id']}") for w in writes), default=0)
    for i, w in enumerate(writes):
        label = "writes" if i == 0 else ""
        target = f"{w['kind']} {w['id']}".ljust(width)
        rows.append((label, f"{w.get('leg', 'to'):<4} {target}  {w['latencyMs']:>6} ms  {w['result']}"))
    if not writes:
        rows.append(("writes", "-"))
    rows.append(("time back", _span(drill.get("backSeconds"))))
    rows.append(("ended", str(drill.get("endedAt") or "-")))
    head = f"drill {drill['id']}  {drill['strategy']}  {drill.get('from')} -> {drill.get('to') or '?'}"
    pad = max(len(k) for k, _ in rows)
    return "\n".join([head, *(f"  {k.ljust(pad)}  {v}" for k, v in rows)])


def status_text(drills: Mapping[str, Any]) -> str:
    """`drill status`: the summary line, then a table for the running drill and each recent one."""
    parts = [summary_line(drills)]
    shown = [drills["running"]] if drills.get("running") else []
    shown.extend(drills.get("recent") or [])
    parts.extend(drill_table(d) for d in shown)
    return "\n\n".join(parts)


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"
