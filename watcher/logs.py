"""Structured logging: JSON lines when stdout is not a terminal, readable console output when it is.

Every event passes a redaction processor before rendering, so a secret that reaches a log call by
mistake (a key named like a secret, or a bearer token in a string) never reaches the output.

Levels mean something: `info` for routine events (a region healthy, a switch that succeeded,
leadership gained), `warning` for what an operator should look at, `error` for what failed. A
condition that repeats every poll goes through `Repeated`: logged when it starts, when it ends, and
at most once a minute in between, with a count.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEYS = re.compile(r"secret|token|password|authorization|credential|api_key", re.I)
_BEARER = re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# Keys that name a secret but hold none: counts and flags.
_HARMLESS_KEYS = {"token_refreshes", "has_token", "token_url", "token_expires_in"}
REDACTED = "[redacted]"


def mask_credentials(text: str) -> str:
    """`text` with every `Bearer …`/`Basic …` credential masked (for server messages that echo them)."""
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_credentials(value)
    if isinstance(value, dict):
        return {k: _redact_pair(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, BaseException):
        # The renderer would repr() it after this processor ran, unmasked.
        return mask_credentials(f"{type(value).__name__}: {value}")
    return value


def _redact_pair(key: str, value: Any) -> Any:
    if key not in _HARMLESS_KEYS and _SECRET_KEYS.search(key) and value not in (None, ""):
        return REDACTED
    return _scrub(value)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask values of secret-named keys and bearer/basic credentials."""
    for key in list(event_dict):
        event_dict[key] = _redact_pair(key, event_dict[key])
    return event_dict


def configure_logging(*, level: str = "INFO", json: bool | None = None, stream: TextIO | None = None) -> None:
    """Set up structlog (and the stdlib root logger, for libraries) once, at start-up."""
    stream = stream or sys.stdout
    if json is None:
        json = not stream.isatty()
    # Tracebacks are rendered to text *before* redaction, so a bearer token in an exception message is
    # masked too; and never with local variables (rich's default), which hold tokens in the client.
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any
    if json:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # httpx logs every request at INFO; uvicorn's access log likewise. Keep warnings only.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "uvicorn.error", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


class Repeated:
    """A condition that may hold at every poll, logged when it starts, at most once per `every`
    seconds while it lasts (with how many times it was seen), and when it ends.

    A log that repeats a line every poll buries the line that matters; one that says it only once
    hides that it is still so. Keyed (a region, a strategy), so each key has its own story.

    >>> # no_evidence = Repeated(log, "health poll gave no evidence; not counted")
    >>> # no_evidence.seen("us-east-1", error="timeout")   # logged (start)
    >>> # no_evidence.seen("us-east-1", error="timeout")   # counted; logged again after a minute
    >>> # no_evidence.ended("us-east-1")                   # logged (end, at info)
    """

    def __init__(
        self,
        logger: Any,
        event: str,
        *,
        level: str = "warning",
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.event = event
        self._level = level
        self._every = every
        self._clock = clock
        # key -> [started, last logged, times seen since last logged, times seen in all]
        self._active: dict[str, list[float]] = {}

    def seen(self, key: str = "", **fields: Any) -> None:
        """The condition holds (again) for `key`."""
        now = self._clock()
        state = self._active.get(key)
        if state is None:
            self._active[key] = [now, now, 0, 1]
            getattr(self._log, self._level)(self.event, **fields)
            return
        state[2] += 1
        state[3] += 1
        if now - state[1] >= self._every:
            getattr(self._log, self._level)(
                self.event + " (still)",
                repeated=int(state[2]),
                for_seconds=round(now - state[0], 1),
                **fields,
            )
            state[1], state[2] = now, 0

    def ended(self, key: str = "", **fields: Any) -> None:
        """The condition no longer holds for `key` (nothing is logged if it did not)."""
        state = self._active.pop(key, None)
        if state is not None:
            self._log.info(
                self.event + " (over)",
                times=int(state[3]),
                for_seconds=round(self._clock() - state[0], 1),
                **fields,
            )

    def active(self, key: str = "") -> bool:
        return key in self._active
