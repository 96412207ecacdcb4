"""The `[drills]` table: defaults, and a bad table refused naming the key."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from watcher.drills.settings import DrillsSettings

SPEC_EXAMPLE = """
[drills]
prometheus_url = "http://127.0.0.1:9090"
outcome_alarms = ["CallsFailing"]
blocking_alarms = ["IncidentOpen"]
alarm_interval_seconds = 5

[[drills.schedules]]
strategy = "contact-center"
to = "us-west-2"
duration_seconds = 900
slot = "Tue 10:00-11:00"
timezone = "Europe/Dublin"
blocked_dates = ["2026-12-24", 2026-12-31]
"""


def test_the_spec_example_loads() -> None:
    drills = DrillsSettings.model_validate(tomllib.loads(SPEC_EXAMPLE)["drills"])
    assert drills.watched == ("CallsFailing", "IncidentOpen")
    assert drills.schedules[0].timezone == "Europe/Dublin"
    assert [d.isoformat() for d in drills.schedules[0].blocked_dates] == ["2026-12-24", "2026-12-31"]
    assert drills.check_against({"contact-center": ["us-east-1", "us-west-2"]}) == []


def test_defaults_read_no_alarms() -> None:
    drills = DrillsSettings()
    assert (drills.prometheus_url, drills.watched, drills.alarm_interval_seconds) == (None, (), 5.0)


def _loc(error: ValidationError) -> list[tuple[str | int, ...]]:
    return [e["loc"] for e in error.errors()]


def test_an_unknown_zone_in_a_schedule_is_refused_naming_the_key() -> None:
    table = tomllib.loads(SPEC_EXAMPLE.replace("Europe/Dublin", "Europe/Atlantis"))["drills"]
    with pytest.raises(ValidationError, match="unknown time zone 'Europe/Atlantis'") as caught:
        DrillsSettings.model_validate(table)
    assert _loc(caught.value) == [("schedules", 0, "timezone")]


@pytest.mark.parametrize(
    ("change", "loc", "says"),
    [
        ({"prometheus_url": "127.0.0.1:9090"}, ("prometheus_url",), "http"),
        ({"prometheus_url": None}, (), "prometheus_url is required"),
        ({"outcome_alarms": ["A", "A"]}, ("outcome_alarms",), "named twice"),
        ({"blocking_alarms": [" "]}, ("blocking_alarms",), "empty"),
        ({"alarm_interval_seconds": 0}, ("alarm_interval_seconds",), "greater than 0"),
        ({"alarm_intervall_seconds": 5}, ("alarm_intervall_seconds",), "Extra inputs"),
    ],
)
def test_a_bad_table_is_refused_naming_the_key(
    change: dict[str, object], loc: tuple[str, ...], says: str
) -> None:
    table = {**tomllib.loads(SPEC_EXAMPLE)["drills"], **change}
    with pytest.raises(ValidationError, match=says) as caught:
        DrillsSettings.model_validate(table)
    assert _loc(caught.value) == [loc]


def test_a_schedule_must_name_a_strategy_and_one_of_its_standbys() -> None:
    drills = DrillsSettings.model_validate(tomllib.loads(SPEC_EXAMPLE)["drills"])
    assert drills.check_against({}) == ["drills.schedules[0].strategy: unknown strategy 'contact-center'"]
    assert drills.check_against({"contact-center": ["us-west-2", "us-east-1"]}) == [
        "drills.schedules[0].to: 'us-west-2' is not a standby region of 'contact-center' (us-east-1)"
    ]
    assert drills.check_against({"contact-center": ["us-east-1"]}) == [
        "drills.schedules[0].strategy: 'contact-center' has no standby region to drill",
        "drills.schedules[0].to: 'us-west-2' is not a standby region of 'contact-center' (none)",
    ]


def test_the_url_loses_a_trailing_slash() -> None:
    assert DrillsSettings(prometheus_url="http://prom:9090/").prometheus_url == "http://prom:9090"
