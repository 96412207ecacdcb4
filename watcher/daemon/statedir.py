"""`[state] dir`: checked at start, held by one daemon, and its write failures told at once.

Holds, pins, the audit trail and the event outbox live there; a directory that cannot be written
turns every "durable" promise into a lie, so the daemon refuses to start on one (`check_writable`),
and a failure at run time (disk full, read-only remount) is surfaced at once (`StateDisk`: `/readyz`,
a metric, an alert) without ever blocking a switch.

Two daemons on one directory would both lead (each a single instance) and interleave their files:
`claim` takes an exclusive `flock` on `<dir>/watcher.lock` for the life of the daemon and names the
holder (pid, host, since) to a second one.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> with claim(d):
...     try:
...         with claim(d):
...             pass
...     except StateDirError as exc:
...         print("in use" in str(exc))
True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.daemon")

LOCK_NAME = "watcher.lock"
_PROBE_NAME = ".write-check"


class StateDirError(Exception):
    """The state directory cannot be used: not writable, or held by another daemon."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_writable(directory: Path) -> None:
    """Create, write, fsync and remove a file in `directory` (created if missing), or raise
    `StateDirError` saying what failed."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirError(f"[state] dir {str(directory)!r} cannot be created: {_reason(exc)}") from None
    probe = directory / _PROBE_NAME
    step = "create"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            step = "write"
            os.write(fd, b"failover-watcher write check\n" * 64)
            step = "fsync"
            os.fsync(fd)
        finally:
            os.close(fd)
        step = "remove"
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise StateDirError(
            f"[state] dir {str(directory)!r} is not usable: cannot {step} a file there: {_reason(exc)}"
        ) from None


def describe_writable(directory: Path) -> str | None:
    """For `check-config`: None when `directory` is usable, else the problem. A directory that does
    not exist yet is checked through its nearest existing parent (nothing is created)."""
    if directory.exists():
        try:
            check_writable(directory)
        except StateDirError as exc:
            return str(exc)
        return None
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"[state] dir {str(directory)!r} cannot be created: {str(parent)!r} is not writable"
    return None


def _holder(path: Path) -> str:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {doc['pid']} on {doc['host']} since {doc['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (holder unknown)"


@contextlib.contextmanager
def claim(directory: Path) -> Iterator[None]:
    """Check `directory` is writable and hold it exclusively for the block (see module docstring)."""
    check_writable(directory)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateDirError(
                f"[state] dir {str(directory)!r} is in use by another failover-watcher: {_holder(path)} "
                f"(one daemon per state dir; give this one its own [state] dir)"
            ) from None
        since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        holder = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder, 0)
        except OSError as exc:  # the lock holds; only the holder's name is missing
            log.warning("could not write the state dir lock holder", error=str(exc))
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass
class StateDisk:
    """Write failures under `[state] dir`, by what was being written (`operator`, `audit`,
    `outbox`): counted at once, shown by `/readyz` until a later write of the same kind succeeds."""

    metrics: WatcherMetrics | None = None
    directory: Path | None = None
    clock: Callable[[], float] = time.time
    failing: dict[str, str] = field(default_factory=dict)
    checking: bool = False

    def recheck(self) -> None:
        """While a write failed: try a write of our own, and when it lands, the disk is back (the
        failed audit or operator write is not retried; their next write will be). Blocking: call
        off the event loop. The outbox clears its own failure once its events are stored."""
        if self.directory is None or not (set(self.failing) - {"outbox"}) or self.checking:
            return
        self.checking = True  # one check at a time: a hung disk must not pile up threads
        try:
            check_writable(self.directory)
        except StateDirError:
            return
        finally:
            self.checking = False
        for what in [w for w in self.failing if w != "outbox"]:
            self.succeeded(what)

    def failed(self, what: str, error: BaseException | str, *, count: bool = True) -> None:
        """A write of `what` failed (`count`: a new failure, not a retry of one already counted)."""
        text = _reason(error) if isinstance(error, OSError) else str(error)
        if count and self.metrics is not None:
            self.metrics.state_write_failures.labels(what=what).inc()
        if what not in self.failing:
            log.error("state dir write failed", what=what, error=text)
        self.failing[what] = text

    def audit_written(self, error: BaseException | None) -> None:
        """The audit trail's report of one append (see `AuditTrail`)."""
        if error is None:
            self.succeeded("audit")
        else:
            self.failed("audit", error)

    def succeeded(self, what: str) -> None:
        if self.failing.pop(what, None) is not None:
            log.info("state dir writable again", what=what)

    def problem(self) -> str | None:
        """The readiness problem, or None."""
        if not self.failing:
            return None
        return "state dir not writable: " + "; ".join(f"{w}: {e}" for w, e in sorted(self.failing.items()))


__all__ = ["LOCK_NAME", "StateDirError", "StateDisk", "check_writable", "claim", "describe_writable"]
