"""`failover-watcher healthcheck` against a real HTTP server on a free loopback port."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from watcher.liveness import add_healthcheck_parser


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/healthz": 200, "/sick": 503, "/empty": 204}.get(self.path, 404)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="failover-watcher")
    add_healthcheck_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["healthcheck", *argv])
    result = args.func(args)
    assert isinstance(result, int)
    return result


def test_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_healthcheck_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["healthcheck"])
    assert args.url == "http://127.0.0.1:9464/healthz"
    assert args.timeout == 2.0


def test_200_is_healthy(server: str) -> None:
    assert _run("--url", f"{server}/healthz") == 0


@pytest.mark.parametrize("path", ["/sick", "/missing", "/empty"])
def test_anything_but_200_is_unhealthy(server: str, path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--url", f"{server}{path}", "--timeout", "2") == 1
    assert "unhealthy" in capsys.readouterr().err


def test_nothing_listening_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    assert _run("--url", f"http://127.0.0.1:{port}/healthz", "--timeout", "1") == 1
    assert "unreachable" in capsys.readouterr().err


def test_a_silent_server_times_out() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never answers
        port = listener.getsockname()[1]
        assert _run("--url", f"http://127.0.0.1:{port}/healthz", "--timeout", "0.2") == 1


def test_non_http_url_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--url", "file:///etc/passwd") == 1
    assert "not an http(s) URL" in capsys.readouterr().err


def test_proxy_environment_is_ignored(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert _run("--url", f"{server}/healthz") == 0
