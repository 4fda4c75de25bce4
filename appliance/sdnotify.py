"""systemd's notify protocol: one datagram to $NOTIFY_SOCKET ("READY=1", "WATCHDOG=1", ...).

systemd documents the protocol as stable (sd_notify(3)); a few lines do it, and a
test can listen on a real socket. Outside systemd (no $NOTIFY_SOCKET) it does nothing.
"""
from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self, env=None, clock=time.monotonic):
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET") or None
        if self.address and self.address.startswith("@"):
            self.address = "\0" + self.address[1:]          # abstract namespace
        usec = env.get("WATCHDOG_USEC")
        self.watchdog_s = int(usec) / 1e6 if usec and usec.isdigit() else None
        self._clock = clock
        self._last_ping = float("-inf")

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        if not self.address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)     # a busy or absent listener must never stall the sampling loop
            try:
                s.sendto("\n".join(fields).encode(), self.address)
            except OSError:
                return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """Ping, at most twice per watchdog period; call it only from the loop that proves progress."""
        if self.watchdog_s is None:
            return False
        now = self._clock()
        if now - self._last_ping < self.watchdog_s / 2:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")
