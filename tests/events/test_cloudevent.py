from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_structured_event

from watcher.events import cloudevent as ce


def test_every_type_builds_an_event_the_cloudevents_library_accepts() -> None:
    for event_type in sorted(ce.EVENT_TYPES):
        event = ce.build_event(
            event_type,
            source=ce.source_for("w1"),
            subject="strategy-1",
            data={"explanation": {"from": "us-east-1", "to": "eu-west-1"}},
        )
        parsed = from_structured_event(
            HTTPMessage(
                headers={"content-type": ce.CONTENT_TYPE},
                body=ce.encode_event(event).encode(),
            )
        )
        assert parsed.get_specversion() == "1.0"
        assert parsed.get_type() == event_type
        assert parsed.get_subject() == "strategy-1"
        assert parsed.get_source() == "urn:failover-watcher:w1"
        assert parsed.get_datacontenttype() == "application/json"
        assert parsed.get_data() == {"explanation": {"from": "us-east-1", "to": "eu-west-1"}}
        assert parsed.get_time() is not None
        assert ce.structure_problems(event) == []


def test_ids_are_unique_unless_given_and_time_is_rfc3339_utc() -> None:
    a = ce.build_event(ce.SWITCHED, source="s", subject="x", data={})
    b = ce.build_event(ce.SWITCHED, source="s", subject="x", data={})
    assert a["id"] != b["id"]
    pinned = ce.build_event(
        ce.DRIFT,
        source="s",
        subject=None,
        data={},
        event_id="fixed",
        time=datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    assert pinned["id"] == "fixed"
    assert pinned["time"] == "2025-03-01T10:00:00Z"
    assert "subject" not in pinned
    assert ce.format_time(datetime(2025, 1, 1, 0, 0, 0, 500, tzinfo=UTC)).endswith(".000500Z")


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        ce.build_event("com.genesys.failover.swtiched", source="s", subject="x", data={})


def test_encoding_is_stable() -> None:
    event = ce.build_event(ce.SWITCHED, source="s", subject="x", data={"b": 1, "a": 2})
    assert ce.encode_event(event) == ce.encode_event(json.loads(ce.encode_event(event)))


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ([], "not a JSON object"),
        ({"source": "s", "specversion": "1.0", "type": "t"}, "'id'"),
        ({"id": "1", "specversion": "1.0", "type": "t"}, "'source'"),
        ({"id": "1", "source": "s", "type": "t"}, "'specversion'"),
        ({"id": "1", "source": "s", "specversion": "0.3", "type": "t"}, "is not '1.0'"),
        ({"id": "1", "source": "s", "specversion": "1.0", "type": ""}, "'type'"),
        ({"id": "1", "source": "s", "specversion": "1.0", "type": "t", "time": "noon"}, "time"),
        ({"id": "1", "source": "s", "specversion": "1.0", "type": "t", "subject": 3}, "subject"),
    ],
)
def test_structure_problems_are_named(event: object, problem: str) -> None:
    problems = ce.structure_problems(event)
    assert any(problem in p for p in problems), problems
