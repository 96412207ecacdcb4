"""A durable outbox: every event is on disk, once per sink, before anything is sent.

SQLite (stdlib) at `<state_dir>/outbox.sqlite3`, WAL mode. A row leaves `deliveries` only when the
sink acknowledged it (deleted) or when it grew too old to matter (moved to `dead_letters`), so a
process killed at any instant resends, on restart, everything not acknowledged: at-least-once, with
the event id as the receiver's idempotency key.

`synchronous=FULL`: in WAL mode NORMAL already survives a killed process, but not a power cut or a
kernel panic, which can roll back the last commits. Events are rare (a handful per switch), so an
fsync per commit costs nothing that matters, and a switch the DNS provider never hears of costs a
lot.

Order: events of one ordering key (a strategy) reach a sink in enqueue order. `next_batch` hands out
only the oldest unacknowledged row of each key, so event N+1 of a key waits until N is acknowledged
or dead-lettered; different keys interleave freely.

The API is synchronous and every call is short (a few indexed statements). The dispatcher calls it
via `anyio.to_thread.run_sync`; a lock serialises the threads on the single connection.

>>> import tempfile, pathlib
>>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.sqlite3")
>>> box.enqueue({"id": "e1", "type": "t"}, ["mesh"], "strategy-1", now=100.0)
'e1'
>>> [d.event_id for d in box.next_batch("mesh", 10)]
['e1']
>>> box.ack("mesh", "e1"); box.pending_count("mesh")
0
>>> box.close()
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher.events.cloudevent import encode_event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (sink, event_id)
);
CREATE INDEX IF NOT EXISTS deliveries_by_key ON deliveries (sink, ordering_key, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    sink TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    dead_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_sink ON dead_letters (sink);
"""

_HEADS = """
SELECT d.sink, d.event_id, d.ordering_key, d.body, d.created_at, d.attempts, d.next_attempt_at
FROM deliveries AS d
JOIN (SELECT MIN(seq) AS seq FROM deliveries WHERE sink = ? GROUP BY ordering_key) AS h
  ON d.seq = h.seq
"""

_NEXT_DUE = "SELECT MIN(next_attempt_at) FROM (" + _HEADS + ")"  # noqa: S608 - constants only

_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class PendingDelivery:
    """One event awaiting acknowledgement by one sink; `body` is the exact text to send."""

    sink: str
    event_id: str
    ordering_key: str
    body: str
    created_at: float
    attempts: int
    next_attempt_at: float


@dataclass(frozen=True)
class DeadLetter:
    """An event given up on: older than the sink's maximum age and still unacknowledged."""

    sink: str
    event_id: str
    ordering_key: str
    created_at: float
    attempts: int
    last_error: str | None


class Outbox:
    """The outbox file; see the module docstring for the guarantees."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        # isolation_level=None: no implicit transactions; the multi-statement writes below open
        # their own with BEGIN IMMEDIATE so they are atomic.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def _write(self, statements: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = statements(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def enqueue(
        self,
        event: Mapping[str, Any],
        sinks: Sequence[str],
        ordering_key: str,
        *,
        now: float | None = None,
        supersede: bool = False,
    ) -> str:
        """Store `event` for every sink in one transaction; returns the event id.

        Enqueueing an id already pending for a sink is a no-op for that sink. With `supersede`,
        pending events of the same ordering key are dropped first: for full-state events (resync)
        only the newest matters, and a long outage should not pile them up.
        """
        event_id = str(event["id"])
        body = encode_event(event)
        created = self._clock() if now is None else now

        def insert(db: sqlite3.Connection) -> None:
            for sink in sinks:
                if supersede:
                    db.execute(
                        "DELETE FROM deliveries WHERE sink = ? AND ordering_key = ?",
                        (sink, ordering_key),
                    )
                db.execute(
                    "INSERT OR IGNORE INTO deliveries "
                    "(sink, event_id, ordering_key, body, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (sink, event_id, ordering_key, body, created, created),
                )

        self._write(insert)
        return event_id

    def next_batch(self, sink: str, limit: int, now: float | None = None) -> list[PendingDelivery]:
        """Up to `limit` deliveries for `sink`, oldest first, at most one per ordering key.

        With `now`, only deliveries whose next attempt is due by then.
        """
        sql = _HEADS + ("WHERE d.next_attempt_at <= ? " if now is not None else "")
        sql += "ORDER BY d.seq LIMIT ?"
        params: list[Any] = [sink] + ([now] if now is not None else []) + [limit]
        return [PendingDelivery(*row) for row in self._read(sql, params)]

    def next_due_at(self, sink: str) -> float | None:
        """When the earliest deliverable row of `sink` is due (None: nothing pending)."""
        rows = self._read(_NEXT_DUE, [sink])
        value = rows[0][0]
        return None if value is None else float(value)

    def oldest_created_at(self, sink: str) -> float | None:
        """Enqueue time of the oldest pending row of `sink`, to know when it will expire."""
        value = self._read("SELECT MIN(created_at) FROM deliveries WHERE sink = ?", [sink])[0][0]
        return None if value is None else float(value)

    def ack(self, sink: str, event_id: str) -> None:
        """The sink has the event: forget it (an unknown id is ignored: an ack may race expiry)."""
        self._write(
            lambda db: db.execute("DELETE FROM deliveries WHERE sink = ? AND event_id = ?", (sink, event_id))
        )

    def record_failure(self, sink: str, event_id: str, error: str, next_attempt_at: float) -> None:
        """Count a failed attempt and set when to try again."""
        self._write(
            lambda db: db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = ? WHERE sink = ? AND event_id = ?",
                (error[:_MAX_ERROR_CHARS], next_attempt_at, sink, event_id),
            )
        )

    def dead_letter_older_than(
        self, max_age_seconds: float, now: float, sink: str | None = None
    ) -> list[DeadLetter]:
        """Move rows enqueued `max_age_seconds` or more before `now` to `dead_letters`.

        Inclusive, so that a loop that wakes exactly at `created_at + max_age` (the dispatcher
        does) finds the row expired instead of spinning on a zero-second wait.
        """
        # `? IS NULL OR sink = ?`: one fixed statement for "all sinks" and "this sink".
        # `created_at + max_age <= now`: the very sum the dispatcher sleeps until, so float
        # rounding cannot leave a row "due for expiry" yet not expired.
        params = (max_age_seconds, now, sink, sink)

        def move(db: sqlite3.Connection) -> list[DeadLetter]:
            rows = db.execute(
                "SELECT sink, event_id, ordering_key, created_at, attempts, last_error "
                "FROM deliveries WHERE created_at + ? <= ? AND (? IS NULL OR sink = ?) ORDER BY seq",
                params,
            ).fetchall()
            if rows:
                db.execute(
                    "INSERT INTO dead_letters (seq, sink, event_id, ordering_key, body, "
                    "created_at, attempts, last_error, dead_at) "
                    "SELECT seq, sink, event_id, ordering_key, body, created_at, attempts, "
                    "last_error, ? FROM deliveries "
                    "WHERE created_at + ? <= ? AND (? IS NULL OR sink = ?)",
                    (now, *params),
                )
                db.execute(
                    "DELETE FROM deliveries WHERE created_at + ? <= ? AND (? IS NULL OR sink = ?)",
                    params,
                )
            return [DeadLetter(*row) for row in rows]

        result: list[DeadLetter] = self._write(move)
        return result

    def pending_count(self, sink: str) -> int:
        """Rows of `sink` not yet acknowledged."""
        return int(self._read("SELECT COUNT(*) FROM deliveries WHERE sink = ?", [sink])[0][0])

    def dead_letter_count(self, sink: str) -> int:
        """Rows of `sink` given up on."""
        return int(self._read("SELECT COUNT(*) FROM dead_letters WHERE sink = ?", [sink])[0][0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()
