"""SPEC §4.1 "An empty admin token is refused at start"; and an empty bearer never opens the admin API."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.harness import CLI, clean_env, refused_at_start
from tests.safety._bench import bench
from tests.safety._config import STRATEGY, base_config, free_port, write_config
from tests.safety._daemon import in_process

pytestmark = pytest.mark.anyio


def _empty_token_config(tmp_path: Path, source: str) -> tuple[Path, int]:
    """A config whose only problem is an empty admin token (inline, or in an empty file)."""
    port = free_port()
    data = base_config("http://127.0.0.1:9", tmp_path / "state", port)
    if source == "inline":
        data["server"] = {"listen": f"127.0.0.1:{port}", "admin_token": ""}
    else:
        empty = tmp_path / "admin_token"
        empty.write_text("\n")
        data["server"] = {"listen": f"127.0.0.1:{port}", "admin_token_file": str(empty)}
    return write_config(tmp_path / f"{source}.toml", data), port


@pytest.mark.parametrize("source", ["inline", "file"])
async def test_check_config_refuses_an_empty_admin_token(tmp_path: Path, source: str) -> None:
    config, _ = _empty_token_config(tmp_path, source)
    with anyio.fail_after(30):
        result = await anyio.run_process(
            [*CLI, "check-config", "--config", str(config)], check=False, env=clean_env()
        )
    err = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    assert any("server.admin_token" in line for line in err.splitlines()), err


@pytest.mark.parametrize("source", ["inline", "file"])
async def test_run_refuses_to_start_with_an_empty_admin_token(tmp_path: Path, source: str) -> None:
    config, port = _empty_token_config(tmp_path, source)
    code, err = await refused_at_start(config, port)
    assert code == 2, (code, err)
    assert any("server.admin_token" in line for line in err.splitlines()), err


async def _raw_post(port: int, authorization: bytes | None) -> int:
    """POST /admin/hold with exactly these Authorization bytes (httpx refuses a trailing space)."""
    body = b'{"strategy": "strategy-1", "seconds": 60}'
    head = b"POST /admin/hold HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(head + body)
        answer = b""
        with anyio.fail_after(10):
            try:
                while b"\r\n" not in answer:
                    answer += await stream.receive()
            except anyio.EndOfStream:
                pass
    return int(answer.split(b" ", 2)[1])


async def test_an_empty_bearer_is_401_on_a_running_daemon(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b, in_process(b.config(with_sink=False)) as d:
        await d.view.ready()
        port = int(d.view.base_url.rsplit(":", 1)[1])
        for header in (b"Bearer ", b"Bearer", b"bearer   ", b"", None):
            assert await _raw_post(port, header) == 401, header
        assert (await d.view.strategy(STRATEGY))["hold"] is None
