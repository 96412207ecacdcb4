"""`[[drills.schedules]]`: a weekly wall-clock slot in a time zone, and which slot instance holds `now`.

A schedule says "practise on Tuesdays between 10:00 and 11:00 Dublin time"; the drill starts once per
slot instance, when it opens or at the first moment inside it that nothing prevents it (SPEC §8). So
the one question the shell asks is `slot_at(schedule, now)`: the instance containing `now` (with a key
that is the same for every moment inside it, so a drill started in it is not started again), or None.

Wall-clock semantics, decided here because the operator thinks in the clock on the wall:

- A slot edge is the first instant the wall clock shows that time on that date. On the night clocks
  go back (an hour shown twice) that is the first showing; a slot "Sun 01:00-03:00" then lasts three
  real hours.
- An edge that does not exist (the hour skipped when clocks go forward) is the instant of the jump:
  "Sun 01:30-03:00" in Europe/Dublin on the last Sunday of March opens at 02:00 IST. A slot that
  lies wholly inside the skipped hour does not happen that week.
- A slot may cross midnight ("Sat 23:00-01:00" ends on Sunday); it belongs to the day it opens on.
- `blocked_dates` are dates in the slot's time zone; a slot opening on one is skipped.

Pure: no clock reads; `now` is passed in, aware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SLOT = re.compile(r"^\s*([A-Za-z]{3})\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class WeeklySlot:
    """A parsed slot: the weekday it opens on (0 = Monday), its opening and closing wall-clock times.

    >>> WeeklySlot.parse("Sat 23:00-01:00").crosses_midnight
    True
    """

    weekday: int
    opens: time
    closes: time

    @property
    def crosses_midnight(self) -> bool:
        return self.closes <= self.opens

    @classmethod
    def parse(cls, text: str) -> WeeklySlot:
        """`"Tue 10:00-11:00"`; ValueError saying what is wrong otherwise."""
        match = _SLOT.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a weekly slot like 'Tue 10:00-11:00'")
        day, h1, m1, h2, m2 = match.groups()
        names = [d.lower() for d in WEEKDAYS]
        if day.lower() not in names:
            raise ValueError(f"{text!r}: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
        opens = _clock(text, int(h1), int(m1), allow_24=False)
        closes = _clock(text, int(h2), int(m2), allow_24=True)
        if opens == closes:
            raise ValueError(f"{text!r}: the slot opens and closes at the same time")
        return cls(names.index(day.lower()), opens, closes)


def _clock(text: str, hour: int, minute: int, *, allow_24: bool) -> time:
    if allow_24 and (hour, minute) == (24, 0):
        return time(0, 0)  # "…-24:00": closes at midnight, i.e. 00:00 of the next day
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day")
    return time(hour, minute)


class DrillSchedule(BaseModel):
    """One `[[drills.schedules]]` entry: drill `strategy` weekly inside `slot`, in `timezone`.

    >>> s = DrillSchedule(strategy="cc", duration_seconds=900, slot="Tue 10:00-11:00")
    >>> s.timezone, s.weekly.weekday
    ('UTC', 1)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = Field(min_length=1)
    to: str | None = Field(default=None, min_length=1, description="default: the next ready region")
    duration_seconds: float = Field(gt=0, le=7 * 86400)
    slot: str = Field(description="weekly, e.g. 'Tue 10:00-11:00' (may cross midnight)")
    timezone: str = "UTC"
    blocked_dates: list[date] = Field(default_factory=list, description="YYYY-MM-DD in the slot's zone")

    @field_validator("slot")
    @classmethod
    def _slot_parses(cls, value: str) -> str:
        WeeklySlot.parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Dublin')") from None
        return value

    @field_validator("blocked_dates", mode="before")
    @classmethod
    def _dates_are_days(cls, value: object) -> object:
        # TOML gives a date for an unquoted 2026-12-24 and a str for a quoted one; pydantic alone
        # would also take a number (as a timestamp) or a datetime, which is never what was meant.
        if not isinstance(value, list):
            return value
        for item in value:
            if isinstance(item, datetime) or not isinstance(item, date | str):
                raise ValueError(f"{item!r} is not a date YYYY-MM-DD")
            if isinstance(item, str) and not _DATE.match(item):
                raise ValueError(f"{item!r} is not a date YYYY-MM-DD")
        return value

    @property
    def weekly(self) -> WeeklySlot:
        return WeeklySlot.parse(self.slot)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SlotInstance:
    """One occurrence of a schedule's slot: `start <= t < end` (aware UTC), opened on `local_date`.

    `key` is the same for every moment inside it and differs between instances: the shell starts a
    scheduled drill at most once per key.
    """

    key: str
    start: datetime
    end: datetime
    local_date: date

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end


def slot_at(schedule: DrillSchedule, now: datetime) -> SlotInstance | None:
    """The instance of the schedule's slot containing `now` (aware), or None (outside, or blocked)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    today = now.astimezone(schedule.zone).date()
    for offset in (-1, 0, 1):
        instance = instance_on(schedule, today + timedelta(days=offset))
        if instance is not None and instance.contains(now):
            return instance
    return None


def next_slot(schedule: DrillSchedule, now: datetime, *, weeks: int = 60) -> SlotInstance | None:
    """The first instance that opens after `now` within `weeks` (None when every one is blocked)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    day = now.astimezone(schedule.zone).date() - timedelta(days=1)
    for _ in range(weeks * 7 + 2):
        instance = instance_on(schedule, day)
        if instance is not None and instance.start > now:
            return instance
        day += timedelta(days=1)
    return None


def instance_on(schedule: DrillSchedule, local_date: date) -> SlotInstance | None:
    """The instance opening on `local_date` (a date in the slot's zone), or None: not the slot's
    weekday, a blocked date, or a slot wholly inside an hour the clocks skip that day."""
    slot = schedule.weekly
    if local_date.weekday() != slot.weekday or local_date in schedule.blocked_dates:
        return None
    zone = schedule.zone
    close_date = local_date + timedelta(days=1) if slot.crosses_midnight else local_date
    start = wall_instant(datetime.combine(local_date, slot.opens), zone)
    end = wall_instant(datetime.combine(close_date, slot.closes), zone)
    if end <= start:
        return None
    key = f"{schedule.strategy}|{schedule.slot}|{schedule.timezone}|{local_date.isoformat()}"
    return SlotInstance(key, start, end, local_date)


def wall_instant(local: datetime, zone: tzinfo) -> datetime:
    """The first UTC instant at which the wall clock in `zone` shows `local` (naive), or, when the
    clocks skip over it, the instant of the jump (the first moment the wall shows a later time)."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        other = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
        return min(first, other)  # an hour shown twice: its first showing
    # In a gap the two folds land either side of the jump; bisect to the second of the jump.
    low, high = sorted((first, local.replace(tzinfo=zone, fold=1).astimezone(UTC)))
    second = timedelta(seconds=1)
    while high - low > second:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) > local:
            high = middle
        else:
            low = middle
    return high


def due(schedules: list[DrillSchedule], now: datetime) -> list[tuple[DrillSchedule, SlotInstance]]:
    """The schedules whose slot is open at `now`, each with its instance (the shell then asks the
    drill machine to start each one, passing the instance's key; a used key is ignored there)."""
    open_now = ((s, slot_at(s, now)) for s in schedules)
    return [(s, instance) for s, instance in open_now if instance is not None]
