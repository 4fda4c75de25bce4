"""A real MQTT broker for the tests: Debian's mosquitto on loopback, and a listener that keeps
what Home Assistant would see."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.conftest import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


class Broker:
    """mosquitto on 127.0.0.1:port, without persistence; with `users`, only they may log in."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None, port: int | None = None,
                 tls: bool = False):
        self.folder, self.port = folder, port or free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "user root"]
        if tls:
            self.ca = make_certificates(folder)
            lines += [f"cafile {self.ca}", f"certfile {folder / 'server.crt'}", f"keyfile {folder / 'server.key'}"]
        if users:
            pw = folder / "passwords"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run([PASSWD, "-b", str(pw), user, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=(self.folder / "mosquitto.log").open("a"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start: {(self.folder / 'mosquitto.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def make_certificates(folder: Path) -> Path:
    """A certificate authority of the test's own and a certificate it signed for 127.0.0.1; the CA's path."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kickwatch test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.crt")
    return folder / "ca.crt"


class Listener:
    """Subscribes to everything, as Home Assistant does to its discovery prefix, and keeps each
    topic's last payload and whether it came retained."""

    def __init__(self, port: int, topics=("#",), user: str | None = None, password: str | None = None):
        self.messages: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: [c.subscribe(t, qos=1) for t in topics]
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))

    def last(self) -> dict[str, str]:
        with self.lock:
            return {t: p for t, p, _ in self.messages}

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.last()):
                return True
            time.sleep(0.05)
        return predicate(self.last())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
