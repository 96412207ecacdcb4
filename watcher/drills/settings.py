"""`[drills]`: where the alarms are read, which alarms end or prevent a drill, and the weekly slots.

Not yet part of `watcher.config` (the lead wires it there); `check_against` gives the problems that
need the rest of the config (a schedule naming an unknown strategy or region), one line per problem
naming its key, as `watcher.config` reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watcher.drills.schedule import DrillSchedule


class DrillsSettings(BaseModel):
    """The `[drills]` table.

    >>> DrillsSettings(prometheus_url="http://127.0.0.1:9090", outcome_alarms=["CallsFailing"]).watched
    ('CallsFailing',)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prometheus_url: str | None = Field(default=None, description="alarms are Prometheus alerts, by name")
    outcome_alarms: list[str] = Field(default_factory=list, description="firing during a drill: FAILED")
    blocking_alarms: list[str] = Field(default_factory=list, description="firing: a drill does not start")
    alarm_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    schedules: list[DrillSchedule] = Field(default_factory=list)

    @field_validator("prometheus_url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as 'http://127.0.0.1:9090'")
        return value.rstrip("/")

    @field_validator("outcome_alarms", "blocking_alarms")
    @classmethod
    def _names_are_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip():
                raise ValueError("an alarm name is empty")
        if len(set(value)) != len(value):
            raise ValueError("an alarm is named twice")
        return value

    @model_validator(mode="after")
    def _alarms_need_prometheus(self) -> DrillsSettings:
        if self.watched and self.prometheus_url is None:
            raise ValueError("prometheus_url is required when outcome_alarms or blocking_alarms are set")
        return self

    @property
    def watched(self) -> tuple[str, ...]:
        """Every alarm a drill reads (outcome alarms first), without repeats."""
        return tuple(dict.fromkeys([*self.outcome_alarms, *self.blocking_alarms]))

    def check_against(self, strategies: Mapping[str, Sequence[str]], prefix: str = "drills") -> list[str]:
        """Problems with the rest of the config: `strategies` maps each strategy id to its regions in
        preference order. A schedule must name a strategy with a standby, and `to` one of its
        regions other than the preferred one."""
        problems: list[str] = []
        for i, schedule in enumerate(self.schedules):
            key = f"{prefix}.schedules[{i}]"
            regions = strategies.get(schedule.strategy)
            if regions is None:
                problems.append(f"{key}.strategy: unknown strategy {schedule.strategy!r}")
                continue
            if len(regions) < 2:
                problems.append(f"{key}.strategy: {schedule.strategy!r} has no standby region to drill")
            if schedule.to is not None and (schedule.to not in regions or schedule.to == regions[0]):
                standbys = ", ".join(regions[1:]) or "none"
                problems.append(
                    f"{key}.to: {schedule.to!r} is not a standby region of {schedule.strategy!r} ({standbys})"
                )
        return problems
