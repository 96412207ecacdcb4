from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.events.outbox import Outbox


def _event(event_id: str) -> dict[str, str]:
    return {"id": event_id, "specversion": "1.0", "type": "t", "source": "s"}


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    yield outbox
    outbox.close()


def _ids(box: Outbox, sink: str, now: float | None = None) -> list[str]:
    return [d.event_id for d in box.next_batch(sink, 100, now)]


def test_one_row_per_sink_oldest_first(box: Outbox) -> None:
    box.enqueue(_event("e1"), ["mesh", "dns"], "s1", now=1.0)
    box.enqueue(_event("e2"), ["mesh", "dns"], "s2", now=2.0)
    assert _ids(box, "mesh") == ["e1", "e2"]
    assert _ids(box, "dns") == ["e1", "e2"]
    box.ack("mesh", "e1")
    assert box.pending_count("mesh") == 1
    assert box.pending_count("dns") == 2
    assert _ids(box, "nobody") == []


def test_the_body_is_stored_verbatim(box: Outbox) -> None:
    box.enqueue({**_event("e1"), "data": {"ü": 1}}, ["mesh"], "s1")
    (item,) = box.next_batch("mesh", 1)
    assert item.body == '{"data":{"ü":1},"id":"e1","source":"s","specversion":"1.0","type":"t"}'


def test_a_key_is_blocked_until_its_head_is_acked(box: Outbox) -> None:
    for i, key in enumerate(["a", "a", "b", "a", "b"]):
        box.enqueue(_event(f"e{i}"), ["mesh"], key, now=float(i))
    assert _ids(box, "mesh") == ["e0", "e2"]
    box.record_failure("mesh", "e0", "HTTP 503", next_attempt_at=100.0)
    # e0 is not due before 100: key a yields nothing (e1 must wait for e0), key b goes on.
    assert _ids(box, "mesh", now=50.0) == ["e2"]
    assert box.next_due_at("mesh") == 2.0
    box.ack("mesh", "e2")
    assert _ids(box, "mesh", now=50.0) == ["e4"]
    box.ack("mesh", "e4")
    assert _ids(box, "mesh", now=50.0) == []
    assert box.next_due_at("mesh") == 100.0
    assert _ids(box, "mesh", now=100.0) == ["e0"]
    (head,) = box.next_batch("mesh", 1, 100.0)
    assert head.attempts == 1
    box.ack("mesh", "e0")
    assert _ids(box, "mesh") == ["e1"]
    box.ack("mesh", "e1")
    assert _ids(box, "mesh") == ["e3"]


def test_enqueue_is_idempotent_and_supersede_drops_stale_state(box: Outbox) -> None:
    box.enqueue(_event("e1"), ["mesh"], "k")
    box.enqueue(_event("e1"), ["mesh"], "k")
    assert box.pending_count("mesh") == 1
    box.enqueue(_event("r1"), ["mesh"], "resync")
    box.enqueue(_event("r2"), ["mesh"], "resync", supersede=True)
    assert _ids(box, "mesh") == ["e1", "r2"]


def test_dead_letters_move_by_age(box: Outbox) -> None:
    box.enqueue(_event("old"), ["mesh", "dns"], "k", now=0.0)
    box.enqueue(_event("new"), ["mesh"], "k", now=900.0)
    box.record_failure("mesh", "old", "HTTP 500", next_attempt_at=10.0)
    moved = box.dead_letter_older_than(600.0, now=1000.0, sink="mesh")
    assert [(d.sink, d.event_id, d.attempts, d.last_error) for d in moved] == [("mesh", "old", 1, "HTTP 500")]
    assert box.dead_letter_count("mesh") == 1
    assert box.dead_letter_count("dns") == 0
    assert _ids(box, "mesh") == ["new"]  # the key is unblocked
    assert [d.sink for d in box.dead_letter_older_than(600.0, now=1000.0)] == ["dns"]
    assert box.dead_letter_older_than(600.0, now=1000.0) == []


def test_ack_of_an_unknown_id_is_harmless(box: Outbox) -> None:
    box.ack("mesh", "nope")
    box.record_failure("mesh", "nope", "x", 1.0)
    assert box.pending_count("mesh") == 0


def test_state_survives_reopening_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    first = Outbox(path)
    first.enqueue(_event("e1"), ["mesh"], "k")
    first.record_failure("mesh", "e1", "HTTP 502", 5.0)
    first.close()
    second = Outbox(path)
    (item,) = second.next_batch("mesh", 10)
    assert (item.event_id, item.attempts) == ("e1", 1)
    second.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_transaction_leaves_nothing(box: Outbox) -> None:
    with pytest.raises(KeyError):
        box.enqueue({"no": "id"}, ["mesh"], "k")
    box.enqueue(_event("e1"), ["mesh", "dns"], "k")
    with pytest.raises(sqlite3.Error):
        box.enqueue({"id": "e2", "bad": object()}, ["mesh", object()], "k")  # type: ignore[list-item]
    assert box.pending_count("mesh") == 1
