"""The last sequence applied per strategy, on disk: what keeps the receiver from going backwards.

One small JSON file under `[state] dir`, replaced atomically on every change (temp file in the same
directory, fsync, rename, fsync of the directory), so a crash leaves the old file or the new one,
never half of one. It is written only after the DNS server confirmed the update: a crash between
the two re-applies the same event on its next delivery, which is harmless (the update replaces
rrsets, so it is idempotent).

A file that cannot be read is refused at start, not reset: starting from nothing would accept an
old event as new and move DNS back.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "dns-sync-state.json"
_FORMAT = 1


class StateError(Exception):
    """The state directory or file is unusable; the message names the path and what to do."""


@dataclass(frozen=True)
class Applied:
    """What DNS was last made to say for one strategy."""

    sequence: int
    region: str
    applied_at: float


class AppliedSequences:
    """Last applied sequence per strategy, kept in memory and mirrored to `dir/dns-sync-state.json`.

    >>> store = AppliedSequences(Path(tempfile.mkdtemp()))
    >>> store.record({"s1": Applied(3, "eu-west-1", 1700000000.0)})
    >>> AppliedSequences(store.path.parent).last("s1").sequence
    3
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / STATE_FILE
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"state.dir: cannot create {directory} ({exc.strerror})") from None
        self._applied = self._load()

    def __repr__(self) -> str:
        return f"AppliedSequences(path={str(self.path)!r}, strategies={len(self._applied)})"

    def _load(self) -> dict[str, Applied]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"state.dir: cannot read {self.path} ({type(exc).__name__})") from None
        try:
            doc = json.loads(text)
            return {
                strategy: Applied(
                    int(entry["sequence"]), str(entry["activeRegion"]), float(entry["appliedAt"])
                )
                for strategy, entry in doc["strategies"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StateError(
                f"state.dir: {self.path} is not a dns-sync state file; it holds the last sequence "
                "applied per strategy, so it is not reset on its own: move it away to start afresh"
            ) from None

    def last(self, strategy: str) -> Applied | None:
        return self._applied.get(strategy)

    def snapshot(self) -> dict[str, Applied]:
        return dict(self._applied)

    def record(self, updates: Mapping[str, Applied]) -> None:
        """Persist `updates` (blocking I/O: call it in a worker thread), then adopt them."""
        merged = {**self._applied, **updates}
        doc: dict[str, Any] = {
            "format": _FORMAT,
            "strategies": {
                s: {"sequence": a.sequence, "activeRegion": a.region, "appliedAt": a.applied_at}
                for s, a in sorted(merged.items())
            },
        }
        _write_atomically(self.path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
        self._applied = merged


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # The rename is durable only once the directory entry is.
    dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
