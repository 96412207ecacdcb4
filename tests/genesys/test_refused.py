"""A refused connection is reported as what it is, not as a timeout (httpx-aiohttp maps both alike)."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from watcher.config import GenesysSettings
from watcher.genesys import GenesysClient, RequestTimeout, TransportFailure

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connection_refused_is_a_transport_failure_not_a_timeout() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    settings = GenesysSettings(client_id="x", api_base_url=url, login_base_url=url, max_retries=0)
    async with GenesysClient(settings, SecretStr("s"), transport_kind="aiohttp") as client:
        with pytest.raises(TransportFailure) as caught:
            await client.region_health("us-east-1")
    assert not isinstance(caught.value, RequestTimeout)
    assert "connection failed: ConnectionRefusedError" in str(caught.value)
