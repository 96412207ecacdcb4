"""What one delivery attempt's answer means, and when to try again: pure, clock passed in.

Kept apart from the dispatcher so the policy is tested as data: (status, Retry-After, now) in,
an `Outcome` out; (attempt, rng) in, a delay out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from watcher.aio import Backoff

# 4xx answers that mean "not now" rather than "never": retried quietly like a 5xx.
_TRANSIENT_4XX = frozenset({408, 409, 425, 429})
# Answers that may carry Retry-After, which we then honour instead of our own backoff.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# A Retry-After beyond a day is a misconfiguration; the event would be dead-lettered anyway.
_MAX_RETRY_AFTER_SECONDS = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS architecture blog), capped.

    The delay before attempt n+1 is uniform in [0, min(cap, base * 2**n)]: full jitter spreads the
    retries of many watchers that saw the same outage, the cap bounds how stale a recovered sink is.

    >>> RetryPolicy(base_seconds=1.0, cap_seconds=4.0).delay(10, random.Random(0)) <= 4.0
    True
    """

    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the `attempts`-th failure (1 = the first)."""
        return Backoff(self.base_seconds, self.cap_seconds, "full").delay(min(attempts, 63), rng)


@dataclass(frozen=True)
class Outcome:
    """The verdict on one attempt.

    `action`: ack (the sink has it), retry, or disable (410 Gone: the sink asked us to stop).
    `result`: the `deliveries` metric label. `retry_at`: set when the sink said when (Retry-After).
    `loud`: log at error level (a 4xx that a healthy receiver should not send).
    """

    action: Literal["ack", "retry", "disable"]
    result: Literal["success", "retry", "failure", "disabled"]
    error: str | None = None
    retry_at: float | None = None
    loud: bool = False


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as an absolute time: delta-seconds or an HTTP-date; None if absent or junk."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return now + min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)


def classify_status(status: int, retry_after: str | None, now: float) -> Outcome:
    """The outcome of an HTTP answer."""
    if 200 <= status < 300:
        return Outcome("ack", "success")
    if status == 410:
        return Outcome("disable", "disabled", error="HTTP 410 Gone", loud=True)
    error = f"HTTP {status}"
    retry_at = parse_retry_after(retry_after, now) if status in _RETRY_AFTER_STATUSES else None
    if status >= 500 or status in _TRANSIENT_4XX:
        return Outcome("retry", "retry", error=error, retry_at=retry_at)
    return Outcome("retry", "failure", error=error, loud=True)


def classify_transport_error(error: BaseException) -> Outcome:
    """The outcome of an attempt that got no HTTP answer (refused, reset, timed out)."""
    detail = str(error)[:200]
    return Outcome(
        "retry",
        "retry",
        error=f"{type(error).__name__}: {detail}" if detail else type(error).__name__,
    )
