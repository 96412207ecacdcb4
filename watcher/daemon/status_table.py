"""`failover-watcher status`: the `/status` document as a table an operator reads at 3 a.m.

Pure text from the document (no I/O): who leads, whether the daemon is ready (and why not), each
region with its sources' verdicts, each strategy with where it routes, its state, any hold or pin,
and its last switch; then each standby's readiness and the drill running or the last (SPEC §8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from watcher.drills.report import summary_line

_FRACTION = re.compile(r"\.\d+(?=Z$)")


def to_second(value: Any) -> str:
    """A timestamp to the second: `2026-12-07T02:11:59Z`."""
    return _FRACTION.sub("", str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
        for row in [header, *rows]
    ]
    return lines


def _sources(region: Mapping[str, Any]) -> str:
    readings = region.get("sources") or []
    if not readings:
        return "-"
    parts = []
    for r in readings:
        text = f"{r.get('source')}={r.get('verdict')}"
        if r.get("verdict") != "good" and r.get("reason"):
            text += f" ({r['reason']})"
        parts.append(text)
    return ", ".join(parts)


def _operator(strategy: Mapping[str, Any]) -> str:
    pin, hold = strategy.get("pin"), strategy.get("hold")
    if pin:
        why = f" ({pin['reason']})" if pin.get("reason") else ""
        return f"pinned to {pin.get('region')} until {to_second(pin.get('until'))}{why}"
    if hold:
        why = f" ({hold['reason']})" if hold.get("reason") else ""
        return f"held until {to_second(hold.get('until'))}{why}"
    return "-"


def _last_switch(strategy: Mapping[str, Any]) -> str:
    last = strategy.get("lastSwitch")
    if not last:
        return "-"
    moved = f"{last.get('from') or '?'} -> {last.get('to') or '?'}"
    return f"{to_second(last.get('at', '?'))} {last.get('kind', 'switch')} {moved}: {last.get('result', '?')}"


def render_table(status: Mapping[str, Any]) -> str:
    """The status document as text (see the module docstring)."""
    leadership = status.get("leadership") or {}
    leader = leadership.get("holder") or ("this instance" if status.get("leader") else "unknown")
    ready = "yes" if status.get("ready") else f"NO: {status.get('readyDetail', '?')}"
    lines = [
        f"leader: {leader}" + (" (this instance)" if status.get("leader") else ""),
        f"ready: {ready}",
    ]
    if status.get("dryRun"):
        lines.append("dry run: ON (decisions are reported, nothing is written)")
    lines.append("")
    regions = [
        [str(r.get("id")), "healthy" if r.get("healthy") else str(r.get("state", "unhealthy")), _sources(r)]
        for r in status.get("regions", [])
    ]
    lines += _table(["REGION", "HEALTH", "SOURCES"], regions)
    lines.append("")
    strategies = [
        [
            str(s.get("id")),
            str(s.get("activeRegion") or "?"),
            str(s.get("state", "?")) + (" (drift)" if s.get("drift") else ""),
            _operator(s),
            _last_switch(s),
        ]
        for s in status.get("strategies", [])
    ]
    lines += _table(["STRATEGY", "ACTIVE", "STATE", "HOLD/PIN", "LAST SWITCH"], strategies)
    return "\n".join(lines + _readiness_and_drills(status))


def _readiness_and_drills(status: Mapping[str, Any]) -> list[str]:
    """SPEC §8: each standby's readiness (its failed checks), and the drill running or the last."""
    lines: list[str] = []
    standbys = [
        [
            str(r.get("strategy")),
            str(r.get("region")),
            "yes" if r.get("ready") else "NO",
            "; ".join(f"{c.get('check')}: {c.get('reason')}" for c in r.get("checks", []) if not c.get("ok"))
            or "-",
        ]
        for r in status.get("readiness") or []
    ]
    if standbys:
        lines += ["", *_table(["STRATEGY", "STANDBY", "READY", "FAILED CHECKS"], standbys)]
    if status.get("drills"):
        lines += ["", summary_line(status["drills"])]
    return lines


__all__ = ["render_table", "to_second"]
