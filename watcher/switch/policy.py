"""How a write is made: how often it is tried, which clock it is timed by, and the gate it passes.

`WritePolicy` is the one value every write takes (instead of `attempts`, `clock` and `confirm`
threaded through each signature); `Gate` is what the switch asks of leadership, so that it needs
nothing of the daemon that runs it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import anyio

from watcher.aio import Sleeper

Confirm = Callable[[], Awaitable[bool]]


class Gate(Protocol):
    """The leadership gate every write passes (`watcher.daemon.leadership.Leadership` is one)."""

    async def may_write(self, strategy: str) -> bool:
        """True only while this instance is certainly the leader (its lease cannot have lapsed)."""
        ...

    async def confirm(self, strategy: str) -> bool:
        """A linearizable check, made right before a write is sent, that this instance still leads."""
        ...

    @property
    def fences(self) -> bool:
        """Whether other instances may have written: then a new leader fences what it owns."""
        ...


@dataclass(frozen=True)
class WritePolicy:
    """How every write of one switch or repair is made.

    >>> policy = WritePolicy(attempts=3)
    >>> policy.attempts, policy.confirm is None
    (3, True)
    """

    attempts: int = 5  # version conflicts (or failures in transit) before giving up
    clock: Callable[[], float] = time.monotonic  # times each write (latency in the outcome)
    confirm: Confirm | None = None  # asked after the read, right before each PUT: still leading?
    sleep: Sleeper = anyio.sleep  # the wait after a failure in transit

    def confirming(self, gate: Gate, strategy: str) -> WritePolicy:
        """This policy, with every PUT confirmed first by `gate` for `strategy`."""
        return replace(self, confirm=functools.partial(gate.confirm, strategy))
