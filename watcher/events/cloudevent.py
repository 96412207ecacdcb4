"""CloudEvents 1.0 in structured JSON mode: the envelope of everything the watcher tells the world.

Pure functions only. The clock and the id generator are parameters (defaulted) so a test can pin
them and the dispatcher can resend the exact bytes it stored: the body of an event is serialised
once, at enqueue time, and never rebuilt.

>>> e = build_event(SWITCHED, source=source_for("w1"), subject="strategy-1",
...                 data={"to": "eu-west-1"}, event_id="e-1",
...                 time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
>>> e["time"], e["specversion"]
('2025-01-02T03:04:05Z', '1.0')
>>> structure_problems(e)
[]
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

SPECVERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/cloudevents+json"
DATA_CONTENT_TYPE: Final = "application/json"

SWITCHED: Final = "com.genesys.failover.switched"
FAILBACK: Final = "com.genesys.failover.failback"
DRIFT: Final = "com.genesys.failover.drift"
ALL_DOWN: Final = "com.genesys.failover.all_down"
ALL_DOWN_CLEARED: Final = "com.genesys.failover.all_down_cleared"
DECISION: Final = "com.genesys.failover.decision"
"""A decision that wrote nothing: dry-run, or refused by policy."""
REGION_CHANGED: Final = "com.genesys.failover.region_changed"
RESYNC: Final = "com.genesys.failover.resync"
"""The full state, sent periodically so a receiver that missed something converges."""
SWITCH_FAILED: Final = "com.genesys.failover.switch_failed"
SWITCHING: Final = "com.genesys.failover.switching"
"""A switch about to be written: stored before the write, so a crash in between loses nothing."""
OPERATOR: Final = "com.genesys.failover.operator"
"""An operator command (hold, pin, release, dry-run) or the expiry of one."""
DRILL: Final = "com.genesys.failover.drill"
"""A drill's report (SPEC §8): outcome, why, time to move, each write, time back."""

EVENT_TYPES: Final = frozenset(
    {
        SWITCHED,
        FAILBACK,
        DRIFT,
        ALL_DOWN,
        ALL_DOWN_CLEARED,
        DECISION,
        REGION_CHANGED,
        RESYNC,
        SWITCH_FAILED,
        SWITCHING,
        OPERATOR,
        DRILL,
    }
)

_REQUIRED: Final = ("id", "source", "specversion", "type")


def source_for(instance: str) -> str:
    """The `source` URI of one watcher instance: receivers tell two watchers apart by it."""
    return f"urn:failover-watcher:{instance}"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, microseconds only when present (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def build_event(
    event_type: str,
    *,
    source: str,
    subject: str | None,
    data: Mapping[str, Any],
    event_id: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """One CloudEvent as a plain dict, ready for `encode_event`.

    The type must be one of `EVENT_TYPES`: a typo in a type name would otherwise be a silent
    routing failure at every receiver.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event_id if event_id is not None else str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": format_time(time if time is not None else datetime.now(UTC)),
        "datacontenttype": DATA_CONTENT_TYPE,
        "data": dict(data),
    }
    if subject is not None:
        event["subject"] = subject
    return event


def encode_event(event: Mapping[str, Any]) -> str:
    """The body as sent and as signed: compact, key-sorted, so the same event is the same text."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


def structure_problems(event: object) -> list[str]:
    """What makes `event` not a CloudEvent 1.0 (empty list: it is one).

    The receiver checks structure itself because the `cloudevents` library is a dev dependency.
    """
    if not isinstance(event, dict):
        return ["event is not a JSON object"]
    problems: list[str] = []
    for name in _REQUIRED:
        value = event.get(name)
        if not isinstance(value, str) or not value:
            problems.append(f"attribute {name!r} missing or not a non-empty string")
    version = event.get("specversion")
    if isinstance(version, str) and version and version != SPECVERSION:
        problems.append(f"specversion {version!r} is not {SPECVERSION!r}")
    if "time" in event:
        try:
            datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
        except ValueError:
            problems.append("attribute 'time' is not RFC 3339")
    if "subject" in event and not isinstance(event["subject"], str):
        problems.append("attribute 'subject' is not a string")
    return problems
