"""What a follower must remember while its strategy is failed over, kept like a virtual strategy's
decision (`virtual.py`): durably under `[state] dir` (written atomically) and, with several
instances, in the leader backend's shared state, so a restart or a new leader restores it.

One thing is kept today: a telephony site's `mediaRegionsUseLatencyBased` as it was before the
watcher forced it off for a failover (SPEC §6.2.1), and an emergency-only IVR's open-hours flow
before the emergency flow replaced it. Entries are kept per strategy; every change moves a
sequence number on, and the newer of the local and the shared copy wins (as the newer version of
a virtual decision does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import anyio
import structlog

from watcher.atomic import write_json
from watcher.switch.errors import WriteError

log = structlog.get_logger("watcher.virtual")

FILE_NAME = "follower-memory.json"
SHARED_NAME = "follower-memory"


class SharedState(Protocol):
    """State shared by every instance, as the last leader left it (the leadership backend)."""

    async def load_shared(self, name: str) -> str | None: ...

    async def save_shared(self, name: str, value: str) -> None: ...


class Unshared:
    """No other instance: the state dir is the whole truth."""

    async def load_shared(self, name: str) -> str | None:
        return None

    async def save_shared(self, name: str, value: str) -> None:
        return None


def _parse(text: str | None) -> tuple[int, dict[str, dict[str, Any]]]:
    """(sequence, entries per strategy); anything unreadable is ignored (logged), never fatal."""
    if not text:
        return 0, {}
    try:
        doc = json.loads(text)
        seq, strategies = doc["seq"], doc["strategies"]
        if not isinstance(seq, int) or not isinstance(strategies, dict):
            raise TypeError("seq or strategies of the wrong type")
        return seq, {str(k): dict(v) for k, v in strategies.items() if isinstance(v, dict)}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("stored follower memory unreadable; ignored", error=repr(exc))
        return 0, {}


class FollowerMemory:
    """Values a follower restores when its strategy is back on its preferred region.

    >>> # memory = FollowerMemory(Path("var"), leadership)
    >>> # await memory.remember("contact-center", "site:site-1:mediaRegionsUseLatencyBased", True)
    """

    def __init__(self, directory: Path | None, shared: SharedState | None = None) -> None:
        self._path = None if directory is None else directory / FILE_NAME
        self._shared: SharedState = shared or Unshared()
        self._lock = anyio.Lock()
        text: str | None = None
        if self._path is not None:
            try:
                text = self._path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = None
        self._seq, self._entries = _parse(text)

    async def recall(self, strategy: str, key: str) -> Any:
        """The value kept for `key` (None when nothing is): the shared copy first if it is newer
        (a former leader's)."""
        await self._restore_shared()
        return self._entries.get(strategy, {}).get(key)

    async def remember(self, strategy: str, key: str, value: Any) -> None:
        """Keep `value`, durably, before the write it guards is sent; raises `WriteError` when it
        cannot be kept (the write must not be made: what it changed could not be restored)."""
        async with self._lock:
            self._entries.setdefault(strategy, {})[key] = value
            await self._save()

    async def forget(self, strategy: str, key: str) -> None:
        """Drop `key` once restored; a failure is logged (the value kept is still the one to restore)."""
        async with self._lock:
            if key not in self._entries.get(strategy, {}):
                return
            del self._entries[strategy][key]
            if not self._entries[strategy]:
                del self._entries[strategy]
            try:
                await self._save()
            except WriteError as exc:
                log.error(
                    "could not forget a restored follower value", strategy=strategy, key=key, error=str(exc)
                )

    async def _restore_shared(self) -> None:
        try:
            seq, entries = _parse(await self._shared.load_shared(SHARED_NAME))
        except Exception as exc:  # the backend is down: keep this instance's copy
            log.error("could not read the shared follower memory", error=repr(exc))
            return
        async with self._lock:
            if seq > self._seq:
                self._seq, self._entries = seq, entries
                await self._write_local(self._doc())
                log.info("follower memory adopted from the shared state", seq=seq)

    def _doc(self) -> dict[str, Any]:
        return {"seq": self._seq, "strategies": self._entries}

    async def _save(self) -> None:
        self._seq += 1
        doc = self._doc()
        await self._write_local(doc)
        try:
            await self._shared.save_shared(SHARED_NAME, json.dumps(doc))
        except Exception as exc:  # kept locally; the next change shares it again
            log.error("could not share the follower memory", error=repr(exc))

    async def _write_local(self, doc: dict[str, Any]) -> None:
        path = self._path
        if path is None:
            return

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, doc)

        try:
            await anyio.to_thread.run_sync(write)
        except OSError as exc:
            raise WriteError(f"cannot keep {self._path}: {exc}") from exc
