"""What Home Assistant sees of the bed: its entities, their discovery configs and their states.

Names, topics and payloads only; `appliance.mqtt` sends them. Home Assistant's MQTT
discovery, as ESPHome speaks it: a retained config per entity at
`<discovery_prefix>/<component>/<node_id>/<object_id>/config`, with full key names
(`unique_id`, `state_topic`, `device`, never the abbreviations), one device per bed
whose `identifiers` tie its entities together, and an availability topic that the
client's last will sets to "offline". Every entity has a state topic of its own
under `<topic_prefix>/<node_id>/`, one plain value each ("ON"/"OFF" for a binary
sensor, "None" for a figure not measured, which Home Assistant shows as unknown).
"""
from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from functools import cached_property

from appliance import sensor_status
from appliance.config import MqttConfig
from appliance.nights import Tonight

ONLINE, OFFLINE = "online", "offline"
BED = "bed"                      # the object id's first part for the bed's own entities


@dataclass(frozen=True)
class Entity:
    """One thing Home Assistant shows: a sleeper's (per_sleeper) or the bed's."""

    key: str
    component: str               # "sensor" or "binary_sensor"
    name: str
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    per_sleeper: bool = True
    options: tuple = ()          # an enum sensor's states


ENTITIES = (
    Entity("in_bed", "binary_sensor", "in bed", device_class="occupancy"),
    Entity("movements_tonight", "sensor", "leg movements tonight", unit="movements", state_class="measurement"),
    Entity("series_in_progress", "binary_sensor", "periodic series in progress"),
    Entity("heart_rate", "sensor", "heart rate", unit="bpm", state_class="measurement"),
    Entity("breathing_rate", "sensor", "breathing rate", unit="breaths/min", state_class="measurement"),
    Entity("last_night_plmi", "sensor", "last night's PLMI (per hour in bed)", unit="/h"),
    Entity("last_night_leg_movements", "sensor", "last night's leg movements", unit="movements"),
    Entity("last_night_periodic_movements", "sensor", "last night's periodic leg movements", unit="movements"),
    Entity("last_night_time_in_bed", "sensor", "last night's time in bed", unit="h", device_class="duration"),
    Entity("last_night_breathing_events", "sensor", "last night's breathing pauses per hour", unit="/h"),
    Entity("sensor_status", "sensor", "strip", device_class="enum", per_sleeper=False,
           options=(sensor_status.OK, sensor_status.FLAT, sensor_status.CLIPPED, sensor_status.NOISY,
                    sensor_status.FAULT)),
)


def slug(text: str) -> str:
    """A name as a topic level and object id: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_") or "sleeper"


@dataclass(frozen=True)
class Bed:
    """One bed's topics and discovery configs: who sleeps in it, and where its states go."""

    cfg: MqttConfig
    sleepers: tuple[str, ...]    # names; one sleeper's bed has one
    version: str = ""

    @cached_property
    def node(self) -> str:
        """The bed's name in topics (worked out once: every state topic carries it)."""
        return slug(self.cfg.node_id or socket.gethostname())

    @property
    def availability(self) -> str:
        return f"{self.cfg.topic_prefix}/{self.node}/availability"

    def state_topic(self, key: str, sleeper: str | None = None) -> str:
        return f"{self.cfg.topic_prefix}/{self.node}/{slug(sleeper) if sleeper else BED}/{key}"

    def discovery(self) -> list[tuple[str, str]]:
        """Every entity's retained discovery config, as (topic, JSON payload)."""
        device = {"identifiers": [f"kickwatch_{self.node}"], "name": f"kickwatch {self.node}",
                  "manufacturer": "kickwatch", "model": "under-mattress strip", "sw_version": self.version}
        out = []
        for e in ENTITIES:
            for who in (self.sleepers if e.per_sleeper else [None]):
                object_id = f"{slug(who) if who else BED}_{e.key}"
                config = {"name": f"{who} {e.name}" if who else e.name,
                          "unique_id": f"kickwatch_{self.node}_{object_id}",
                          "state_topic": self.state_topic(e.key, who),
                          "availability_topic": self.availability,
                          "payload_available": ONLINE, "payload_not_available": OFFLINE,
                          "device": device}
                for key in ("unit", "device_class", "state_class"):
                    value = getattr(e, key)
                    if value:
                        config["unit_of_measurement" if key == "unit" else key] = value
                if e.options:
                    config["options"] = list(e.options)
                if e.component == "binary_sensor":
                    config["payload_on"], config["payload_off"] = "ON", "OFF"
                topic = f"{self.cfg.discovery_prefix}/{e.component}/{self.node}/{object_id}/config"
                out.append((topic, json.dumps(config, sort_keys=True)))
        return out

    def states(self, values: dict, sleeper: str | None = None) -> list[tuple[str, str]]:
        """(topic, payload) for each value given, by entity key."""
        return [(self.state_topic(key, sleeper), payload(value)) for key, value in values.items()]


def payload(value) -> str:
    """A state as Home Assistant reads it: ON/OFF, a number, or None (unknown)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def tonight(t: Tonight) -> dict:
    """A sleeper's night so far (appliance.nights.NightBook.tonight), by entity key."""
    return {"in_bed": t.in_bed, "movements_tonight": t.leg_movements, "series_in_progress": t.series_in_progress,
            "heart_rate": t.heart_bpm, "breathing_rate": t.breaths_pm}


def last_night(summary: dict | None) -> dict:
    """A closed night's figures, by entity key (None where the night could not carry one)."""
    s = summary or {}
    return {"last_night_plmi": s.get("plmi"), "last_night_leg_movements": s.get("lm_count"),
            "last_night_periodic_movements": s.get("plm_count"),
            "last_night_time_in_bed": s.get("hours_in_bed"), "last_night_breathing_events": s.get("rei")}
