"""The dashboard through Flask's test client: numbers, errors, headers, PIN and CSRF."""
from __future__ import annotations

import json
import re

import pytest
from werkzeug.security import generate_password_hash

from appliance.config import Config
from appliance.nights import stored_night
from tests.webfixtures import build_db, web_config
from web.app import create_app


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("web")
    cfg = web_config(d)
    (d / "pin").write_text(generate_password_hash("2468"))
    store = build_db(d / "k.db", nights=3, cfg=cfg)
    last = stored_night(store)
    store.close()
    app = create_app(d / "k.db", cfg, testing=True)
    return app, cfg, last, d


@pytest.fixture
def client(env):
    return env[0].test_client()


def test_home_shows_last_nights_numbers(client, env):
    _, _, last, _ = env
    html = client.get("/").get_data(as_text=True)
    s = last["summary"]
    assert f'<span id="lm-count">{s["lm_count"]}</span>' in html
    assert f'<span id="plm-count">{s["plm_count"]}</span>' in html
    assert f'<span id="plmi">{s["plmi"]:.1f}</span>' in html
    assert "not per hour asleep" in html and "15" in html


def test_timeline_has_one_tick_per_movement(client, env):
    _, _, last, _ = env
    html = client.get("/").get_data(as_text=True)
    assert len(re.findall(r'class="tick ', html)) == len(last["movements"])
    assert len(re.findall(r'class="tick lm periodic"', html)) == last["summary"]["plm_count"]


def test_the_partners_card_says_how_the_night_was_counted_whatever_the_reader_is_set_to(client, env):
    _, cfg, _, d = env
    assert "Counted for one sleeper" in client.get("/").get_data(as_text=True)
    shared = web_config(d)
    shared.detection.shared_bed = True
    html = create_app(d / "k.db", shared, testing=True).test_client().get("/").get_data(as_text=True)
    assert "Counted for one sleeper" in html and "shared bed:" not in html


def test_the_partners_card_claims_nothing_about_the_partners_sleep(client, env):
    _, _, last, _ = env
    html = client.get("/").get_data(as_text=True)
    card = html[html.index("For the partner"):html.index('id="bed-setup"')]
    assert "disturbed" not in card and "does not measure your sleep" in card
    assert f"{last['summary']['lm_count']} leg movements" in card


def test_a_stored_night_has_one_truth_whatever_the_readers_series_rules(env):
    """The nights list, the night's page, the API and `night --json` all read what the recorder stored."""
    _, cfg, last, d = env
    other = web_config(d)
    other.series.min_count, other.series.imi_max_s = 2, 300.0
    c = create_app(d / "k.db", other, testing=True).test_client()
    listed = next(n for n in c.get("/api/nights").get_json()["nights"] if n["date"] == last["night"]["date"])
    shown = c.get("/api/night/last").get_json()
    assert listed["plmi"] == shown["summary"]["plmi"] == last["summary"]["plmi"]
    assert shown["night"]["scored_with"] == {"imi_min_s": 10.0, "imi_max_s": 90.0, "min_count": 4,
                                             "shared_bed": False}
    page = c.get("/").get_data(as_text=True)
    assert f'<span id="plmi">{last["summary"]["plmi"]:.1f}</span>' in page


def test_nights_list_and_trend(client):
    html = client.get("/nights").get_data(as_text=True)
    assert html.count('href="/night/') >= 3 and 'id="median"' in html
    assert re.search(r"3 nights in the 30 days to \d{4}-\d\d-\d\d", html), "the trend counts the nights it shows"
    assert client.get("/nights?days=90").status_code == 200


@pytest.mark.parametrize("url,code", [
    ("/night/2026-02-30", 400), ("/night/yesterday", 400), ("/night/1999-01-01", 404),
    ("/nights?days=abc", 400), ("/print?from=2026-01-02&to=2026-01-01", 400), ("/print", 400),
    ("/no/such/page", 404), ("/api/night/bad", 400), ("/api/night/1999-01-01", 404),
    ("/night/1999-01-01/movements.csv", 404), ("/static/../app.py", 404),
])
def test_bad_urls_get_4xx_never_500(client, url, code):
    r = client.get(url)
    assert r.status_code == code
    assert "Traceback" not in r.get_data(as_text=True)


def test_security_headers(client):
    r = client.get("/")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_api(client, env):
    _, _, last, _ = env
    nights = client.get("/api/nights").get_json()["nights"]
    assert len(nights) == 3 and nights[0]["date"] == last["night"]["date"]
    assert client.get(f"/api/night/{last['night']['date']}").get_json()["summary"] == last["summary"]
    st = client.get("/api/status").get_json()
    assert st["nights"] == 3 and st["disk_free_gb"] is not None


def test_csv_has_a_row_per_movement(client, env):
    _, _, last, _ = env
    body = client.get(f"/night/{last['night']['date']}/movements.csv").get_data(as_text=True)
    assert len(body.strip().splitlines()) == 1 + len(last["movements"])


def _csrf(client, url):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_delete_needs_the_pin_and_the_csrf_token(client, env, monkeypatch):
    monkeypatch.setattr("web.app.PIN_DELAY_S", 0.0)
    _, cfg, last, d = env
    url = f"/night/{last['night']['date']}/delete"
    assert client.post(url, data={"pin": "2468"}).status_code == 400             # no CSRF token
    token = _csrf(client, url)
    assert client.post(url, data={"pin": "0000", "csrf": token}).status_code == 403
    r = client.post(url, data={"pin": "2468", "csrf": token})
    assert r.status_code == 200 and "will be deleted" in r.get_data(as_text=True)
    (req,) = list((d / "requests").glob("*.json"))
    assert json.loads(req.read_text()) == {"action": "delete_night", "date": last["night"]["date"]}


def test_repeated_wrong_pins_are_slowed_down(env, monkeypatch):
    app, _, last, _ = env
    waits = []
    monkeypatch.setattr("web.app.time.sleep", lambda s: waits.append(s))
    c = app.test_client()
    url = f"/night/{last['night']['date']}/delete"
    token = _csrf(c, url)
    for _ in range(3):
        c.post(url, data={"pin": "1111", "csrf": token}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert waits == [1.0, 2.0]


def test_first_morning_shows_what_the_sensor_is_doing(tmp_path):
    from appliance.store import Store
    Store(tmp_path / "k.db").close()
    html = create_app(tmp_path / "k.db", Config(), testing=True).test_client().get("/").get_data(as_text=True)
    assert "No night recorded yet" in html and 'id="sensor"' in html


def test_no_database_at_all_is_not_an_error(tmp_path):
    r = create_app(tmp_path / "none.db", Config(), testing=True).test_client().get("/")
    assert r.status_code == 200 and "No night recorded yet" in r.get_data(as_text=True)


def test_theme_is_dark_by_default_and_light_on_request(client):
    assert '<html lang="en" class="dark">' in client.get("/").get_data(as_text=True)
    r = client.get("/?theme=light")
    assert '<html lang="en" class="light">' in r.get_data(as_text=True) and "theme=light" in r.headers["Set-Cookie"]


def test_raw_signal_downloads_as_edf_with_the_movements_annotated(client, env, tmp_path):
    from sensor.recording import read_recording
    _, _, last, _ = env
    r = client.get(f"/night/{last['night']['date']}/recording.edf")
    assert r.status_code == 200
    path = tmp_path / "n.edf"
    path.write_bytes(r.data)
    rec = read_recording(path)
    labels = [t for _, _, t in rec.annotations]
    assert labels.count("PLM") == last["summary"]["plm_count"]
    assert labels.count("LM") + labels.count("PLM") == last["summary"]["lm_count"]
    assert "in bed" in labels and rec.fs == last["recording"]["fs"]
    import edfio
    heart = [sig for sig in edfio.read_edf(path).signals if sig.physical_dimension == "bpm"]
    measured = [v["heart_bpm"] for v in last["vitals"] if v["heart_bpm"] is not None]
    assert len(heart) == 1 and heart[0].sampling_frequency == 1.0
    assert measured and abs(max(heart[0].data) - max(measured)) < 0.5
    assert labels.count("breathing pause") == len(last["respiratory_events"])


def test_heart_and_breathing_download_as_csv_minute_by_minute(client, env):
    _, _, last, _ = env
    r = client.get(f"/night/{last['night']['date']}/vitals.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = r.data.decode().strip().split("\n")
    assert rows[0] == "what,start_local,start_s,end_s,heart_bpm,breaths_pm"
    assert sum(row.startswith("minute,") for row in rows) == len(last["vitals"])


def test_status_says_when_the_recorder_has_stopped(client):
    st = client.get("/api/status").get_json()
    assert st["alive"] is False and st["daemon"].startswith("stopped")


def test_the_pin_can_protect_viewing_too(env, tmp_path, monkeypatch):
    monkeypatch.setattr("web.app.PIN_DELAY_S", 0.0)
    _, cfg, _, d = env
    import copy
    locked = copy.deepcopy(cfg)
    locked.web.protect_viewing = True
    c = create_app(d / "k.db", locked, testing=True).test_client()
    r = c.get("/nights")
    assert r.status_code == 302 and "/unlock" in r.headers["Location"]
    token = _csrf(c, "/unlock?next=/nights")
    assert c.post("/unlock?next=/nights", data={"pin": "1357", "csrf": token}).status_code == 403
    r = c.post("/unlock?next=/nights", data={"pin": "2468", "csrf": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/nights")
    assert c.get("/nights").status_code == 200
    assert c.post("/unlock?next=//evil.example", data={"pin": "2468", "csrf": token}).headers["Location"] == "/"


def test_a_healthy_strip_is_shown_healthy_with_every_status_field(client):
    st = client.get("/api/status").get_json()
    assert st["sensor_status"] == "ok" and st["gaps"] == 0 and st["sensor"] == "signal present"
    nulls = [k for k, v in st.items() if v is None and k != "last_sample_age_s"]
    assert nulls == [], nulls
    html = client.get("/status").get_data(as_text=True)
    assert '<dd id="sensor" class="ok">signal present</dd>' in html


def test_a_night_replayed_ahead_of_the_clock_has_no_negative_age(tmp_path):
    import time

    from appliance.store import Store
    store = Store(tmp_path / "k.db")
    store.set_state("daemon", {"source": "recording night.npz", "last_sample_utc": time.time() + 2698,
                               "flushed_utc": time.time(), "in_bed": "out", "stopped": True})
    store.flush()
    store.close()
    c = create_app(tmp_path / "k.db", Config(), testing=True).test_client()
    st = c.get("/api/status").get_json()
    assert st["last_sample_age_s"] is None and st["daemon"] == "stopped: the recording night.npz ended"
    html = c.get("/status").get_data(as_text=True)
    assert "s ago" not in html and "later than this clock" in html and "ended (recording" not in html


def test_a_sensor_fault_is_named_in_the_status(tmp_path):
    import time

    from appliance.store import Store
    store = Store(tmp_path / "k.db")
    store.set_state("sensor_fault", {"at": time.time(), "error": "no answer from /dev/spidev0.0"})
    store.add_health(time.time(), "fault", gap_samples=5)
    store.flush()
    store.close()
    st = create_app(tmp_path / "k.db", Config(), testing=True).test_client().get("/api/status").get_json()
    assert st["sensor_status"] == "fault" and st["gaps"] == 5 and "no answer" in st["sensor"]


def _labels(svg: str) -> list[tuple[str, float]]:
    return [(t, float(y)) for y, t in re.findall(r'<text class="axis"[^>]* y="([\d.]+)"[^>]*>([^<]*)</text>', svg)]


def test_a_histogram_of_one_interval_has_whole_ticks_with_zero_at_the_base():
    from web import charts
    svg = charts.bars([0, 1, 0], ["0", "2", "4"], "intervals", "imi", unit="intervals")
    ticks = {t: float(y) for y, t in re.findall(r'<text class="axis" x="[\d.]+" y="([\d.]+)" text-anchor="end">([^<]*)<',
                                                svg)}
    assert set(ticks) == {"0", "1"} and ticks["0"] > ticks["1"]
    base = float(re.search(r'class="axis-line"[^>]* y1="([\d.]+)"', svg).group(1))
    assert abs(ticks["0"] - charts.TEXT * 0.35 - base) < 1       # 0 sits on the axis, not a gridline above it
    assert "intervals" in svg


def test_the_trend_has_y_values_and_says_what_it_counts():
    from web import charts
    svg = charts.trend([("11-28", 12.0), ("11-29", 31.0), ("11-30", 8.5)], 12.0, 15.0)
    values = [t for t, _ in _labels(svg) if t.isdigit()]
    assert values[0] == "0" and len(values) >= 3 and "per hour in bed" in svg


def test_the_timeline_labels_do_not_crowd_on_a_phone():
    from web import charts
    svg = charts.timeline([], [], [{"in_s": 0, "out_s": 9 * 3600}], 0, 9 * 3600, 22 * 3600)
    clocks = sorted(float(x) for x in re.findall(r'<text class="axis" x="([\d.]+)"', svg))
    gaps = [b - a for a, b in zip(clocks, clocks[1:])]
    assert clocks and min(gaps) >= 5 * charts.CHAR_W + charts.CHAR_W   # "23:00" and a space


def test_a_short_night_shows_no_rate_and_says_why(tmp_path):
    build_db(tmp_path / "k.db", nights=1, hours=0.5).close()
    c = create_app(tmp_path / "k.db", web_config(tmp_path), testing=True).test_client()
    html = c.get("/").get_data(as_text=True)
    assert 'id="not-measured"' in html and "needs at least 60 minutes in bed" in html
    assert 'id="plmi"' not in html and "under 15/h" not in html
    assert c.get("/api/night/last").get_json()["summary"]["plmi"] is None


def test_the_presenter_names_a_busiest_hour_only_when_one_stands_out():
    from web.presenter import _busiest
    assert _busiest([("23:00", 104), ("00:00", 103)]) is None              # a tie names no hour
    assert _busiest([("23:00", 3), ("00:00", 1)]) is None                  # a handful is no busy hour
    assert _busiest([("23:00", 40), ("00:00", 12)]) == {"from": "23:00", "count": 40}


def test_the_trend_shows_the_nights_of_the_days_asked_for():
    from web.presenter import present_trend
    nights = [{"date": "2026-10-25", "plmi": 25.0}] + [{"date": f"2026-11-{d:02d}", "plmi": float(d)}
                                                       for d in (2, 20, 29, 30)]
    t = present_trend(nights, 30)
    assert t["count"] == 4 and t["until"] == "2026-11-30" and t["median"] == 24.5 and t["above"] == 3
    assert present_trend([], 30)["count"] == 0
