"""The morning page for two: each partner's night by name, side by side; lists, exports and API per sleeper."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from appliance.daemon import Daemon
from appliance.nights import stored_pair
from appliance.store import Store
from sensor.replay import ReplaySource
from tests.test_sleepers import couple
from tests.webfixtures import web_config
from web.app import create_app

NAMES = ["Sam", "Alex"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("web2")
    cfg = web_config(d)
    cfg.source.channels, cfg.source.sleepers = [0, 1], list(NAMES)
    store = Store(d / "k.db")
    rec, _ = couple(1.5, 3, 0.35, 12.0)
    rec.start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time(22, 30)).astimezone()
    Daemon(cfg, ReplaySource(rec, speed="max"), store, source_name="test", finite=True).run()
    pair = stored_pair(store, NAMES)
    store.close()
    return create_app(d / "k.db", cfg, testing=True), pair


@pytest.fixture
def client(env):
    return env[0].test_client()


def test_home_shows_both_nights_by_name_side_by_side(client, env):
    _, (sam, alex) = env
    page = client.get("/").get_data(as_text=True)
    pair = page[page.index('id="pair"'):page.index('id="after-other"')]
    assert "<h2>Sam</h2>" in pair and "<h2>Alex</h2>" in pair and pair.index("Sam") < pair.index("Alex")
    for night, k in ((sam, 0), (alex, 1)):
        card = pair[pair.index(f'id="sleeper-{k}"'):]
        assert f'<span class="lm">{night["summary"]["lm_count"]}</span>' in card[:800]


def test_the_page_says_in_plain_words_who_moved_after_whom_and_claims_no_waking(client, env):
    _, (sam, alex) = env
    page = client.get("/").get_data(as_text=True)
    s = alex["summary"]
    expected = round(s["after_other_expected"]) if s["after_other_expected"] >= 1 else s["after_other_expected"]
    assert (f"Alex moved <strong>{s['after_other_count']}</strong> times within 10 s after one of Sam's movements; "
            f"chance alone would give about {expected}.") in page
    assert "counts movements, not waking" in page
    assert "apnea" not in page.lower() and "disturbed" not in page.lower() and "woke up" not in page.lower()


def test_each_sleepers_own_night_lists_and_exports(client, env):
    _, (sam, alex) = env
    date = alex["night"]["date"]
    page = client.get(f"/night/{date}?sleeper=alex").get_data(as_text=True)
    assert f'<span id="lm-count">{alex["summary"]["lm_count"]}</span>' in page and "Alex · " in page
    assert "within 10 s after one of Sam's movements" in page
    listing = client.get("/nights?sleeper=Alex").get_data(as_text=True)
    assert "Nights · Alex" in listing and f"/night/{date}?sleeper=Alex" in listing
    csv = client.get(f"/night/{date}/movements.csv").get_data(as_text=True).splitlines()
    assert csv[0].startswith("sleeper,after_other,")
    assert sum(r.startswith("Sam,") for r in csv) == len(sam["movements"])
    assert sum(r.startswith("Alex,") for r in csv) == len(alex["movements"])
    one = client.get(f"/night/{date}/movements.csv?sleeper=Sam").get_data(as_text=True).splitlines()
    assert len(one) == len(sam["movements"]) + 1
    api = client.get("/api/night/last").get_json()
    assert [s["name"] for s in api["sleepers"]] == NAMES
    assert client.get("/api/night/last?sleeper=Alex").get_json()["summary"]["lm_count"] == alex["summary"]["lm_count"]
    printed = client.get(f"/night/{date}/print").get_data(as_text=True)
    assert "Sam: Night of" in printed and "Alex: Night of" in printed


def test_an_unknown_sleeper_is_a_clear_404(client):
    r = client.get("/nights?sleeper=Bob")
    assert r.status_code == 404
    assert "no sleeper called 'Bob' here; the sleepers are Sam and Alex" in html.unescape(r.get_data(as_text=True))
    r = client.get("/nights?sleeper=%3Cscript%3E")
    assert r.status_code == 404 and "<script>" not in r.get_data(as_text=True)


def test_one_strip_in_a_shared_bed_is_told_a_second_strip_is_the_reliable_answer(tmp_path):
    from tests.webfixtures import build_db

    cfg = web_config(tmp_path)
    cfg.detection.shared_bed = True
    build_db(tmp_path / "k.db", nights=1, cfg=cfg).close()
    page = create_app(tmp_path / "k.db", cfg, testing=True).test_client().get("/").get_data(as_text=True)
    note = re.search(r'id="bed-setup">(.*?)</p>', page, re.S).group(1)
    assert "one strip cannot tell them apart" in note and "second strip, under you, is the reliable answer" in note
