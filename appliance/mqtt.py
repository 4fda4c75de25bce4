"""Publishing to an MQTT broker without ever making the sampling loop wait.

The daemon hands over (topic, payload) pairs; `publish` only takes a lock and
appends, so a broker that is slow, away or refusing costs the loop nothing. A
thread of our own sends them through paho-mqtt, whose own thread holds the
connection and reconnects with growing pauses (1 s doubling to 60 s).

- A value is sent when it changes (all are retained, so the last one stands).
  Values wait in a bounded queue. When the broker is away and the queue is full,
  the oldest are dropped and counted (the status page says how many).
- Discovery configs are never dropped: on every connect they are sent again, then
  "online" on the availability topic, then every topic's latest value; what was
  still queued is older than those and is let go (superseded, not lost).
- Everything is retained, so Home Assistant shows the bed's state as soon as it
  subscribes. The last will marks the bed "offline" if kickwatch dies.
- States go at QoS 0: a stale value must never arrive after a fresh one, and the
  next connect sends every latest value anyway. Discovery and availability go at
  QoS 1.
- At exit the queue gets a few seconds to go out, and no wait at all when the
  broker is not there: `kickwatch run` ends promptly either way.
"""
from __future__ import annotations

import ssl
import sys
import threading
import time
from collections import deque
from pathlib import Path

from appliance.config import MqttConfig
from appliance.homeassistant import OFFLINE, ONLINE, Bed

QUEUE_MAX = 1000             # values waiting for the broker (about 16 h of live values for two sleepers)
EXIT_WAIT_S = 3.0            # at exit, what is queued gets this long to go out
RECONNECT_S = (1, 60)        # paho's pause before reconnecting: from 1 s, doubling, at most 60 s


class MqttSetupError(ValueError):
    """The [mqtt] settings cannot be used as they are (a password file that cannot be read)."""


def logged_in_client(cfg: MqttConfig, client_id: str):
    """A paho client with kickwatch's login and TLS as [mqtt] sets them, not yet connected (the
    daemon's publisher and doctor's check log in the same way); MqttSetupError when a file it
    needs cannot be used."""
    import paho.mqtt.client as mqtt

    password = read_password(cfg)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    if cfg.tls:
        try:
            client.tls_set(ca_certs=cfg.ca_file or None)
        except (OSError, ValueError) as e:      # ssl.SSLError is an OSError
            raise MqttSetupError(f"mqtt.ca_file {cfg.ca_file} cannot be used ({e}): give the PEM file of "
                                 "the authority that signed the broker's certificate") from None
    return client


def read_password(cfg: MqttConfig) -> str | None:
    """The password from `password_file` (its first line), None without one."""
    if not cfg.password_file:
        return None
    try:
        lines = Path(cfg.password_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise MqttSetupError(f"mqtt.password_file {cfg.password_file} cannot be read ({reason}): make it readable "
                             "by the kickwatch service, or leave the setting empty") from None
    return lines[0] if lines else ""


class Publisher:
    """One bed's connection to the broker: discovery, availability and states."""

    def __init__(self, cfg: MqttConfig, bed: Bed, *, say=None, queue_max: int = QUEUE_MAX, wall=time.time):
        self.cfg, self.bed = cfg, bed
        self._say = say or (lambda text: print(f"kickwatch: {text}", file=sys.stderr, flush=True))
        self._wall = wall
        self._lock = threading.Condition()
        self._queue: deque = deque()
        self._queue_max = queue_max
        self._first: list = []           # sent before the queue after each connect; never dropped
        self._latest: dict[str, str] = {}
        self._connected = False
        self._closing = False
        self.sent = 0
        self.dropped = 0
        self.connects = 0
        self.error: str | None = None    # why it is not connected, in words
        self._said: str | None = None    # the last problem said, so each is said once, not at every retry
        self._client = None
        self._thread: threading.Thread | None = None
        self._last_info = None

    @property
    def broker(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    def start(self) -> None:
        """Connect in the background; raises MqttSetupError when the settings cannot be used."""
        client = logged_in_client(self.cfg, f"kickwatch-{self.bed.node}")
        client.will_set(self.bed.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(*RECONNECT_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        self.error = "connecting"
        client.connect_async(self.cfg.host, self.cfg.port, keepalive=60)
        client.loop_start()
        self._thread = threading.Thread(target=self._send, name="kickwatch-mqtt", daemon=True)
        self._thread.start()

    def publish(self, messages: list[tuple[str, str]]) -> None:
        """Queue the states that changed; returns at once, whatever the broker is doing."""
        with self._lock:
            for topic, payload in messages:
                if self._latest.get(topic) == payload:
                    continue             # retained already: the same value again tells Home Assistant nothing
                self._latest[topic] = payload
                if len(self._queue) >= self._queue_max:
                    self._queue.popleft()
                    self.dropped += 1
                self._queue.append((topic, payload, 0))
            self._lock.notify()

    def status(self) -> dict:
        """For the store's state table and the status page."""
        with self._lock:
            return {"broker": self.broker, "connected": self._connected, "error": None if self._connected else self.error,
                    "queued": len(self._queue), "dropped": self.dropped, "sent": self.sent,
                    "connects": self.connects, "at": self._wall()}

    def close(self, timeout: float = EXIT_WAIT_S) -> None:
        """Send what is queued (at most `timeout` s, none when not connected), say "offline", disconnect."""
        if self._client is None:
            return
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._connected:
                self._queue.append((self.bed.availability, OFFLINE, 1))
                self._lock.notify()
                while self._connected and self._queue and time.monotonic() < deadline:
                    self._lock.wait(0.05)
            self._closing = True
            self._lock.notify()
        info = self._last_info
        if info is not None and self._connected:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()
        if self._thread is not None:
            self._thread.join(1.0)

    # paho's thread

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._problem(*_refusal(reason_code))
            return
        with self._lock:
            self._connected = True
            self.connects += 1
            self.error = None
            self._first = ([(t, p, 1) for t, p in self.bed.discovery()] + [(self.bed.availability, ONLINE, 1)]
                           + [(t, p, 0) for t, p in self._latest.items()])
            self._queue.clear()          # every latest value is in _first: what was queued is older
            self._lock.notify()
        if self._said:
            self._say(f"MQTT broker {self.broker} connected; publishing to Home Assistant again")
            self._said = None

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            was = self._connected
            self._connected = False
            self._lock.notify()
        if was and not self._closing:
            self._problem(f"went away ({reason_code})", f"values wait in a queue of {self._queue_max} while "
                          "kickwatch reconnects, and nights are stored as always")

    def _on_connect_fail(self, client, userdata) -> None:
        tls = (", and that its TLS certificate is signed by [mqtt] ca_file (or, without one, an authority "
               "this machine trusts)") if self.cfg.tls else ""
        self._problem("cannot be reached", f"check [mqtt] host and port and that the broker runs{tls}; kickwatch "
                      "keeps trying, and nights are stored as always")

    def _problem(self, what: str, advice: str) -> None:
        """Why it is not connected: kept short for the status page, said once in full on stderr."""
        with self._lock:
            self.error = what
        if what != self._said:
            self._say(f"MQTT broker {self.broker} {what}: {advice}")
            self._said = what

    # our thread

    def _send(self) -> None:
        while True:
            with self._lock:
                while not self._closing and not (self._connected and (self._first or self._queue)):
                    self._lock.wait()
                if self._closing:
                    return
                topic, payload, qos = self._first.pop(0) if self._first else self._queue.popleft()
                info = self._client.publish(topic, payload, qos=qos, retain=True)
                if info.rc == 0:
                    self.sent += 1
                    self._last_info = info
                self._lock.notify_all()


def _refusal(reason_code) -> tuple[str, str]:
    """A refused connection in kickwatch's words: what happened, and what to do."""
    name = str(reason_code)
    if "password" in name.lower() or "authori" in name.lower():
        return (f"refused kickwatch's user name or password ({name})",
                "check [mqtt] username and password_file; nights are stored as always")
    return f"refused the connection ({name})", "nights are stored as always"


def try_connect(cfg: MqttConfig, timeout: float = 5.0) -> str | None:
    """Log in to the broker once, as the daemon would (`kickwatch doctor`): None when it took us,
    else what went wrong, in words."""
    try:
        client = logged_in_client(cfg, "kickwatch-doctor")
    except MqttSetupError as e:
        return str(e)
    answer: list = []
    client.on_connect = lambda c, u, f, reason_code, p: answer.append(reason_code)
    try:
        client.connect(cfg.host, cfg.port, keepalive=10)
    except ssl.SSLCertVerificationError as e:
        return (f"{cfg.host}:{cfg.port} answers with a TLS certificate kickwatch does not trust ({e.verify_message}): "
                "set [mqtt] ca_file to the authority that signed it")
    except (OSError, ValueError) as e:
        return f"{cfg.host}:{cfg.port} cannot be reached ({getattr(e, 'strerror', None) or e}): check [mqtt] host and port"
    deadline = time.monotonic() + timeout
    while not answer and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    if not answer:
        return f"{cfg.host}:{cfg.port} took the connection but gave no MQTT answer in {timeout:g} s: is it a broker?"
    if answer[0].is_failure:
        what, advice = _refusal(answer[0])
        return f"{cfg.host}:{cfg.port} {what}: {advice}"
    return None
