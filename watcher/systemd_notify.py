"""The sd_notify protocol, spoken without libsystemd.

Under `Type=notify` systemd hands the service a datagram socket in `NOTIFY_SOCKET` and waits for
`READY=1` before it counts the unit as started; with `WatchdogSec=` it also sets `WATCHDOG_USEC` and
restarts the service when no `WATCHDOG=1` arrives within that time. The protocol is one `KEY=VALUE`
line per field in a single datagram, so a socket call is all it takes: no C library, no dependency.

Outside systemd (a terminal, a container, the tests of other modules) every method is a no-op, and
a failed send is logged and swallowed: a notification is advice to the service manager, and the
watcher must never stop routing because the manager's socket went away.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SystemdNotifier:
    """Notifications to the service manager, or nothing when there is none.

    >>> notifier = SystemdNotifier.from_env({})   # not under systemd: every call is a no-op
    >>> notifier.ready()
    False
    >>> notifier.watchdog_interval() is None
    True

    In the daemon: `notifier.ready()` once the HTTP server listens and the first poll cycle ran,
    `notifier.watchdog()` every `watchdog_interval()` seconds from the main loop (so a stalled loop
    stops the pings and systemd restarts the service), `notifier.stopping()` when shutdown starts.
    """

    address: str | None
    """AF_UNIX address: a filesystem path, or an abstract name starting with a NUL byte."""
    watchdog_usec: int | None = None
    """The watchdog timeout systemd enforces for this process, if any."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, pid: int | None = None) -> SystemdNotifier:
        """Read `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` as systemd sets them.

        `WATCHDOG_PID` names the process the watchdog is meant for; when it is another one (this
        process is a child that inherited the environment) the watchdog is not ours to ping.
        """
        address = _socket_address(environ.get("NOTIFY_SOCKET", ""))
        watchdog_usec = _positive_int(environ.get("WATCHDOG_USEC"))
        watchdog_pid = _positive_int(environ.get("WATCHDOG_PID"))
        own_pid = os.getpid() if pid is None else pid
        if watchdog_pid is not None and watchdog_pid != own_pid:
            watchdog_usec = None
        return cls(address=address, watchdog_usec=watchdog_usec)

    @property
    def enabled(self) -> bool:
        """True when a notification socket was given."""
        return self.address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings: half the timeout, as sd_watchdog_enabled(3) advises."""
        if self.address is None or self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2 / 1_000_000

    def ready(self) -> bool:
        """Start-up is complete (`READY=1`)."""
        return self.notify("READY=1")

    def status(self, text: str) -> bool:
        """A one-line status shown by `systemctl status`."""
        return self.notify("STATUS=" + " ".join(text.split()))

    def watchdog(self) -> bool:
        """The main loop is alive (`WATCHDOG=1`)."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Shutdown has begun (`STOPPING=1`)."""
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """A reload (SIGHUP) has begun; `ready()` again when it is done.

        `MONOTONIC_USEC` lets systemd (253+, `Type=notify-reload`) tell this reload from an
        earlier one.
        """
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now_usec}")

    def notify(self, *fields: str) -> bool:
        """Send the fields as one datagram; True if it was sent, False if skipped or failed."""
        if self.address is None or not fields:
            return False
        payload = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Non-blocking: a full or stuck manager queue must not stall the event loop.
                sock.setblocking(False)
                sock.sendto(payload, self.address)
        except OSError as exc:
            _log.warning(
                "systemd notification not sent",
                fields=[f.split("=", 1)[0] for f in fields],
                error=f"{type(exc).__name__}: {exc.strerror or exc}",
            )
            return False
        return True


def _socket_address(value: str) -> str | None:
    """`/path` as is, `@name` as the abstract name `\\0name`; anything else is not for us."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value:
        # e.g. "vsock:..." (systemd 254+ for VMs): not a socket this process can reach.
        _log.warning("NOTIFY_SOCKET not understood, notifications disabled", notify_socket=value)
    return None


def _positive_int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value)
    return number if number > 0 else None
