"""What a region's own health report means: the verdict of SPEC §2, as a pure function.

The daemon's health source and the one-shot `regions` command both judge reports by it, so the
two can never disagree about what "healthy" is.
"""

from __future__ import annotations

HEALTHY = "HEALTHY"


def health_verdict(status: str, sync_interval_seconds: float | None, max_sync: float) -> tuple[bool, str]:
    """Healthy only for HEALTHY with a sync interval within the max TTL; the reason otherwise.

    >>> health_verdict("DEGRADED", 30, 300)
    (False, 'status=DEGRADED')
    >>> health_verdict("HEALTHY", 400, 300)
    (False, 'syncIntervalSeconds=400 > 300')
    """
    if status != HEALTHY:
        return False, f"status={status}"
    if sync_interval_seconds is not None and sync_interval_seconds > max_sync:
        return False, f"syncIntervalSeconds={sync_interval_seconds:g} > {max_sync:g}"
    return True, "status=HEALTHY"
