"""The retry wait shared by every call: honour `Retry-After`, otherwise exponential backoff with jitter.

`MAX_RETRY_AFTER`, `RETRY_BACKOFF` and `retry_delay` are public so that a loop that retries outside
the client's pipeline (the optimistic write loop) waits exactly as the client does.
"""

from __future__ import annotations

from tenacity import RetryCallState

from watcher.aio import Backoff
from watcher.genesys.errors import RateLimited

MAX_RETRY_AFTER = 60.0
"""The longest `Retry-After` honoured, in seconds; a longer one is cut to this."""

RETRY_BACKOFF = Backoff(0.25, 8.0)
"""The backoff between attempts when the platform names no wait (0.25 s doubling up to 8 s, full jitter)."""


def retry_delay(retry_after: float | None, attempt: int) -> float:
    """Seconds to wait before attempt `attempt + 1`: the platform's `Retry-After` (capped), else backoff."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return RETRY_BACKOFF.delay(attempt)


def wait_for_retry(state: RetryCallState) -> float:
    """Seconds to wait before the next attempt (tenacity's `wait`)."""
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    after = exc.retry_after if isinstance(exc, RateLimited) else None
    return retry_delay(after, state.attempt_number)
