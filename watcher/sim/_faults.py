"""Injected faults: which requests get delayed, answered with an error, or dropped.

A fault matches a request when its ``path`` regex is *searched* (``re.search``) in the request
path and it has hits left (``count``). A matching fault

* delays the request by ``delayMs`` (every matching request, whatever ``errorRate`` says), then
* with probability ``errorRate`` (default 1) answers ``status`` or, with ``reset``, drops the
  connection instead of answering.

"Hit" means a request the fault delayed or failed; ``count`` caps the hits. Several faults may
match one request: their delays add up and the first that fails it decides the answer. The
random draw uses the simulator's own seeded ``random.Random``, so a test run is repeatable.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class FaultSpec(BaseModel):
    """The body of ``PUT /_sim/faults``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    method: str | None = Field(default=None, description="only requests with this method (GET, PUT, ...)")
    errorRate: float = Field(default=1.0, ge=0.0, le=1.0)
    status: int | None = Field(default=None, ge=400, le=599)
    delayMs: int = Field(default=0, ge=0, le=600_000)
    reset: bool = False
    message: str | None = None
    retryAfter: int | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, ge=1)

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.status is None and not self.reset and self.delayMs == 0:
            raise ValueError("a fault needs a status, reset or delayMs")
        return self


@dataclass
class Fault:
    """One installed fault and what is left of its ``count``."""

    id: int
    spec: FaultSpec
    pattern: re.Pattern[str]
    remaining: int | None
    hits: int = 0

    @classmethod
    def install(cls, fault_id: int, spec: FaultSpec) -> Fault:
        return cls(fault_id, spec, re.compile(spec.path), spec.count)

    def matches(self, path: str, method: str | None = None) -> bool:
        if self.spec.method is not None and method is not None and self.spec.method.upper() != method.upper():
            return False
        return (self.remaining is None or self.remaining > 0) and (self.pattern.search(path) is not None)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(exclude_none=True),
            "hits": self.hits,
            "remaining": self.remaining,
        }


@dataclass
class FaultOutcome:
    """What the faults decided for one request: a delay, then maybe an error or a reset."""

    delay_seconds: float = 0.0
    status: int | None = None
    reset: bool = False
    message: str | None = None
    retry_after: int | None = None
    fault_ids: list[int] = field(default_factory=list)


def _fails(spec: FaultSpec, rng: random.Random) -> bool:
    if spec.status is None and not spec.reset:
        return False
    if spec.errorRate >= 1.0:
        return True
    return spec.errorRate > 0.0 and rng.random() < spec.errorRate


def plan_faults(
    faults: Iterable[Fault], path: str, rng: random.Random, method: str | None = None
) -> FaultOutcome | None:
    """Decide the fate of a request on ``path``; ``None`` when no fault touches it.

    Counts hits on the faults it uses (the only state it changes).
    """
    outcome: FaultOutcome | None = None
    failed = False
    for fault in faults:
        if not fault.matches(path, method):
            continue
        spec = fault.spec
        hit = spec.delayMs > 0
        outcome = outcome or FaultOutcome()
        outcome.delay_seconds += spec.delayMs / 1000
        if not failed and _fails(spec, rng):
            failed = hit = True
            outcome.reset = spec.reset
            outcome.status = spec.status
            outcome.message = spec.message
            outcome.retry_after = spec.retryAfter
        if hit:
            fault.hits += 1
            outcome.fault_ids.append(fault.id)
            if fault.remaining is not None:
                fault.remaining -= 1
    if outcome is None or not outcome.fault_ids:
        return None
    return outcome


def default_message(status: int, *, token_endpoint: bool) -> str:
    """The text a faulted answer carries when the fault names none.

    The token endpoint signals throttling with a 400 that says ``rate limit exceeded``
    (SPEC §2), so that is what an injected 400 there says.
    """
    if status == 429 or (status == 400 and token_endpoint):
        return "rate limit exceeded"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"error {status}"
