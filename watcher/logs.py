"""Structured logging: JSON lines when stdout is not a terminal, readable console output when it is.

Every event passes a redaction processor before rendering, so a secret that reaches a log call by
mistake (a key named like a secret, or a bearer token in a string) never reaches the output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
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
