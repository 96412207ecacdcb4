"""The platform audit log: one entry per change, read back in pages.

Entries are kept oldest first with a sequence number; a page's cursor is the sequence number of
its last entry, so pages stay stable while new entries are appended.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

AuditStatus = Literal["SUCCESS", "FAILURE"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AuditLog:
    """Append-only entries; ``page`` answers ``GET /api/v2/platform/auditlogs``."""

    now: Callable[[], datetime] = utc_now
    _entries: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _next_seq: int = 1

    def record(
        self,
        *,
        entity_id: str,
        entity_type: str,
        action: str,
        user: str,
        status: AuditStatus,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        version: int | None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Append an entry. ``before``/``after`` must be bodies nobody mutates later."""
        entry: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "timestamp": iso_utc(self.now()),
            "entityId": entity_id,
            "entityType": entity_type,
            "action": action,
            "user": user,
            "status": status,
            "before": before,
            "after": after,
            "version": version,
        }
        if message is not None:
            entry["message"] = message
        self._entries.append((self._next_seq, entry))
        self._next_seq += 1
        return entry

    def entries(self, entity_id: str | None = None) -> list[dict[str, Any]]:
        return [e for _, e in self._entries if entity_id is None or e["entityId"] == entity_id]

    def page(
        self, *, entity_id: str | None, page_size: int, after_seq: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``page_size`` entries after ``after_seq``, and the cursor of the next page."""
        selected: list[dict[str, Any]] = []
        last_seq = after_seq
        for seq, entry in self._entries:
            if seq <= after_seq or (entity_id is not None and entry["entityId"] != entity_id):
                continue
            if len(selected) == page_size:
                return selected, last_seq
            selected.append(entry)
            last_seq = seq
        return selected, None
