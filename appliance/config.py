"""Typed config in one place, read from TOML and validated at start.

Every setting is a dataclass field with a default, a one-line doc and its bounds.
A bad file fails with one ConfigError line that names the key and what is wrong.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from appliance.detection.settings import DetectionConfig, SeriesConfig, setting


DEFAULT_PATH = Path("/etc/kickwatch/kickwatch.toml")
ENV_PATH = "KICKWATCH_CONFIG"


class ConfigError(ValueError):
    """The config file is missing, unreadable, or holds a bad value."""


@dataclass
class SourceConfig:
    kind: str = setting("sim", "where samples come from: mcp3008, mcp3208, ads1256, sim, or a recording's path")
    channels: list = setting([0], "ADC inputs the strips are wired to (one or two)")
    sleepers: list = setting(["Sleeper"], "who sleeps on the strips: one name (two channels are then one "
                                          "sleeper's two strips), or one name per channel, in the same order, for "
                                          "two sleepers each with a strip of their own", item=str)
    rate_hz: float = setting(250.0, "samples per second per channel", 100.0, 500.0)
    spi_bus: int = setting(0, "SPI bus (/dev/spidevBUS.DEVICE)", 0, 6)
    spi_device: int = setting(0, "SPI chip select", 0, 2)
    vref: float = setting(3.3, "MCP3008/MCP3208 reference voltage, volts", 0.5, 5.5)
    ads1256_vref: float = setting(2.5, "ADS1256 reference voltage, volts (2.5 on the common boards)", 0.5, 5.0)
    cs_pin: int = setting(22, "ADS1256 chip-select GPIO (BCM number)", 0, 27)
    drdy_pin: int = setting(17, "ADS1256 data-ready GPIO (BCM number)", 0, 27)
    pga: int = setting(64, "ADS1256 programmable gain", choices=[1, 2, 4, 8, 16, 32, 64])
    speed: str = setting("realtime", "replay and simulator pace", choices=["realtime", "max"])
    sim_profile: str = setting("piezo12", "simulator profile (kickwatch simulate --help lists them)")
    sim_hours: float = setting(8.0, "length of a simulated night, hours", 0.05, 24.0)
    sim_seed: int = setting(1, "simulator random seed", 0, 2**31)
    sim_start: str = setting("", "ISO time the simulated night began; set, the simulator runs as a live strip "
                                 "would, and a restarted daemon picks up where the clock is (empty: now)")
    follow_clock: bool = setting(False, "replay a recording as a live strip: start where the wall clock is "
                                        "within it (the recording needs a start time)")


@dataclass
class StoreConfig:
    database: str = setting("/var/lib/kickwatch/kickwatch.db", "the SQLite database")
    flush_interval_s: float = setting(45.0, "at most one commit this often while sampling (SD cards wear)", 5.0, 600.0)
    raw_dir: str = setting("", "where the raw signal is kept for export (empty: a 'raw' folder beside the database)")
    keep_raw_nights: int = setting(7, "how many days of raw signal to keep (0: keep none)", 0, 365)
    night_gap_min: float = setting(90.0, "out of bed this long ends the night, minutes", 5.0, 720.0)


def raw_dir_of(cfg: "Config", database: str | None = None) -> str:
    return cfg.store.raw_dir or str(Path(database or cfg.store.database).parent / "raw")


@dataclass
class WebConfig:
    host: str = setting("0.0.0.0", "address the dashboard listens on")
    port: int = setting(8080, "port the dashboard listens on", 1, 65535)
    pin_file: str = setting("/etc/kickwatch/pin", "the household PIN's hash (install.sh writes it)")
    protect_viewing: bool = setting(False, "ask for the PIN to view pages too, not only to change data")
    requests_dir: str = setting("/var/lib/kickwatch-web/requests", "where the dashboard leaves changes for the daemon")
    secret_file: str = setting("/var/lib/kickwatch-web/secret", "key that signs the dashboard's cookies")


@dataclass
class MqttConfig:
    host: str = setting("", "the MQTT broker's address; set, kickwatch publishes to Home Assistant (empty: it does not)")
    port: int = setting(1883, "the broker's port (8883 is usual with TLS)", 1, 65535)
    tls: bool = setting(False, "connect over TLS")
    ca_file: str = setting("", "with TLS, the certificate authority that signed the broker's certificate "
                               "(empty: the system's)")
    username: str = setting("", "the user kickwatch logs in as (empty: none)")
    password_file: str = setting("", "a file holding that user's password, readable by the kickwatch service only")
    topic_prefix: str = setting("kickwatch", "the first level of kickwatch's own state topics")
    discovery_prefix: str = setting("homeassistant", "Home Assistant's discovery prefix (its default: homeassistant)")
    node_id: str = setting("", "this bed's name in topics and in Home Assistant (empty: the machine's host name)")


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    series: SeriesConfig = field(default_factory=SeriesConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    web: WebConfig = field(default_factory=WebConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def load_config(path: str | os.PathLike | None = None, *, required: bool = False, named_by: str = "--config") -> Config:
    """Read the config: `path`, else $KICKWATCH_CONFIG, else /etc/kickwatch/kickwatch.toml.

    A missing default file gives the defaults; a missing file that was asked for
    (or `required`) is an error.
    """
    named = named_by if path is not None else (f"${ENV_PATH}" if ENV_PATH in os.environ else None)
    path = Path(path or os.environ.get(ENV_PATH) or DEFAULT_PATH)
    if not path.exists():
        if named is None and not required:
            return Config()
        how = {"--config": "check the name after --config, or leave --config out for /etc/kickwatch/kickwatch.toml",
               "--check": "check the name after --check",
               f"${ENV_PATH}": f"check ${ENV_PATH}, or unset it for /etc/kickwatch/kickwatch.toml"}.get(
                   named, "check its name; 'kickwatch config' prints a commented one to start from")
        raise ConfigError(f"config file {path} does not exist: {how}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} cannot be read: {e}") from None
    return config_from_dict(data, str(path))


def config_from_dict(data: dict, where: str = "config") -> Config:
    cfg = Config()
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{where}: unknown section [{section}]; known: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{section}] must be a table of settings")
        target = getattr(cfg, section)
        fields = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{where}: unknown setting {section}.{key}; known: {', '.join(fields)}")
            setattr(target, key, _check(f"{section}.{key}", fields[key], value, where))
    _check_together(cfg, where)
    return cfg


KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text in quotes"}


def _check(name: str, f: dataclasses.Field, value, where: str):
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    meta = f.metadata
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is list:
        item = meta.get("item", int)
        if not isinstance(value, list) or not all(isinstance(v, item) and not isinstance(v, bool) for v in value):
            words = "whole numbers" if item is int else "names in quotes"
            raise ConfigError(f"{where}: {name} must be a list of {words}, got {value!r}")
    elif not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool):
        raise ConfigError(f"{where}: {name} must be {KIND_WORDS[kind]}, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{where}: {name} must be one of {meta['choices']}, got {value!r}")
    if meta.get("lo") is not None and not meta["lo"] <= value <= meta["hi"]:
        raise ConfigError(f"{where}: {name} must be between {meta['lo']} and {meta['hi']}, got {value!r}")
    return value


def _check_together(cfg: Config, where: str) -> None:
    ch = cfg.source.channels
    if not 1 <= len(ch) <= 2 or len(set(ch)) != len(ch) or not all(0 <= c <= 7 for c in ch):
        raise ConfigError(f"{where}: source.channels must be one or two different inputs 0-7, got {ch}")
    problem = sleeper_names_problem(cfg.source.sleepers, len(ch))
    if problem:
        raise ConfigError(f"{where}: source.sleepers {problem}")
    d = cfg.detection
    if d.offset_margin >= d.onset_margin:
        raise ConfigError(f"{where}: detection.offset_margin ({d.offset_margin}) must be below onset_margin ({d.onset_margin})")
    if d.lm_min_s >= d.lm_max_s:
        raise ConfigError(f"{where}: detection.lm_min_s must be below lm_max_s")
    m = cfg.mqtt
    for name, value in (("topic_prefix", m.topic_prefix), ("discovery_prefix", m.discovery_prefix),
                        ("node_id", m.node_id)):
        if any(c in value for c in "#+") or value.startswith("/") or value.endswith("/") or (
                not value and name != "node_id"):
            raise ConfigError(f"{where}: mqtt.{name} must be a topic level without '#', '+' or a leading or "
                              f"trailing '/', got {value!r}")
    s = cfg.series
    if s.imi_min_s >= s.imi_max_s:
        raise ConfigError(f"{where}: series.imi_min_s ({s.imi_min_s}) must be below imi_max_s ({s.imi_max_s})")


MAX_NAME = 24


def sleeper_names_problem(names: list[str], channels: int) -> str | None:
    """What is wrong with these sleepers' names for this many strips, in words (None: nothing)."""
    if not 1 <= len(names) <= 2:
        return f"must name one sleeper, or two (one per strip), got {names!r}"
    if len(names) == 2 and channels != 2:
        return f"names two sleepers, so it needs two channels, one under each (channels = [0, 1]); got {channels}"
    for n in names:
        if not n.strip() or len(n) > MAX_NAME or "," in n or "/" in n:
            return f"must be names of 1-{MAX_NAME} characters without commas or slashes, got {n!r}"
    if len(set(n.casefold() for n in names)) != len(names):
        return f"must be two different names, got {names!r}"
    return None


def describe() -> str:
    """The default config as commented TOML: every setting with its doc."""
    lines = ["# kickwatch configuration. Every setting is optional; shown are the defaults.", ""]
    cfg = Config()
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for f in dataclasses.fields(getattr(cfg, section)):
            value = getattr(getattr(cfg, section), f.name)
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {_toml(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)
