"""Fixtures of the DNS-sync tests: a real BIND 9 primary, a receiver config pointing at it, and
signed events built the way the watcher builds them (`build_event`, `encode_event`, `Signer`)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.dnssync.bind import BindServer, named_binary
from watcher.dnssync import RunningDnsSync, load_dns_sync_config, running_dns_sync
from watcher.events import RESYNC, SWITCHED, Signer, build_event, encode_event, generate_secret

STRATEGY = "voice-routing"
OTHER = "chat-routing"
US, EU = "us-east-1", "eu-west-1"

CONFIG = """
[receiver]
listen = "127.0.0.1:0"
secret_file = "{dir}/sink_secret"

[dns]
server = "{server}"
zone = "example.com."
tsig_secret_file = "{dir}/tsig.key"
ttl = 42
timeout = {timeout}

[[strategies]]
id = "voice-routing"
regions = ["us-east-1", "eu-west-1"]

[[records]]
name = "voice.example.com."
type = "A"
strategy = "voice-routing"
values = {{ "us-east-1" = ["192.0.2.10"], "eu-west-1" = ["198.51.100.10", "198.51.100.11"] }}

[[records]]
name = "voice.example.com."
type = "AAAA"
strategy = "voice-routing"
values = {{ "us-east-1" = ["2001:db8:1::10"], "eu-west-1" = ["2001:db8:2::10"] }}

[[records]]
name = "sip.example.com."
type = "CNAME"
strategy = "voice-routing"
values = {{ "us-east-1" = ["sip-use1.example.net."], "eu-west-1" = ["sip-euw1.example.net."] }}

[[records]]
name = "chat.example.com."
type = "A"
strategy = "chat-routing"
regions = ["us-east-1", "eu-west-1"]
values = {{ "us-east-1" = ["192.0.2.20"], "eu-west-1" = ["198.51.100.20"] }}

[state]
dir = "{dir}/state"
"""

# What the zone says for each region (the zone file starts on us-east-1).
VOICE_A = {US: ["192.0.2.10"], EU: ["198.51.100.10", "198.51.100.11"]}
VOICE_AAAA = {US: ["2001:db8:1::10"], EU: ["2001:db8:2::10"]}
SIP_CNAME = {US: ["sip-use1.example.net."], EU: ["sip-euw1.example.net."]}
CHAT_A = {US: ["192.0.2.20"], EU: ["198.51.100.20"]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`WATCHER_*` variables overlay every config: the developer's must not leak into the tests."""
    for name in list(os.environ):
        if name.upper().startswith("WATCHER_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[BindServer]:
    """A fresh `named` per test (its zone changes), stopped at teardown."""
    if named_binary() is None:
        pytest.skip("named (BIND 9) missing: run `sh deploy/install-system-deps.sh` (bind9 bind9-utils)")
    server = BindServer(tmp_path / "bind")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Setup:
    """The files of one receiver: its config, the sink secret the watcher signs with, the TSIG key."""

    dir: Path
    config: Path
    secret: SecretStr
    bind: BindServer

    @property
    def signer(self) -> Signer:
        return Signer("dns-sync", [self.secret])

    def write(self, *, server: str | None = None, timeout: float = 2.0, extra: str = "") -> Path:
        text = CONFIG.format(dir=self.dir, server=server or self.bind.address, timeout=timeout)
        self.config.write_text(text + extra)
        return self.config

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[RunningDnsSync]:
        async with running_dns_sync(load_dns_sync_config(self.config)) as rx:
            yield rx


@pytest.fixture
def setup(tmp_path: Path, bind: BindServer) -> Setup:
    directory = tmp_path / "dns-sync"
    directory.mkdir()
    secret = generate_secret()
    (directory / "sink_secret").write_text(secret.get_secret_value() + "\n")
    # The whole tsig-keygen output, as the operator has it.
    (directory / "tsig.key").write_text(bind.key_block)
    s = Setup(directory, directory / "dns-sync.toml", secret, bind)
    s.write()
    return s


def routing_event(
    strategy: str, region: str | None, sequence: Any, *, event_type: str = SWITCHED, **data: Any
) -> dict[str, Any]:
    """An event about one strategy, as the watcher sends it (SPEC §5, §7)."""
    body = {"strategy": strategy, "activeRegion": region, "sequence": sequence, **data}
    return build_event(event_type, source="urn:failover-watcher:test", subject=strategy, data=body)


def resync_event(*strategies: tuple[str, str | None, int]) -> dict[str, Any]:
    """A resync: every strategy's active region and sequence, with fields the receiver ignores."""
    items = [
        {"id": s, "activeRegion": r, "sequence": n, "state": "ACTIVE", "lastDecision": {"kind": "none"}}
        for s, r, n in strategies
    ]
    return build_event(RESYNC, source="urn:failover-watcher:test", subject=None, data={"strategies": items})


@dataclass(frozen=True)
class Delivery:
    """One signed POST, kept so the very same delivery can be sent again (an outbox retry)."""

    body: str
    headers: dict[str, str]

    async def send(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        headers = {**self.headers, "content-type": "application/cloudevents+json"}
        return await client.post(url, content=self.body, headers=headers)


def signed(event: dict[str, Any], signer: Signer) -> Delivery:
    body = encode_event(event)
    return Delivery(body, signer.headers(event["id"], time.time(), body))


async def deliver(
    client: httpx.AsyncClient, url: str, event: dict[str, Any], signer: Signer
) -> httpx.Response:
    return await signed(event, signer).send(client, url)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus exposition, None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None
