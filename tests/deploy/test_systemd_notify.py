"""SystemdNotifier against a real AF_UNIX datagram socket, as systemd would hold it."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.systemd_notify import SystemdNotifier


@pytest.fixture
def manager_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket standing in for systemd's notify socket."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def _received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_watchdog_stopping_reach_the_manager(
    manager_socket: tuple[socket.socket, str],
) -> None:
    sock, path = manager_socket
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled

    assert notifier.ready()
    assert _received(sock) == ["READY=1"]
    assert notifier.status("polling 3 regions\nall healthy")
    assert _received(sock) == ["STATUS=polling 3 regions all healthy"]
    assert notifier.watchdog()
    assert _received(sock) == ["WATCHDOG=1"]
    assert notifier.stopping()
    assert _received(sock) == ["STOPPING=1"]


def test_reloading_carries_a_monotonic_timestamp(
    manager_socket: tuple[socket.socket, str],
) -> None:
    sock, path = manager_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert SystemdNotifier.from_env({"NOTIFY_SOCKET": path}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000

    reloading, monotonic = _received(sock)
    assert reloading == "RELOADING=1"
    key, value = monotonic.split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_abstract_socket_name() -> None:
    name = f"failover-watcher-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert notifier.address == "\0" + name
        assert notifier.ready()
        assert _received(sock) == ["READY=1"]


def test_not_under_systemd_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_env({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.status("x")
    assert not notifier.watchdog()
    assert not notifier.stopping()
    assert not notifier.reloading()
    assert notifier.watchdog_interval() is None


@pytest.mark.parametrize("value", ["", "@", "vsock:2:1234", "relative/path"])
def test_unusable_notify_socket_disables_notifications(value: str) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "30000000"})
    assert notifier.address is None
    assert notifier.watchdog_interval() is None
    assert not notifier.ready()


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert not notifier.ready()  # ENOENT, swallowed
    assert not notifier.watchdog()


def test_a_full_manager_queue_does_not_block(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": path})
        deadline = time.monotonic() + 10
        # Nobody reads: the queue fills and a blocking sendto would hang here forever.
        while notifier.watchdog():
            assert time.monotonic() < deadline, "the receive queue never filled"
        assert not notifier.watchdog()


def test_watchdog_interval_is_half_the_timeout(tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "30000000"}
    assert SystemdNotifier.from_env(env).watchdog_interval() == 15.0
    env["WATCHDOG_USEC"] = "500"
    assert SystemdNotifier.from_env(env).watchdog_interval() == 0.00025


@pytest.mark.parametrize("usec", ["0", "-5", "abc", ""])
def test_watchdog_interval_ignores_nonsense(tmp_path: Path, usec: str) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": usec}
    assert SystemdNotifier.from_env(env).watchdog_interval() is None


def test_watchdog_meant_for_another_process_is_not_ours(tmp_path: Path) -> None:
    env = {
        "NOTIFY_SOCKET": str(tmp_path / "n"),
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": str(os.getpid() + 1),
    }
    assert SystemdNotifier.from_env(env).watchdog_interval() is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert SystemdNotifier.from_env(env).watchdog_interval() == 15.0
    assert SystemdNotifier.from_env(env, pid=4242).watchdog_interval() is None
