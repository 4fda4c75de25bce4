"""The systemd notify protocol, heard on a real datagram socket."""
from __future__ import annotations

import socket

import pytest

from appliance.sdnotify import Notifier


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(1)
    yield path, s
    s.close()


def test_ready_status_and_stopping_arrive(listener):
    path, s = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.ready("reading sim")
    assert s.recv(256).decode() == "READY=1\nSTATUS=reading sim"
    n.stopping()
    assert s.recv(256) == b"STOPPING=1"


def test_watchdog_pings_at_most_twice_a_period(listener):
    path, s = listener
    now = [0.0]
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"}, clock=lambda: now[0])
    assert n.watchdog()
    assert s.recv(64) == b"WATCHDOG=1"
    now[0] = 5.0
    assert not n.watchdog()          # 5 s < 10 s: too soon
    now[0] = 10.5
    assert n.watchdog()


def test_abstract_socket_names_are_supported():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0kickwatch-test-notify")
    s.settimeout(1)
    Notifier({"NOTIFY_SOCKET": "@kickwatch-test-notify"}).ready()
    assert s.recv(64) == b"READY=1"
    s.close()


def test_outside_systemd_it_does_nothing():
    n = Notifier({})
    assert not n.enabled and not n.ready() and not n.watchdog()


def test_a_listener_that_does_not_read_never_stalls_the_daemon(listener):
    path, s = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    results = [n.status(f"x{i}") for i in range(2000)]   # far beyond the socket's queue
    assert results[0] and not all(results)
