"""The retry wait shared by every call: honour `Retry-After`, otherwise exponential backoff with jitter."""

from __future__ import annotations

from tenacity import RetryCallState

from watcher.aio import Backoff
from watcher.genesys.errors import RateLimited

MAX_RETRY_AFTER = 60.0
_BACKOFF = Backoff(0.25, 8.0)


def wait_for_retry(state: RetryCallState) -> float:
    """Seconds to wait before the next attempt."""
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER)
    return _BACKOFF.delay(state.attempt_number)
