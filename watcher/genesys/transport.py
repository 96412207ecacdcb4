"""The client's transport and lifecycle state: the one place that picks how bytes travel."""

from __future__ import annotations

import enum
from typing import Literal

import httpx

TransportKind = Literal["aiohttp", "httpx"]


class ClientState(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


def make_transport(kind: TransportKind, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The transport the benchmark chose (aiohttp: ~3x less CPU per request), or httpx's own."""
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)
