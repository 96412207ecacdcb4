"""The authenticated latency probe (SPEC §6.1): one GET to the API host with the watcher's token.

It goes through the client's pipeline (request budget, token, concurrency cap, metrics), without
retries: a failed probe *is* the observation. What it measures is the exchange itself (httpx's
`Response.elapsed`), never the wait for the budget or the token, so a throttled watcher does not
mistake its own queue for a slow region.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.genesys.client import GenesysClient
from watcher.genesys.errors import AuthenticationError, ClientClosed, GenesysError, RateLimited
from watcher.genesys.transport import ClientState

PROBE_ENDPOINT = "probe"  # the `endpoint` label of failover_watcher_api_requests_total


@dataclass(frozen=True)
class ProbeAnswer:
    """What the API host answered: its HTTP status, and how long the exchange took when known."""

    status: int
    latency_ms: float | None


async def probe_api(client: GenesysClient, url: str, *, timeout: float) -> ProbeAnswer:
    """GET `url` (on the API host) with the watcher's token; any HTTP answer is returned.

    Raises `RateLimited` (our budget or a 429), token and credential errors, and the transport
    errors (`RequestTimeout`, `TransportFailure`): those say nothing about the answer's status.

    >>> # answer = await probe_api(client, client.url("date"), timeout=2.0)
    """
    if client.state is not ClientState.OPEN:
        raise ClientClosed(f"client is {client.state.value}", endpoint=PROBE_ENDPOINT)
    try:
        # The pipeline's single attempt (budget, token, one 401 refresh); same package, one seam.
        response = await client._authorized("GET", PROBE_ENDPOINT, url, None, None, timeout)
    except (RateLimited, AuthenticationError):
        raise
    except GenesysError as exc:
        if exc.endpoint == "token" or exc.status is None:
            raise
        return ProbeAnswer(exc.status, None)
    return ProbeAnswer(response.status_code, response.elapsed.total_seconds() * 1000)
