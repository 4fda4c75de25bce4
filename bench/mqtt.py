"""`make bench`: does publishing to Home Assistant cost the sampling loop anything?

    python -m bench.mqtt [--seconds 30]

The daemon runs live on a paced MCP3208 source (its answers from a simulated
night) for S seconds, four times: without [mqtt], with a broker that is up
(Debian's mosquitto on loopback), down (nothing listens on its port) and slow (it
accepts the connection and never answers). Live values go out every second, not
every minute: sixty times the real cadence. Printed for each: deadlines missed
(samples the loop was too late to take), and how long the daemon kept the loop
away from sampling per one-second block (median, 99th percentile, max). Then the
messages one 8-hour night sends, replayed at full speed through the broker.
Loopback only; every run is bounded in time.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import appliance.daemon as daemon_module
from appliance.config import Config, MqttConfig
from appliance.daemon import Daemon
from appliance.homeassistant import Bed
from appliance.mqtt import Publisher
from appliance.store import Store
from sensor.mcp3xxx import MCP3xxxSource
from sensor.recording import write_recording
from sensor.simulator import simulate_night
from tests.broker import Broker, Listener
from tests.conftest import free_port


class ReplayedADC:
    """One MCP3208 input whose readings are a simulated night's, in counts."""

    def __init__(self, volts, vref: float = 3.3):
        self.counts = [int(round(v / vref * 4095)) for v in volts]
        self.i = 0

    @property
    def raw_value(self) -> int:
        self.i = (self.i + 1) % len(self.counts)
        return self.counts[self.i]

    def close(self) -> None:
        pass


class Timed:
    """The source as the daemon sees it, noting how long each block is away and the samples missed."""

    def __init__(self, src):
        self.src, self.away, self.missed = src, [], 0

    def __getattr__(self, name):
        return getattr(self.src, name)

    def __iter__(self):
        for block in self.src:
            self.missed += block.gap_samples
            t = time.monotonic()
            yield block
            self.away.append(time.monotonic() - t)


def silent_listener() -> tuple[socket.socket, int]:
    """A 'broker' that accepts connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    held = []
    threading.Thread(target=lambda: [held.append(s.accept()) for _ in range(8)], daemon=True).start()
    return s, s.getsockname()[1]


def live_run(seconds: float, volts, port: int | None, folder: Path) -> Timed:
    cfg = Config()
    src = Timed(MCP3xxxSource("mcp3208", (0,), 250.0, adcs=[ReplayedADC(volts)]))
    publisher = None
    if port is not None:
        cfg.mqtt = MqttConfig(host="127.0.0.1", port=port, node_id="bench")
        publisher = Publisher(cfg.mqtt, Bed(cfg.mqtt, ("Sleeper",)))
        publisher.start()
    store = Store(folder / f"live-{port}.db")
    d = Daemon(cfg, src, store, source_name="bench", publisher=publisher)
    timer = threading.Timer(seconds, d.stop)
    timer.start()
    d.run()
    if publisher is not None:
        publisher.close()
    store.close()
    return src


def messages_per_night(folder: Path, port: int) -> int:
    rec, _ = simulate_night(8.0, 7, "piezo12")
    write_recording(folder / "night.npz", rec)
    (folder / "k.toml").write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nnode_id = "bench"\n')
    listener = Listener(port, topics=("homeassistant/#", "kickwatch/#"))
    subprocess.run([sys.executable, "-m", "kickwatch", "run", "--config", str(folder / "k.toml"), "--source",
                    str(folder / "night.npz"), "--speed", "max", "--db", str(folder / "night.db")],
                   check=True, capture_output=True, timeout=600)
    time.sleep(1.0)
    listener.close()
    return len(listener.messages)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    rec, _ = simulate_night(0.2, 3, "piezo12")
    volts = rec.signal[:, 0]
    daemon_module.HEALTH_EVERY_S = 1.0          # live values every second: sixty times the real cadence
    print(f"mqtt: the sampling loop, live at 250 Hz for {args.seconds:g} s each, live values every second")
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        broker = Broker(folder).start()
        silent, slow_port = silent_listener()
        try:
            for name, port in (("no [mqtt]", None), ("broker up", broker.port), ("broker down", free_port()),
                               ("broker slow (never answers)", slow_port)):
                src = live_run(args.seconds, volts, port, folder)
                away = sorted(src.away)
                p99 = away[min(len(away) - 1, int(0.99 * len(away)))]
                print(f"  {name:28s} missed deadlines {src.missed:4d}  loop away per 1 s block: median "
                      f"{1000 * statistics.median(away):.1f} ms, p99 {1000 * p99:.1f} ms, max {1000 * away[-1]:.1f} ms",
                      flush=True)
            print(f"  messages for one 8 h night (piezo12 seed 7, replayed at full speed): "
                  f"{messages_per_night(folder, broker.port)}")
        finally:
            silent.close()
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
