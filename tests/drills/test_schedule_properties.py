"""Invariants of slot instances, whatever the zone, slot and moment (hypothesis).

The zones are chosen for their transitions: an hour gap (Dublin, New York), half an hour (Lord Howe),
a gap at midnight (Santiago), odd offsets (Kathmandu, Chatham), and none (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.drills.schedule import WEEKDAYS, DrillSchedule, instance_on, next_slot, slot_at

ZONES = [
    "UTC",
    "Europe/Dublin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kathmandu",
    "Pacific/Chatham",
]
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@st.composite
def schedules(draw: st.DrawFn) -> DrillSchedule:
    day = draw(st.sampled_from(WEEKDAYS))
    opens = draw(st.integers(0, 24 * 60 - 1))
    closes = draw(st.integers(0, 24 * 60 - 1).filter(lambda m: m != opens))
    slot = f"{day} {opens // 60:02d}:{opens % 60:02d}-{closes // 60:02d}:{closes % 60:02d}"
    return DrillSchedule(strategy="s", duration_seconds=60, slot=slot, timezone=draw(st.sampled_from(ZONES)))


# Moments over four years, to the second, and biased towards the small hours of Sundays in spring and
# autumn, when most zones change their clocks.
moments = st.one_of(
    st.integers(0, 4 * 366 * 86400).map(lambda s: EPOCH + timedelta(seconds=s)),
    st.builds(
        lambda year, month, day, second: datetime(year, month, day, tzinfo=UTC) + timedelta(seconds=second),
        st.integers(2025, 2028),
        st.sampled_from([3, 4, 9, 10, 11]),
        st.integers(1, 28),
        st.integers(0, 86400 - 1),
    ),
)


@settings(max_examples=400, deadline=None)
@given(schedules(), moments)
def test_an_instance_contains_now_and_keeps_its_key_inside(schedule: DrillSchedule, now: datetime) -> None:
    found = slot_at(schedule, now)
    if found is None:
        return
    assert found.start < found.end
    assert found.start <= now < found.end
    assert found.end - found.start <= timedelta(hours=25)
    assert found.local_date.weekday() == schedule.weekly.weekday
    last = found.end - timedelta(microseconds=1)
    for moment in (found.start, now, last, found.start + (found.end - found.start) / 3):
        again = slot_at(schedule, moment)
        assert again is not None
        assert again.key == found.key
    after = slot_at(schedule, found.end)
    assert after is None or after.key != found.key
    before = slot_at(schedule, found.start - timedelta(microseconds=1))
    assert before is None or before.key != found.key


@settings(max_examples=300, deadline=None)
@given(schedules(), moments, st.floats(0, 1))
def test_a_moment_whose_wall_clock_is_inside_the_slot_is_found(
    schedule: DrillSchedule, now: datetime, fraction: float
) -> None:
    # Place a moment inside the instance opening on the next slot weekday after `now`.
    upcoming = next_slot(schedule, now)
    assert upcoming is not None  # nothing is blocked: every week has one, bar a skipped hour
    moment = upcoming.start + (upcoming.end - upcoming.start) * fraction
    if moment >= upcoming.end:
        return
    found = slot_at(schedule, moment)
    assert found is not None
    assert found.key == upcoming.key
    assert upcoming.start > now


@settings(max_examples=200, deadline=None)
@given(schedules(), moments)
def test_instances_never_overlap_and_follow_weekly(schedule: DrillSchedule, now: datetime) -> None:
    first = next_slot(schedule, now)
    assert first is not None
    second = next_slot(schedule, first.start)
    assert second is not None
    assert second.start >= first.end
    assert timedelta(days=6) < second.start - first.start < timedelta(days=15)  # a skipped week at most
    same = instance_on(schedule, first.local_date)
    assert same == first
