"""A drill as `/status` shows it (SPEC §8's shape) and as `drill status` prints it."""

from __future__ import annotations

import json
from typing import Any

from tests.drills._machine import PREFERRED, STANDBY, Machine
from watcher.drills.inputs import AbortDrill, AlarmsRead, Tick
from watcher.drills.readings import AlarmsFiring
from watcher.drills.record import Drill, Outcome
from watcher.drills.report import book_status, drill_json, status_json, status_text, summary_line

T0 = 1_765_188_000.0  # 2025-12-08T10:00:00Z
SPEC_KEYS = {
    "id", "strategy", "to", "outcome", "reason", "startedAt", "arrivedAt", "endedAt",
    "switchSeconds", "backSeconds", "writes",
}  # fmt: skip


def succeeded() -> Drill:
    m = Machine()
    m.start(T0, drill_id="drill-1")
    m.land(T0 + 0.5, "to")
    m.feed(Tick(T0 + 900.5))
    m.land(T0 + 901.0, "back")
    return m.reports()[0]


def failed_by_alarm() -> Drill:
    m = Machine()
    m.start(T0, drill_id="drill-2")
    m.land(T0 + 0.25, "to")
    m.feed(AlarmsRead(T0 + 60.0, AlarmsFiring(frozenset({"CallsFailing"}))))
    m.land(T0 + 60.5, "back")
    return m.reports()[0]


def test_status_has_the_spec_shape() -> None:
    status = status_json(None, [succeeded()])
    assert status["running"] is None
    (drill,) = status["recent"]
    assert set(drill) >= SPEC_KEYS
    assert drill["strategy"] == "contact-center"
    assert (drill["from"], drill["to"]) == (PREFERRED, STANDBY)
    assert (drill["outcome"], drill["reason"]) == ("SUCCEEDED", None)
    assert drill["startedAt"] == "2025-12-08T10:00:00Z"
    assert drill["arrivedAt"] == "2025-12-08T10:00:00.500000Z"
    assert drill["endedAt"] == "2025-12-08T10:15:01Z"
    assert (drill["switchSeconds"], drill["backSeconds"]) == (0.5, 0.5)
    assert drill["writes"][0] == {
        "kind": "strategy", "id": "contact-center", "latencyMs": 42, "result": "success", "leg": "to",
    }  # fmt: skip
    assert [w["leg"] for w in drill["writes"]] == ["to", "to", "back", "back"]
    assert json.loads(json.dumps(status)) == status


def test_a_running_drill_shows_its_phase_and_the_outcome_once_decided() -> None:
    m = Machine()
    m.start(T0, drill_id="drill-3")
    m.land(T0 + 0.5, "to")
    running = drill_json(m.running)  # type: ignore[arg-type]
    assert (running["phase"], running["outcome"], running["endedAt"], running["backSeconds"]) == (
        "HOLDING", None, None, None,
    )  # fmt: skip
    m.feed(AbortDrill(T0 + 10.0))
    returning = book_status(m.book)["running"]
    assert (returning["phase"], returning["outcome"]) == ("RETURNING", "INTERRUPTED")
    assert summary_line(status_json(m.running, [])).startswith("drill drill-3 of contact-center is RETURNING")


def test_recent_is_capped_at_ten() -> None:
    drills = [succeeded() for _ in range(12)]
    assert len(status_json(None, drills)["recent"]) == 10


def test_drill_status_text_for_a_success_and_an_abort_by_alarm() -> None:
    text = status_text(status_json(None, [failed_by_alarm(), succeeded()]))
    print(text)  # the closing note's example (`pytest -s`)
    lines = text.splitlines()
    last = "drill-2 of contact-center FAILED at 2025-12-08T10:01:00.500000Z"
    assert lines[0] == f"no drill running; last: {last}"
    failed = text.split("\n\n")[1]
    assert failed.splitlines()[0] == f"drill drill-2  contact-center  {PREFERRED} -> {STANDBY}"
    assert "  outcome       FAILED" in failed
    assert "  why           outcome alarm firing: CallsFailing" in failed
    assert "  time to move  0.25 s" in failed
    assert "  writes        to   strategy contact-center      42 ms  success" in failed
    assert "                back trigger trigger-1            21 ms  success" in failed
    assert "  time back     0.50 s" in failed
    ok = text.split("\n\n")[2]
    assert "  outcome       SUCCEEDED" in ok
    assert "  why           -" in ok


def test_drill_status_text_with_nothing_yet_and_a_refusal() -> None:
    assert status_text({"running": None, "recent": []}) == "no drill running; none yet"
    m = Machine()
    m.start(T0, drill_id="drill-9", held=True)
    text = status_text(status_json(None, m.reports()))
    assert "  why           contact-center is held" in text
    assert "  writes        -" in text
    assert "  time to move  -" in text


def test_the_stored_form_reads_back_to_the_same_drill() -> None:
    for drill in (succeeded(), failed_by_alarm()):
        state: dict[str, Any] = json.loads(json.dumps(drill.to_state()))
        assert Drill.from_state(state) == drill
    assert failed_by_alarm().outcome is Outcome.FAILED
