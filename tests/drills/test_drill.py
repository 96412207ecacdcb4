"""The drill machine, hostile cases first: the preferred region dying, the leader changing, a kill
mid-drill, Prometheus unreachable; then each abort, each refusal, and a drill that succeeds."""

from __future__ import annotations

from tests.drills._machine import POLICY, PREFERRED, STANDBY, THIRD, Machine, facts
from watcher.drills.drill import DrillBook
from watcher.drills.inputs import (
    AbortDrill,
    AlarmsRead,
    DrillPolicy,
    MoveTo,
    Recovered,
    RegionHealthChanged,
    Report,
    Stopping,
    Tick,
)
from watcher.drills.readings import AlarmsFiring, AlarmsUnreadable
from watcher.drills.record import Drill, Outcome, Phase


def holding(m: Machine) -> None:
    assert m.start(0.0) == (MoveTo("d1", "contact-center", STANDBY, "to", "drill d1: operator"),)
    assert m.land(0.5, "to") == ()
    assert m.running is not None
    assert m.running.phase is Phase.HOLDING


# --- hostile cases -------------------------------------------------------------------------------


def test_the_preferred_region_dying_mid_drill_interrupts_it_without_a_move_back() -> None:
    m = Machine()
    holding(m)
    actions = m.feed(RegionHealthChanged(30.0, PREFERRED, healthy=False))
    assert [type(a) for a in actions] == [Report]
    report = m.reports()[0]
    assert report.outcome is Outcome.INTERRUPTED
    assert report.reason is not None
    assert f"the preferred region {PREFERRED} failed" in report.reason
    assert "not moved back" in report.reason
    assert [mv.leg for mv in m.moves()] == ["to"]
    assert m.feed(Tick(10_000.0)) == ()
    assert m.book.running is None


def test_the_preferred_region_dying_while_the_move_is_in_flight_ends_it_and_ignores_the_landing() -> None:
    m = Machine()
    m.start(0.0)
    m.feed(RegionHealthChanged(0.2, PREFERRED, healthy=False))
    assert m.reports()[0].outcome is Outcome.INTERRUPTED
    assert m.feed(AlarmsRead(0.3, AlarmsUnreadable("down"))) == ()
    assert [mv.leg for mv in m.moves()] == ["to"]


def test_a_new_leader_ends_the_drill_and_moves_back_before_anything_else() -> None:
    old = Machine()
    holding(old)
    assert old.feed(Stopping(40.0, "leadership lost")) == ()  # a deposed leader's write would not land
    assert old.feed(Tick(10_000.0)) == ()
    assert old.feed(AbortDrill(10_001.0)) == ()
    stored = Drill.from_state(old.running.to_state())  # type: ignore[union-attr]
    assert stored.outcome is Outcome.INTERRUPTED

    new = Machine()
    first = new.feed(Recovered(45.0, facts(active_region=STANDBY), stored))
    assert first == (MoveTo("d1", "contact-center", PREFERRED, "back", first[0].reason),)  # type: ignore[union-attr]
    new.land(45.5, "back")
    report = new.reports()[0]
    assert report.outcome is Outcome.INTERRUPTED
    assert report.reason == "leadership lost: the drill is ended by the next leader"
    assert report.back_seconds == 0.5
    assert [w.leg for w in report.writes] == ["to", "to", "back", "back"]


def test_after_a_kill_mid_drill_the_restarted_instance_reports_it_interrupted_and_moves_back() -> None:
    m = Machine()
    holding(m)
    stored = Drill.from_state(m.running.to_state())  # type: ignore[union-attr]  # the SIGKILL: no Stopping
    restarted = Machine()
    actions = restarted.feed(Recovered(90.0, facts(active_region=STANDBY), stored))
    assert [(type(a), getattr(a, "region", None)) for a in actions] == [(MoveTo, PREFERRED)]
    restarted.land(90.3, "back")
    report = restarted.reports()[0]
    assert report.outcome is Outcome.INTERRUPTED
    assert report.reason is not None
    assert "stopped during the drill" in report.reason
    assert restarted.book.recent == (report,)


def test_recovery_does_not_move_a_strategy_already_back_or_onto_a_failed_preferred_region() -> None:
    m = Machine()
    holding(m)
    stored = m.running
    assert stored is not None
    back_already = Machine()
    back_already.feed(Recovered(90.0, facts(active_region=PREFERRED), stored))
    assert back_already.moves() == []
    assert back_already.reports()[0].outcome is Outcome.INTERRUPTED

    preferred_down = Machine()
    preferred_down.feed(
        Recovered(90.0, facts(active_region=STANDBY, healthy=frozenset({STANDBY, THIRD})), stored)
    )
    assert preferred_down.moves() == []
    assert "unhealthy: not moved back" in (preferred_down.reports()[0].reason or "")

    moved_elsewhere = Machine()
    moved_elsewhere.feed(Recovered(90.0, facts(active_region=THIRD), stored))
    assert moved_elsewhere.moves() == []
    assert f"routes to {THIRD}, not the drill region" in (moved_elsewhere.reports()[0].reason or "")


def test_recovery_while_this_instance_still_runs_the_drill_does_nothing() -> None:
    m = Machine()
    m.start(0.0)  # the move to the standby is in flight
    assert m.feed(Recovered(1.0, facts(active_region=STANDBY))) == ()
    assert m.feed(Recovered(1.0, facts(active_region=STANDBY), m.running)) == ()
    assert [mv.leg for mv in m.moves()] == ["to"]


def test_recovery_of_an_ended_drill_or_of_nothing_does_nothing() -> None:
    m = Machine()
    assert m.feed(Recovered(1.0, facts())) == ()
    holding(m)
    m.feed(AbortDrill(2.0))
    m.land(2.5, "back")
    ended = m.reports()[0]
    assert Machine().feed(Recovered(3.0, facts(active_region=STANDBY), ended)) == ()


def test_prometheus_unreachable_stops_a_drill_with_alarms_from_starting_and_aborts_a_running_one() -> None:
    m = Machine()
    actions = m.start(0.0, alarms=AlarmsUnreadable("http://prom:9090/api/v1/alerts: ConnectError"))
    assert m.moves() == []
    (report,) = [a.drill for a in actions if isinstance(a, Report)]
    assert report.outcome is Outcome.NOT_STARTED
    assert report.reason == "Prometheus cannot be read: http://prom:9090/api/v1/alerts: ConnectError"

    running = Machine()
    holding(running)
    aborting = running.feed(AlarmsRead(20.0, AlarmsUnreadable("HTTP 503")))
    assert [(type(a), getattr(a, "region", None)) for a in aborting] == [(MoveTo, PREFERRED)]
    running.land(20.5, "back")
    assert running.reports()[0].outcome is Outcome.FAILED
    assert running.reports()[0].reason == "Prometheus cannot be read: HTTP 503"


def test_without_any_alarm_named_prometheus_does_not_matter() -> None:
    m = Machine(policy=DrillPolicy())
    m.start(0.0, alarms=AlarmsUnreadable("not configured"))
    assert len(m.moves()) == 1
    m.land(1.0, "to")
    assert m.feed(AlarmsRead(2.0, AlarmsUnreadable("down"))) == ()


# --- aborts --------------------------------------------------------------------------------------


def test_an_outcome_alarm_fails_the_drill_naming_it_and_moves_back() -> None:
    m = Machine()
    holding(m)
    assert m.feed(AlarmsRead(10.0, AlarmsFiring(frozenset({"IncidentOpen"})))) == ()  # blocks starts only
    actions = m.feed(AlarmsRead(15.0, AlarmsFiring(frozenset({"CallsFailing"}))))
    assert [getattr(a, "region", None) for a in actions] == [PREFERRED]
    m.land(15.4, "back")
    report = m.reports()[0]
    assert (report.outcome, report.reason) == (Outcome.FAILED, "outcome alarm firing: CallsFailing")
    assert report.switch_seconds == 0.5
    assert report.back_seconds is not None


def test_the_drill_region_turning_unhealthy_fails_it() -> None:
    m = Machine()
    holding(m)
    m.feed(RegionHealthChanged(10.0, THIRD, healthy=False))  # another region: not the drill's concern
    assert m.running is not None
    assert m.running.outcome is None
    m.feed(RegionHealthChanged(11.0, STANDBY, healthy=False))
    assert m.moves()[-1].region == PREFERRED
    m.land(11.5, "back")
    assert m.reports()[0].reason == f"the drill region {STANDBY} turned unhealthy"


def test_an_operator_abort_interrupts_and_moves_back() -> None:
    m = Machine()
    holding(m)
    m.feed(AbortDrill(5.0, "drill abort by ops"))
    assert m.moves()[-1].leg == "back"
    assert m.feed(AbortDrill(5.1)) == ()  # already returning
    m.land(5.3, "back")
    assert (m.reports()[0].outcome, m.reports()[0].reason) == (Outcome.INTERRUPTED, "drill abort by ops")


def test_an_abort_while_the_move_is_in_flight_waits_for_it_then_moves_back() -> None:
    m = Machine()
    m.start(0.0)
    assert m.feed(AlarmsRead(0.1, AlarmsFiring(frozenset({"CallsFailing"})))) == ()
    assert m.feed(Tick(0.2)) == ()
    assert [a.region for a in m.land(0.4, "to")] == [PREFERRED]  # type: ignore[union-attr]
    m.land(0.9, "back")
    assert m.reports()[0].outcome is Outcome.FAILED


def test_a_failed_move_to_the_standby_fails_the_drill_and_moves_back() -> None:
    m = Machine()
    m.start(0.0)
    m.land(0.3, "to", ok=False, reason="trigger-1 did not follow")
    assert m.moves()[-1].leg == "back"
    m.land(0.6, "back")
    report = m.reports()[0]
    assert report.reason == f"the move to {STANDBY} failed: trigger-1 did not follow"
    assert report.arrived_at is None
    assert report.switch_seconds is None


def test_a_failed_move_back_is_retried_on_ticks_then_reported() -> None:
    m = Machine()
    holding(m)
    m.feed(Tick(600.5))
    m.land(601.0, "back", ok=False, reason="HTTP 500")
    assert [a.leg for a in m.feed(Tick(601.1))] == ["back"]  # type: ignore[union-attr]
    m.land(602.0, "back", ok=False, reason="HTTP 500")
    m.feed(Tick(603.0))
    m.land(604.0, "back", ok=False, reason="HTTP 500")
    report = m.reports()[0]
    assert len(m.moves()) == 4
    assert m.book.running is None
    assert report.outcome is Outcome.FAILED
    assert report.reason is not None
    assert "failed 3 times (HTTP 500): not moved back" in report.reason


def test_a_stale_or_foreign_move_result_is_ignored() -> None:
    m = Machine()
    holding(m)
    assert m.land(1.0, "to") == ()  # a duplicate
    assert m.running is not None
    assert m.running.arrived_at == 0.5


# --- refusals ------------------------------------------------------------------------------------


def refused(m: Machine) -> str:
    (report,) = m.reports()
    assert report.outcome is Outcome.NOT_STARTED
    assert m.moves() == []
    assert report.reason is not None
    return report.reason


def test_each_refusal_names_its_reason() -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"held": True}, "contact-center is held"),
        ({"pinned": True}, "contact-center is pinned"),
        ({"dry_run": True}, "dry run is on"),
        ({"healthy": frozenset({PREFERRED, STANDBY})}, f"unhealthy region of contact-center: {THIRD}"),
        ({"active_region": STANDBY}, f"not on its preferred region {PREFERRED} (it routes to {STANDBY})"),
        ({"alarms": AlarmsFiring(frozenset({"IncidentOpen"}))}, "blocking alarm firing: IncidentOpen"),
        ({"to": "ap-south-1"}, "ap-south-1 is not a region of contact-center"),
        ({"to": PREFERRED}, f"{PREFERRED} is the preferred region of contact-center, not a standby"),
        ({"ready": frozenset({PREFERRED})}, "no standby region of contact-center is ready"),
        ({"regions": (PREFERRED,)}, "contact-center has no standby region"),
        ({"regions": ()}, "contact-center has no regions"),
        ({"duration": 0.0}, "the duration must be positive, not 0.0"),
        ({"duration": float("nan")}, "the duration must be positive, not nan"),
    ]
    for changes, says in cases:
        m = Machine()
        m.start(1.0, **changes)  # type: ignore[arg-type]
        assert says in refused(m), changes


def test_reasons_are_given_all_at_once() -> None:
    m = Machine()
    m.start(1.0, held=True, dry_run=True, alarms=AlarmsFiring(frozenset({"IncidentOpen"})))
    assert refused(m) == "dry run is on; contact-center is held; blocking alarm firing: IncidentOpen"


def test_another_drill_running_refuses_a_second() -> None:
    m = Machine()
    holding(m)
    m.start(2.0, drill_id="d2")
    (report,) = m.reports()
    assert report.id == "d2"
    assert report.reason == "another drill runs (d1 of contact-center)"
    assert m.running is not None
    assert m.running.id == "d1"


def test_the_default_standby_is_the_next_ready_region() -> None:
    m = Machine()
    m.start(0.0, ready=frozenset({THIRD}))
    assert m.moves()[0].region == THIRD
    explicit = Machine()
    explicit.start(0.0, to=THIRD)
    assert explicit.moves()[0].region == THIRD


def test_a_scheduled_drill_starts_once_per_slot_and_reports_a_refusal_once() -> None:
    m = Machine()
    m.start(0.0, slot_key="k1", held=True)
    m.start(5.0, drill_id="d2", slot_key="k1", held=True)  # still held: tried again silently
    assert len(m.reports()) == 1
    m.start(10.0, drill_id="d3", slot_key="k1")  # the first moment nothing prevents it
    assert m.running is not None
    assert m.running.id == "d3"
    assert m.running.origin == "schedule k1"
    m.land(10.5, "to")
    m.feed(Tick(610.5))
    m.land(611.0, "back")
    assert m.start(700.0, drill_id="d4", slot_key="k1") == ()  # the slot's drill has run
    assert [d.outcome for d in m.book.recent] == [Outcome.SUCCEEDED, Outcome.NOT_STARTED]


# --- success -------------------------------------------------------------------------------------


def test_a_drill_moves_holds_for_its_duration_from_arrival_and_comes_back() -> None:
    m = Machine()
    holding(m)
    assert m.feed(Tick(600.4)) == ()  # the duration counts from the read-back at 0.5
    (back,) = m.feed(Tick(600.5))
    assert back == MoveTo(
        "d1", "contact-center", PREFERRED, "back", "drill d1 ends: the drill's duration is over"
    )
    assert m.feed(Tick(600.6)) == ()  # the move back is in flight: not issued twice
    m.land(601.0, "back")
    (report,) = m.reports()
    assert (report.outcome, report.reason, report.phase) == (Outcome.SUCCEEDED, None, Phase.ENDED)
    assert (report.switch_seconds, report.back_seconds, report.ended_at) == (0.5, 0.5, 601.0)
    assert m.book.running is None
    assert m.book.recent == (report,)


def test_recent_keeps_the_last_ten_newest_first() -> None:
    m = Machine()
    for i in range(12):
        m.start(float(i), drill_id=f"d{i}", held=True)
    assert [d.id for d in m.book.recent] == [f"d{i}" for i in range(11, 1, -1)]


def test_events_without_a_running_drill_do_nothing() -> None:
    m = Machine(policy=POLICY, book=DrillBook())
    for event in (Tick(1.0), AbortDrill(1.0), Stopping(1.0), RegionHealthChanged(1.0, PREFERRED, False)):
        assert m.feed(event) == ()
