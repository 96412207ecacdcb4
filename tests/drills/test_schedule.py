"""Weekly drill slots: which instance holds `now`, across DST changes, midnight and blocked dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from watcher.drills.schedule import DrillSchedule, WeeklySlot, next_slot, slot_at


def sched(slot: str, timezone: str = "UTC", blocked: list[str] | None = None) -> DrillSchedule:
    return DrillSchedule.model_validate(
        {
            "strategy": "contact-center",
            "duration_seconds": 900,
            "slot": slot,
            "timezone": timezone,
            "blocked_dates": blocked or [],
        }
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def test_a_weekly_slot_holds_now_only_between_its_edges() -> None:
    s = sched("Tue 10:00-11:00")
    inside = slot_at(s, utc(2026, 12, 8, 10, 30))
    assert inside is not None
    assert (inside.start, inside.end) == (utc(2026, 12, 8, 10, 0), utc(2026, 12, 8, 11, 0))
    assert slot_at(s, utc(2026, 12, 8, 10, 0)) == inside
    assert slot_at(s, utc(2026, 12, 8, 9, 59, 59)) is None
    assert slot_at(s, utc(2026, 12, 8, 11, 0)) is None
    assert slot_at(s, utc(2026, 12, 9, 10, 30)) is None  # a Wednesday


def test_the_key_is_the_same_inside_an_instance_and_differs_next_week() -> None:
    s = sched("Tue 10:00-11:00", "Europe/Dublin")
    first = slot_at(s, utc(2026, 12, 8, 10, 0))
    later = slot_at(s, utc(2026, 12, 8, 10, 59, 59))
    next_week = slot_at(s, utc(2026, 12, 15, 10, 0))
    assert first is not None
    assert later is not None
    assert next_week is not None
    assert first.key == later.key != next_week.key


def test_a_slot_keeps_its_wall_clock_time_in_summer_and_winter() -> None:
    s = sched("Tue 10:00-11:00", "Europe/Dublin")
    summer = slot_at(s, utc(2026, 7, 7, 9, 30))  # 10:30 IST
    assert summer is not None
    assert summer.start == utc(2026, 7, 7, 9, 0)
    assert slot_at(s, utc(2026, 7, 7, 10, 30)) is None  # 11:30 IST
    winter = slot_at(s, utc(2026, 12, 8, 10, 30))
    assert winter is not None
    assert winter.start == utc(2026, 12, 8, 10, 0)


def test_a_slot_opening_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    # Europe/Dublin, Sunday 29 March 2026: at 01:00 GMT the clocks go to 02:00 IST.
    s = sched("Sun 01:00-03:00", "Europe/Dublin")
    assert slot_at(s, utc(2026, 3, 29, 0, 59, 59)) is None  # wall 00:59 GMT: not open yet
    opened = slot_at(s, utc(2026, 3, 29, 1, 0))  # wall 02:00 IST
    assert opened is not None
    assert (opened.start, opened.end) == (utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))  # to 03:00 IST
    half = slot_at(sched("Sun 01:30-03:00", "Europe/Dublin"), utc(2026, 3, 29, 1, 0))
    assert half is not None
    assert half.start == utc(2026, 3, 29, 1, 0)


def test_a_slot_wholly_inside_the_skipped_hour_does_not_happen_that_week() -> None:
    s = sched("Sun 01:10-01:50", "Europe/Dublin")
    day = utc(2026, 3, 29, 0, 0)
    assert all(slot_at(s, day + timedelta(minutes=m)) is None for m in range(0, 24 * 60, 5))
    week_after = slot_at(s, utc(2026, 4, 5, 0, 30))  # 01:30 IST
    assert week_after is not None
    assert week_after.start == utc(2026, 4, 5, 0, 10)
    assert next_slot(s, utc(2026, 3, 28, 0, 0)) == week_after


def test_when_an_hour_is_shown_twice_the_slot_opens_at_its_first_showing() -> None:
    # Europe/Dublin, Sunday 25 October 2026: at 02:00 IST (01:00 UTC) the clocks go back to 01:00 GMT.
    s = sched("Sun 01:00-03:00", "Europe/Dublin")
    opened = slot_at(s, utc(2026, 10, 25, 0, 0))  # 01:00 IST, the first showing
    assert opened is not None
    assert (opened.start, opened.end) == (utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 3, 0))  # 3 real hours
    again = slot_at(s, utc(2026, 10, 25, 1, 30))  # 01:30 GMT, the second showing: the same instance
    assert again is not None
    assert again.key == opened.key
    short = sched("Sun 01:15-01:45", "Europe/Dublin")
    assert slot_at(short, utc(2026, 10, 25, 0, 20)) is not None
    assert slot_at(short, utc(2026, 10, 25, 1, 20)) is None  # the wall shows 01:20 again: already done


def test_new_york_spring_forward_opens_at_three() -> None:
    s = sched("Sun 02:30-03:30", "America/New_York")  # 8 March 2026: 02:00 EST -> 03:00 EDT
    opened = slot_at(s, utc(2026, 3, 8, 7, 0))
    assert opened is not None
    assert (opened.start, opened.end) == (utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30))


def test_a_slot_may_cross_midnight_and_belongs_to_the_day_it_opens() -> None:
    s = sched("Sat 23:00-01:00")
    late = slot_at(s, utc(2026, 12, 12, 23, 30))
    after_midnight = slot_at(s, utc(2026, 12, 13, 0, 30))
    assert late is not None
    assert late == after_midnight
    assert late.local_date == date(2026, 12, 12)
    assert (late.start, late.end) == (utc(2026, 12, 12, 23, 0), utc(2026, 12, 13, 1, 0))
    assert slot_at(s, utc(2026, 12, 13, 1, 0)) is None
    assert slot_at(sched("Sat 23:00-01:00", blocked=["2026-12-12"]), utc(2026, 12, 13, 0, 30)) is None
    assert slot_at(sched("Sat 23:00-01:00", blocked=["2026-12-13"]), utc(2026, 12, 13, 0, 30)) == late
    ends_at_midnight = slot_at(sched("Sat 22:00-24:00"), utc(2026, 12, 12, 23, 59))
    assert ends_at_midnight is not None
    assert ends_at_midnight.end == utc(2026, 12, 13, 0, 0)


def test_blocked_dates_are_dates_in_the_slots_zone() -> None:
    # 10:00 on Thursday 24 December in Auckland is 21:00 UTC on the 23rd.
    s = sched("Thu 10:00-11:00", "Pacific/Auckland", blocked=["2026-12-24"])
    assert slot_at(s, utc(2026, 12, 23, 21, 30)) is None
    assert slot_at(sched("Thu 10:00-11:00", "Pacific/Auckland"), utc(2026, 12, 23, 21, 30)) is not None
    upcoming = next_slot(s, utc(2026, 12, 20, 0, 0))
    assert upcoming is not None
    assert upcoming.local_date == date(2026, 12, 31)


def test_blocked_dates_accept_toml_dates_and_strings_only() -> None:
    table = {"strategy": "s", "duration_seconds": 60, "slot": "Mon 09:00-10:00"}
    s = DrillSchedule.model_validate({**table, "blocked_dates": [date(2026, 12, 24), "2026-12-31"]})
    assert s.blocked_dates == [date(2026, 12, 24), date(2026, 12, 31)]
    for bad in ("24/12/2026", 20261224, "2026-12-24T00:00:00", datetime(2026, 12, 24, tzinfo=UTC)):
        with pytest.raises(ValidationError, match="blocked_dates"):
            sched("Mon 09:00-10:00", blocked=[bad])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("slot", "says"),
    [
        ("Tue 10:00", "not a weekly slot"),
        ("Xyz 10:00-11:00", "not a weekday"),
        ("Tue 25:00-26:00", "not a time of day"),
        ("Tue 10:61-11:00", "not a time of day"),
        ("Tue 10:00-10:00", "opens and closes at the same time"),
        ("Tue 24:00-01:00", "not a time of day"),
    ],
)
def test_a_bad_slot_is_refused_saying_what_is_wrong(slot: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as caught:
        sched(slot)
    assert caught.value.errors()[0]["loc"] == ("slot",)


def test_an_unknown_time_zone_is_refused_naming_the_key() -> None:
    for zone in ("Mars/Olympus_Mons", "", "../../etc/passwd"):
        with pytest.raises(ValidationError, match="unknown time zone") as caught:
            sched("Tue 10:00-11:00", zone)
        assert caught.value.errors()[0]["loc"] == ("timezone",)


def test_slot_parsing_is_case_blind_and_weekday_numbered_from_monday() -> None:
    assert WeeklySlot.parse("mon 9:00-9:30").weekday == 0
    assert WeeklySlot.parse("SUN 23:30-00:30").crosses_midnight


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        slot_at(sched("Tue 10:00-11:00"), datetime(2026, 12, 8, 10, 30))


def test_zone_names_resolve() -> None:
    assert sched("Tue 10:00-11:00", "Europe/Dublin").zone == ZoneInfo("Europe/Dublin")
