"""`[readiness]` and `[drills]` (SPEC §8): defaults, and a bad table refused with one line per
problem naming its key (a schedule cross-checked against the strategies)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.config import ConfigError, load_config

BASE = """
[genesys]
client_id = "c"
client_secret = "s"

[[strategies]]
id = "cc"
kind = "virtual"
regions = ["us-east-1", "us-west-2"]

[[emergency_groups]]
id = "g1"
strategy = "cc"
"""
ALARMS_NO_PROMETHEUS = '\n[readiness]\ninterval_seconds = 0\n\n[drills]\noutcome_alarms = ["CallsFailing"]\n'


def problems(write_config: Callable[[str], Path], text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    return caught.value.problems


def test_defaults_check_readiness_every_five_minutes_and_drill_without_alarms(
    write_config: Callable[[str], Path],
) -> None:
    cfg = load_config(write_config(BASE))
    assert cfg.readiness.interval_seconds == 300
    assert cfg.drills.watched == ()
    assert cfg.drills.schedules == []


def test_a_drills_table_loads(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(
        write_config(
            BASE
            + """
[readiness]
interval_seconds = 60

[drills]
prometheus_url = "http://127.0.0.1:9090"
outcome_alarms = ["CallsFailing"]
blocking_alarms = ["IncidentOpen"]

[[drills.schedules]]
strategy = "cc"
to = "us-west-2"
duration_seconds = 900
slot = "Tue 10:00-11:00"
timezone = "Europe/Dublin"
blocked_dates = ["2026-12-24"]
"""
        )
    )
    assert cfg.readiness.interval_seconds == 60
    assert cfg.drills.watched == ("CallsFailing", "IncidentOpen")
    assert cfg.drills.schedules[0].slot == "Tue 10:00-11:00"


def test_a_schedule_of_an_unknown_strategy_or_region_is_refused_naming_the_key(
    write_config: Callable[[str], Path],
) -> None:
    found = problems(
        write_config,
        BASE
        + """
[[drills.schedules]]
strategy = "nope"
duration_seconds = 60
slot = "Tue 10:00-11:00"

[[drills.schedules]]
strategy = "cc"
to = "us-east-1"
duration_seconds = 60
slot = "Tue 10:00-11:00"
""",
    )
    assert any(p.startswith("drills.schedules[0].strategy: unknown strategy 'nope'") for p in found), found
    assert any(p.startswith("drills.schedules[1].to: 'us-east-1' is not a standby region") for p in found), (
        found
    )


def test_alarms_without_prometheus_and_a_zero_interval_are_refused(
    write_config: Callable[[str], Path],
) -> None:
    found = problems(
        write_config,
        BASE + '\n[readiness]\ninterval_seconds = 0\n\n[drills]\noutcome_alarms = ["CallsFailing"]\n',
    )
    text = "\n".join(found)
    assert "readiness.interval_seconds" in text
    assert "prometheus_url is required" in text
