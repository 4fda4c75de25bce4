"""Home Assistant over MQTT, against a real broker (Debian's mosquitto on loopback): what Home
Assistant would see, a broker that goes away and comes back, a wrong password, and no broker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from appliance.config import Config, ConfigError, MqttConfig, config_from_dict
from appliance.daemon import Daemon
from appliance.homeassistant import ENTITIES, Bed
from appliance.mqtt import Publisher
from appliance.store import State, Store
from sensor.replay import ReplaySource
from web.app import status_of
from tests.broker import MOSQUITTO, Broker, Listener
from tests.conftest import cached_night, free_port, night_on_disk

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="mosquitto is installed by "
                                "scripts/system-deps.sh test (make test)")

KW = [sys.executable, "-m", "kickwatch"]
# what Home Assistant's discovery reads, spelled out; its abbreviations (stat_t, uniq_id, dev, ...) never
FULL_KEYS = {"name", "unique_id", "state_topic", "availability_topic", "payload_available",
             "payload_not_available", "device", "unit_of_measurement", "device_class", "state_class",
             "options", "payload_on", "payload_off"}


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def night_file(tmp_path_factory):
    return night_on_disk(tmp_path_factory.mktemp("n") / "night.npz", 1.5, 5, "severe")


def run_with(tmp_path, night_file, mqtt: dict, sleepers=("Sam",)):
    """`kickwatch run` on a recording, as the service runs it, with an [mqtt] section."""
    lines = ["[source]", f"sleepers = {json.dumps(list(sleepers))}",
             f"channels = {json.dumps(list(range(len(sleepers))))}", "[mqtt]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in mqtt.items()]
    cfg = tmp_path / "kickwatch.toml"
    cfg.write_text("\n".join(lines) + "\n")
    db = tmp_path / "k.db"
    env = dict(os.environ)
    env.pop("KICKWATCH_DEBUG", None)
    r = subprocess.run(KW + ["run", "--config", str(cfg), "--source", str(night_file), "--speed", "max",
                             "--db", str(db)], capture_output=True, text=True, timeout=120, env=env)
    return r, db, cfg


def stored_summary(db, cfg, sleeper=None) -> dict:
    args = ["night", "--json", "--db", str(db), "--config", str(cfg)] + (["--sleeper", sleeper] if sleeper else [])
    r = subprocess.run(KW + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["summary"]


def test_home_assistant_finds_the_bed_and_reads_last_night(tmp_path, broker, night_file):
    live = Listener(broker.port)
    r, db, cfg = run_with(tmp_path, night_file, {"host": "127.0.0.1", "port": broker.port, "node_id": "bedroom"})
    assert r.returncode == 0, r.stderr
    assert "MQTT" not in r.stderr
    live.close()
    # Home Assistant subscribing later gets everything from the retained messages
    ha = Listener(broker.port)
    assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "offline")
    time.sleep(0.3)
    retained = {t: p for t, p, kept in ha.messages if kept}
    configs = {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/")}
    assert len(configs) == len(ENTITIES)
    for topic, config in configs.items():
        component, node, object_id, last = topic.split("/")[1:]
        assert (node, last) == ("bedroom", "config") and component in ("sensor", "binary_sensor")
        assert set(config) <= FULL_KEYS, set(config) - FULL_KEYS
        assert config["device"]["identifiers"] == ["kickwatch_bedroom"]
        assert config["availability_topic"] == "kickwatch/bedroom/availability"
        assert config["state_topic"] in retained, f"{object_id} has no retained state"
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    summary = stored_summary(db, cfg)
    assert retained["kickwatch/bedroom/sam/last_night_leg_movements"] == str(summary["lm_count"])
    assert retained["kickwatch/bedroom/sam/last_night_periodic_movements"] == str(summary["plm_count"])
    assert float(retained["kickwatch/bedroom/sam/last_night_plmi"]) == pytest.approx(summary["plmi"], abs=0.01)
    assert retained["kickwatch/bedroom/bed/sensor_status"] == "ok"
    # live values once a minute of the signal at most, though the replay ran at full speed; only changes
    counts = [p for t, p, _ in live.messages if t == "kickwatch/bedroom/sam/movements_tonight"]
    assert 20 <= len(counts) <= 92          # 1.5 h of signal: at most one a minute
    tonight = [int(c) for c in counts]
    assert all(a != b for a, b in zip(tonight, tonight[1:]))
    peak = max(tonight)
    assert peak == summary["lm_count"] and tonight.index(peak) < len(tonight) - 1
    assert "ON" in [p for t, p, _ in live.messages if t == "kickwatch/bedroom/sam/series_in_progress"]
    heart = [p for t, p, _ in live.messages if t == "kickwatch/bedroom/sam/heart_rate" and p != "None"]
    assert heart and all(35 < float(h) < 130 for h in heart)
    ha.close()


def test_two_sleepers_each_have_their_own_entities(tmp_path, broker):
    path = night_on_disk(tmp_path / "couple.npz", 1.2, 3, "couple")
    r, db, cfg = run_with(tmp_path, path, {"host": "127.0.0.1", "port": broker.port, "node_id": "bedroom"},
                          sleepers=("Sam", "Alex"))
    assert r.returncode == 0, r.stderr
    ha = Listener(broker.port)
    assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "offline")
    time.sleep(0.3)
    last = ha.last()
    per_sleeper = [e for e in ENTITIES if e.per_sleeper]
    for who in ("sam", "alex"):
        for e in per_sleeper:
            assert f"homeassistant/{e.component}/bedroom/{who}_{e.key}/config" in last
            assert f"kickwatch/bedroom/{who}/{e.key}" in last
    for name in ("Sam", "Alex"):
        summary = stored_summary(db, cfg, name)
        assert last[f"kickwatch/bedroom/{name.lower()}/last_night_leg_movements"] == str(summary["lm_count"])
    ha.close()


def wait(predicate, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_broker_that_goes_away_and_comes_back(tmp_path, broker):
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, node_id="bedroom")
    bed = Bed(cfg, ("Sam",))
    said = []
    p = Publisher(cfg, bed, say=said.append, queue_max=5)
    p.start()
    assert wait(lambda: p.status()["connected"])
    p.publish(bed.states({"heart_rate": 61.5}, "Sam"))
    broker.stop()
    assert wait(lambda: not p.status()["connected"])
    for i in range(12):                                  # while it is away: 12 values, room for 5
        p.publish(bed.states({"movements_tonight": i}, "Sam"))
    st = p.status()
    assert (st["queued"], st["dropped"]) == (5, 7)
    assert len([s for s in said if "went away" in s]) == 1
    broker.start()                                       # same port, no persistence: it knows nothing
    ha = Listener(broker.port)
    assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/sam/movements_tonight") == "11", timeout=90)
    assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "online")
    last = ha.last()
    assert last["kickwatch/bedroom/sam/heart_rate"] == "61.5"        # every latest value again
    assert sum(t.startswith("homeassistant/") for t in last) == len(ENTITIES)   # discovery again
    assert p.status()["connects"] == 2
    t0 = time.monotonic()
    p.close()
    assert time.monotonic() - t0 < 3.5
    assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "offline")
    ha.close()


def test_a_wrong_password_is_one_clear_line_and_the_night_is_kept(tmp_path, night_file):
    b = Broker(tmp_path, users={"kickwatch": "right horse battery"}).start()
    try:
        secret = tmp_path / "mqtt-password"
        secret.write_text("wrong\n")
        cfg = MqttConfig(host="127.0.0.1", port=b.port, username="kickwatch", password_file=str(secret))
        said = []
        p = Publisher(cfg, Bed(cfg, ("Sam",)), say=said.append)
        p.start()
        assert wait(lambda: p.status()["error"] and "password" in p.status()["error"])
        time.sleep(3.5)                                   # paho tries again after 1 s and 2 s
        p.close()
        assert len(said) == 1 and "user name or password" in said[0] and "[mqtt]" in said[0]
        r, db, cfgfile = run_with(tmp_path, night_file, {"host": "127.0.0.1", "port": b.port,
                                                         "username": "kickwatch", "password_file": str(secret)})
        assert r.returncode == 0, r.stderr
        assert stored_summary(db, cfgfile)["lm_count"] > 0
        secret.write_text("right horse battery\n")
        ha = Listener(b.port, user="kickwatch", password="right horse battery")
        (tmp_path / "again").mkdir()
        r, db, cfgfile = run_with(tmp_path / "again", night_file, {"host": "127.0.0.1", "port": b.port, "username": "kickwatch",
                                               "password_file": str(secret), "node_id": "bedroom"})
        assert r.returncode == 0 and "MQTT" not in r.stderr, r.stderr
        assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "offline")
        ha.close()
    finally:
        b.stop()


@pytest.mark.parametrize("setting,words", [
    ({"username": "kickwatch", "password_file": "nowhere"}, "mqtt.password_file {} cannot be read"),
    ({"tls": True, "ca_file": "no-ca.pem"}, "mqtt.ca_file {} cannot be used"),
])
def test_a_file_that_cannot_be_read_is_one_line_and_the_night_is_recorded(tmp_path, night_file, setting, words):
    missing = {k: str(tmp_path / v) if k.endswith("_file") else v for k, v in setting.items()}
    r, db, cfg = run_with(tmp_path, night_file, {"host": "127.0.0.1", "port": free_port(), **missing})
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "Home Assistant" in ln]
    path = next(v for k, v in missing.items() if k.endswith("_file"))
    assert len(lines) == 1 and words.format(path) in lines[0]
    assert stored_summary(db, cfg)["lm_count"] > 0


def test_with_no_broker_there_the_run_ends_and_keeps_the_night(tmp_path, night_file):
    started = time.monotonic()
    r, db, cfg = run_with(tmp_path, night_file, {"host": "127.0.0.1", "port": free_port()})
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 60            # a hang check, not a speed target (make bench times it)
    assert stored_summary(db, cfg)["lm_count"] > 0


def test_the_daemon_keeps_the_publishers_state_for_the_status_page(tmp_path, broker):
    rec, _ = cached_night(0.3, 2, "piezo12")
    cfg = Config()
    cfg.mqtt = MqttConfig(host="127.0.0.1", port=broker.port, node_id="bedroom")
    p = Publisher(cfg.mqtt, Bed(cfg.mqtt, ("Sleeper",)))
    p.start()
    assert wait(lambda: p.status()["connected"])
    store = Store(tmp_path / "k.db")
    Daemon(cfg, ReplaySource(rec, speed="max"), store, finite=True, publisher=p).run()
    p.close()
    state = store.get_state(State.MQTT)
    assert state["broker"] == f"127.0.0.1:{broker.port}" and state["connected"] and state["dropped"] == 0
    assert status_of(store, cfg)["mqtt"] == f"publishing to 127.0.0.1:{broker.port}"
    store.set_state(State.MQTT, {**state, "connected": False, "error": "cannot be reached", "dropped": 3})
    store.flush()
    words = status_of(store, cfg)["mqtt"]
    assert words.startswith(f"not connected to 127.0.0.1:{broker.port}: cannot be reached") and "3 live values" in words
    store.close()


@pytest.mark.parametrize("key,value", [("topic_prefix", "kick/"), ("discovery_prefix", ""), ("node_id", "bed#1")])
def test_a_topic_setting_that_mqtt_cannot_carry_is_named(key, value):
    with pytest.raises(ConfigError, match=f"mqtt.{key}"):
        config_from_dict({"mqtt": {key: value}})


def test_doctor_logs_in_to_the_broker_as_the_daemon_would(tmp_path):
    from appliance.doctor import mqtt_check

    b = Broker(tmp_path, users={"kickwatch": "right"}).start()
    try:
        secret = tmp_path / "pw"
        cfg = Config()
        cfg.mqtt = MqttConfig(host="127.0.0.1", port=b.port, username="kickwatch", password_file=str(secret))
        secret.write_text("right\n")
        secret.chmod(0o640)
        assert mqtt_check(cfg).ok
        secret.chmod(0o644)
        check = mqtt_check(cfg)
        assert not check.ok and "can be read by every user" in check.line() and "chmod 0640" in check.line()
        secret.write_text("wrong\n")
        check = mqtt_check(cfg)
        assert not check.ok and "user name or password" in check.line()
        cfg.mqtt.port = free_port()
        check = mqtt_check(cfg)
        assert not check.ok and "cannot be reached" in check.line()
    finally:
        b.stop()


def test_a_recorder_that_dies_is_marked_offline_by_its_last_will(tmp_path, broker, night_file):
    cfg = tmp_path / "kickwatch.toml"
    cfg.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nnode_id = "bedroom"\n')
    ha = Listener(broker.port)
    proc = subprocess.Popen(KW + ["run", "--config", str(cfg), "--source", str(night_file), "--speed", "realtime",
                                  "--db", str(tmp_path / "k.db")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "online", timeout=30)
        proc.kill()                                          # kill -9: no goodbye, only the will
        proc.wait(10)
        assert ha.wait_for(lambda m: m.get("kickwatch/bedroom/availability") == "offline", timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        ha.close()


def test_over_tls_with_the_brokers_own_authority(tmp_path):
    b = Broker(tmp_path, tls=True).start()
    try:
        trusted = MqttConfig(host="127.0.0.1", port=b.port, tls=True, ca_file=str(b.ca), node_id="bedroom")
        p = Publisher(trusted, Bed(trusted, ("Sam",)))
        p.start()
        assert wait(lambda: p.status()["connected"])
        p.close()
        strangers = MqttConfig(host="127.0.0.1", port=b.port, tls=True, node_id="bedroom")   # the system's CAs
        said = []
        p = Publisher(strangers, Bed(strangers, ("Sam",)), say=said.append)
        p.start()
        time.sleep(2.5)
        assert not p.status()["connected"] and len(said) == 1 and "ca_file" in said[0]
        p.close()
        cfg = Config()
        cfg.mqtt = strangers
        from appliance.doctor import mqtt_check
        line = mqtt_check(cfg).line()
        assert not mqtt_check(cfg).ok and "TLS certificate kickwatch does not trust" in line and "ca_file" in line
    finally:
        b.stop()
