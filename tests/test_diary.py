"""The evening diary: ticked on the page, stored by the daemon, nights compared by it; and a night
beside the nights before it."""
from __future__ import annotations

import html
import re

import pytest
from werkzeug.security import generate_password_hash

from appliance.daemon import apply_requests
from appliance.diary import Entry, compare, shuffled_chance
from appliance.store import Store
from tests.webfixtures import build_nights, web_config
from web.app import create_app

# twelve nights: the last six with a high PLMI
SHARES = [0.3, 0.25, 0.35, 0.3, 0.28, 0.33, 0.9, 0.95, 1.0, 0.85, 0.92, 0.97]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    d = tmp_path_factory.mktemp("diary")
    cfg = web_config(d)
    (d / "pin").write_text(generate_password_hash("2468"))
    build_nights(d / "k.db", SHARES, cfg).close()
    return d, cfg


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_no_difference_is_what_chance_gives_every_time():
    assert shuffled_chance([10.0, 11.0, 12.0], [10.0, 11.0, 12.0]) == 1.0


def test_nights_apart_by_far_are_rarely_split_so_by_chance():
    # five against five, all 252 splits: the two extreme ones, and those that swap only nights away
    # from the middle (the medians stay), differ as much: 12 of 252
    assert shuffled_chance([10, 11, 12, 13, 14], [40, 41, 42, 43, 44]) == pytest.approx(12 / 252)
    # three against three cannot show it, however far apart: too many of 20 splits are as extreme
    assert shuffled_chance([10, 11, 12], [40, 41, 42]) > 0.05


def test_a_factor_is_compared_only_with_enough_nights_on_both_sides():
    plmi = [5, 6, 7, 30, 31, 32, 33, 8, 34, 9]
    nights = [{"date": f"2026-11-{d:02d}", "plmi": p} for d, p in zip(range(1, 11), plmi)]
    entries = {n["date"]: Entry(n["date"], ticked={"alcohol"} if n["plmi"] > 20 else set()) for n in nights}
    entries["2026-11-08"].ticked.add("caffeine")
    by = {c.factor: c for c in compare(nights, entries)}
    assert by["alcohol"].enough and by["alcohol"].chance < 0.05
    said = by["alcohol"].sentence()
    assert "higher" in said and "more than night-to-night variation" in said and "p =" not in said
    assert not by["caffeine"].enough and by["caffeine"].sentence().startswith("Not enough nights yet: 1 with")


def test_the_diary_is_saved_through_the_daemon_with_the_pin(home):
    d, cfg = home
    client = create_app(d / "k.db", cfg, testing=True).test_client()
    page = client.get("/diary").get_data(as_text=True)
    assert 'name="ticked" value="alcohol"' in page and 'name="pin"' in page
    date = re.search(r'name="date" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf(page), "date": date, "ticked": ["alcohol", "medicine"], "note": "new antihistamine"}
    assert client.post("/diary", data={**form, "pin": "1111"}).status_code == 403
    r = client.post("/diary", data={**form, "pin": "2468"})
    assert r.status_code == 200 and "stores it within a minute" in r.get_data(as_text=True)
    store = Store(d / "k.db")
    assert apply_requests(store, cfg.web.requests_dir) == 1
    store.flush()
    row = store.diary()[0]
    assert (row["date"], row["alcohol"], row["medicine"], row["caffeine"], row["note"]) == (date, 1, 1, 0,
                                                                                          "new antihistamine")
    store.close()
    page = client.get("/diary").get_data(as_text=True)
    assert re.search(r'value="alcohol" checked', page) and "new antihistamine" in page
    assert 'name="pin"' not in page                       # this phone gave the PIN once
    assert client.post("/diary", data={**form, "ticked": ["caffeine"]}).status_code == 200


@pytest.mark.parametrize("form,code,words", [
    ({"ticked": ["whisky"]}, 400, "Unknown diary item 'whisky'"),
    ({"note": "x" * 400}, 400, "keep it under 300"),
])
def test_a_bad_diary_entry_is_named_and_nothing_is_left(home, form, code, words):
    d, cfg = home
    client = create_app(d / "k.db", cfg, testing=True).test_client()
    page = client.get("/diary").get_data(as_text=True)
    before = sorted((d / "requests").glob("*.json")) if (d / "requests").exists() else []
    r = client.post("/diary", data={"csrf": csrf(page), "pin": "2468", **form})
    assert r.status_code == code and words in html.unescape(r.get_data(as_text=True))
    after = sorted((d / "requests").glob("*.json")) if (d / "requests").exists() else []
    assert after == before


def test_a_bad_date_in_the_diary_url_is_400(home):
    d, cfg = home
    r = create_app(d / "k.db", cfg, testing=True).test_client().get("/diary?date=2026-02-30")
    assert r.status_code == 400


def test_the_diary_page_compares_nights_with_alcohol_and_without(home, tmp_path):
    d, cfg = home
    store = Store(d / "k.db")
    for row in store.nights():
        store.save_diary(Entry(row["date"], "", {"alcohol"} if row["plmi"] > 30 else set()).as_row(), 0.0)
    store.flush()
    plmis = sorted(r["plmi"] for r in store.nights())
    store.close()
    assert plmis[5] < 30 < plmis[6]
    page = create_app(d / "k.db", cfg, testing=True).test_client().get("/diary").get_data(as_text=True)
    alcohol = re.search(r'<li id="factor-alcohol">(.*?)</li>', page, re.S).group(1)
    assert "On the 6 nights with alcohol the PLMI was higher" in alcohol
    assert "more than night-to-night variation" in alcohol
    exercise = re.search(r'<li id="factor-exercise">(.*?)</li>', page, re.S).group(1)
    assert "Not enough nights yet: 0 with exercise" in exercise


def test_last_night_beside_the_nights_before_it(home):
    d, cfg = home
    page = create_app(d / "k.db", cfg, testing=True).test_client().get("/").get_data(as_text=True)
    usual = re.search(r'<p id="usual">(.*?)</p>', page, re.S).group(1)
    # the last night is among the six high ones, and the 11 before it hold five of them: above the middle half
    assert "median of the 11 nights before this one" in usual
    assert re.match(r"<strong>(Higher than|Lower than|About) your usual\.</strong>", usual)
    assert len(re.findall(r'<rect class="mark', page)) == len(SHARES)
    assert 'mark high current' in page


def test_too_few_nights_to_say_what_is_usual(tmp_path):
    cfg = web_config(tmp_path)
    build_nights(tmp_path / "k.db", [0.5, 0.6, 0.7], cfg).close()
    page = create_app(tmp_path / "k.db", cfg, testing=True).test_client().get("/").get_data(as_text=True)
    assert "Too few nights before this one to say what is usual for you: 2 so far" in page


def test_a_report_before_any_night_is_recorded_says_why(tmp_path):
    client = create_app(tmp_path / "none.db", web_config(tmp_path), testing=True).test_client()
    r = client.get("/report?from=2026-11-01&to=2026-11-30")
    assert r.status_code == 200 and "There are none in this range" in r.get_data(as_text=True)
    assert client.get("/report?from=2026-11-30&to=2026-11-01").status_code == 400


def test_each_partner_sees_their_night_beside_their_own_usual(tmp_path):
    cfg = web_config(tmp_path)
    build_nights(tmp_path / "k.db", SHARES, cfg, sleepers=("Sam", "Alex")).close()
    page = create_app(tmp_path / "k.db", cfg, testing=True).test_client().get("/").get_data(as_text=True)
    for name in ("Sam", "Alex"):
        assert re.search(rf"(Higher than|Lower than|About) {name}'s usual \(\d+\.\d/h over the 11 nights before\)", page)
