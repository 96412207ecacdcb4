"""The local audit trail: one JSON line per write the watcher made (or decided not to make).

`<state_dir>/audit.jsonl`, rotated by size like logrotate (`audit.jsonl.1` is the newest backup).
It answers, without the platform: what was switched, when, how fast, with what result and why.

Durability: each record is one `os.write` of one complete line on an `O_APPEND` descriptor, then
`os.fsync`. A process killed mid-write can leave at most one torn line at the end of the file; the
writer terminates such a line before appending (so the next record is intact) and the reader skips
anything that is not a complete JSON object followed by a newline, and says how many it skipped.

Secrets never land here: values under keys that look like secrets are redacted, recursively.
Writes block for an fsync; the daemon calls `write` via `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import structlog

from watcher.events.cloudevent import format_time

_log = structlog.stdlib.get_logger(__name__)

TRAIL_NAME = "audit.jsonl"
REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"secret|token|password|passwd|authori[sz]ation|api[-_]?key|credential|cookie", re.IGNORECASE
)

Kind = Literal[
    "strategy",
    "rule",
    "trigger",
    "emergency_group",
    "site",
    "ivr",
    "data_action",
    "decision",
    "operator",
    "drill",
]
Result = Literal["success", "failure", "dry_run", "refused"]


def redact(value: Any) -> Any:
    """A copy of `value` where every entry under a secret-looking key is replaced by a marker."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


@dataclass(frozen=True)
class AuditRecord:
    """One line of the trail. `rule` is None for strategy writes and decisions."""

    strategy: str
    kind: Kind
    result: Result
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    rule: str | None = None
    follower: str | None = None  # a trigger's or an emergency group's id (kind says which)
    version_before: int | None = None
    version_after: int | None = None
    latency_seconds: float | None = None
    error: str | None = None
    explanation: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as written (secrets redacted)."""
        follower = {} if self.follower is None else {"follower": self.follower}
        return {
            "time": format_time(self.time),
            "strategy": self.strategy,
            "rule": self.rule,
            **follower,
            "kind": self.kind,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "latency_seconds": self.latency_seconds,
            "result": self.result,
            "error": self.error,
            "explanation": redact(self.explanation),
        }


class AuditTrail:
    """Appends records to `<directory>/audit.jsonl`, rotating at `max_bytes` with `backups` kept.

    >>> import tempfile
    >>> trail = AuditTrail(Path(tempfile.mkdtemp()))
    >>> trail.write(AuditRecord(strategy="s1", kind="strategy", result="success"))
    >>> [r["strategy"] for r in read_trail(trail.directory)]
    ['s1']
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 10_000_000,
        backups: int = 5,
        on_write: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        """`on_write` hears the outcome of every `append` (None: on disk), so a full disk is
        surfaced at once (`/readyz`, a metric) and its end too."""
        if max_bytes <= 0 or backups < 0:
            raise ValueError("max_bytes must be > 0 and backups >= 0")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / TRAIL_NAME
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._on_write = on_write

    def __repr__(self) -> str:
        return f"AuditTrail({str(self.path)!r})"

    def _open(self) -> int:
        if self._fd is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            size = os.fstat(fd).st_size
            if size and _last_byte(self.path) != b"\n":
                # A torn line from a killed writer: end it, so our next record starts clean.
                os.write(fd, b"\n")
            _fsync_dir(self.directory)
            self._fd = fd
        return self._fd

    def write(self, record: AuditRecord) -> None:
        """Append one record durably (write, fsync), rotating first if it would not fit."""
        line = (json.dumps(record.to_json(), separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            fd = self._open()
            size = os.fstat(fd).st_size
            if size and size + len(line) > self.max_bytes:
                self._rotate()
                fd = self._open()
            # A single write() of the whole line: O_APPEND makes it land at the end in one piece
            # on a local filesystem; a short write (disk full) is finished, never left silent.
            written = os.write(fd, line)
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            self.directory.joinpath(f"{TRAIL_NAME}.{self.backups}").unlink(missing_ok=True)
            for n in range(self.backups - 1, 0, -1):
                older = self.directory / f"{TRAIL_NAME}.{n}"
                if older.exists():
                    older.rename(self.directory / f"{TRAIL_NAME}.{n + 1}")
            self.path.rename(self.directory / f"{TRAIL_NAME}.1")
        _fsync_dir(self.directory)

    async def append(self, record: AuditRecord) -> bool:
        """`write` off the event loop (it fsyncs: a slow disk must never stall polling); a failed
        write is logged, not raised: the trail is a record, not a gate, and a full disk must not
        stop a failover. True when the record is on disk."""
        try:
            await anyio.to_thread.run_sync(self.write, record)
        except OSError as exc:
            _log.error("audit trail write failed", error=str(exc), strategy=record.strategy, kind=record.kind)
            if self._on_write is not None:
                self._on_write(exc)
            return False
        if self._on_write is not None:
            self._on_write(None)
        return True

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _fsync_dir(directory: Path) -> None:
    # A rename or a new file is durable only once its directory entry is.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TrailReading:
    """Iterates the records of a trail, oldest file first; `skipped` counts torn or invalid lines.

    `skipped` is final once iteration has finished.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.skipped = 0

    def files(self) -> list[Path]:
        """The trail's files, oldest first: the highest-numbered backup ... audit.jsonl."""
        backups = []
        for p in self.directory.glob(f"{TRAIL_NAME}.*"):
            suffix = p.name.rsplit(".", 1)[1]
            if suffix.isdigit():
                backups.append((int(suffix), p))
        ordered = [p for _, p in sorted(backups, reverse=True)]
        current = self.directory / TRAIL_NAME
        return [*ordered, current] if current.exists() else ordered

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.skipped = 0
        for path in self.files():
            try:
                f = path.open("rb")
            except FileNotFoundError:
                continue  # rotated away (or pruned) by a live writer since the listing
            with f:
                for raw in f:
                    record = _parse_line(raw)
                    if record is None:
                        self.skipped += 1
                        continue
                    yield record
        if self.skipped:
            _log.warning("audit trail: skipped torn or invalid lines", skipped=self.skipped)


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    if not raw.endswith(b"\n"):
        return None  # torn: the writer died before the newline, whatever the bytes look like
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def read_trail(directory: Path) -> TrailReading:
    """The records under `directory` in time order, torn lines skipped (see `TrailReading`)."""
    return TrailReading(directory)


@dataclass(frozen=True)
class StrategySummary:
    """Switch statistics of one strategy over a trail (dry runs and decisions excluded)."""

    switches: int
    successes: int
    failures: int
    success_rate: float | None
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None


# The kinds of write counted in a summary: strategies and every kind of follower.
FOLLOWED_KINDS = ("strategy", "rule", "trigger", "emergency_group", "site", "ivr", "data_action")


def _percentile(sorted_values: list[float], q: float) -> float | None:
    # Nearest rank: always a latency that was actually observed.
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, StrategySummary]:
    """Per strategy: writes attempted (strategy and rule), their outcomes and latency percentiles."""
    outcomes: dict[str, list[str]] = {}
    latencies: dict[str, list[float]] = {}
    for r in records:
        if r.get("kind") not in FOLLOWED_KINDS or r.get("result") not in (
            "success",
            "failure",
        ):
            continue
        strategy = str(r.get("strategy"))
        outcomes.setdefault(strategy, []).append(str(r["result"]))
        latency = r.get("latency_seconds")
        if isinstance(latency, int | float) and not isinstance(latency, bool):
            latencies.setdefault(strategy, []).append(float(latency))
    summary = {}
    for strategy, results in sorted(outcomes.items()):
        successes = results.count("success")
        values = sorted(latencies.get(strategy, []))
        summary[strategy] = StrategySummary(
            switches=len(results),
            successes=successes,
            failures=len(results) - successes,
            success_rate=successes / len(results),
            latency_p50=_percentile(values, 0.50),
            latency_p95=_percentile(values, 0.95),
            latency_p99=_percentile(values, 0.99),
        )
    return summary
