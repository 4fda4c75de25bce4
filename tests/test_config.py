"""Config: defaults, and every bad value named in one line."""
from __future__ import annotations

import pytest

from appliance.config import Config, ConfigError, describe, load_config


def write(tmp_path, text):
    p = tmp_path / "kickwatch.toml"
    p.write_text(text)
    return p


def test_defaults_when_the_default_file_is_absent(monkeypatch, tmp_path):
    monkeypatch.setattr("appliance.config.DEFAULT_PATH", tmp_path / "none.toml")
    monkeypatch.delenv("KICKWATCH_CONFIG", raising=False)
    assert load_config() == Config()


def test_a_file_asked_for_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_values_are_read(tmp_path):
    cfg = load_config(write(tmp_path, '[source]\nkind = "ads1256"\nrate_hz = 100\nchannels = [0, 1]\n'
                                      '[series]\nimi_min_s = 5\n'))
    assert cfg.source.kind == "ads1256" and cfg.source.rate_hz == 100.0 and cfg.source.channels == [0, 1]
    assert cfg.series.imi_min_s == 5.0


@pytest.mark.parametrize("text,message", [
    ("[source\nkind=1", "not valid TOML"),
    ("[sauce]\nkind = 'sim'\n", r"unknown section \[sauce\]"),
    ("[source]\nknd = 'sim'\n", "unknown setting source.knd"),
    ("[source]\nrate_hz = 'fast'\n", "source.rate_hz must be a number"),
    ("[source]\nrate_hz = 5000\n", "source.rate_hz must be between 100.0 and 500.0"),
    ("[source]\npga = 3\n", r"source.pga must be one of \[1, 2"),
    ("[source]\nchannels = [0, 1, 2]\n", "one or two different inputs"),
    ("[source]\nchannels = 'zero'\n", "list of whole numbers"),
    ("[detection]\nonset_margin = 1.0\noffset_margin = 2.0\n", "must be below onset_margin"),
    ("[series]\nimi_min_s = 50\nimi_max_s = 40\n", "must be below imi_max_s"),
    ("[series]\nmin_count = true\n", "series.min_count must be a whole number"),
    ("source = 3\n", "must be a table"),
])
def test_bad_config_gives_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_config(write(tmp_path, text))
    assert "\n" not in str(e.value)


def test_the_described_default_config_reads_back_as_the_defaults(tmp_path):
    text = describe()
    assert "# ADC inputs the strips are wired to" in text
    assert load_config(write(tmp_path, text)) == Config()
