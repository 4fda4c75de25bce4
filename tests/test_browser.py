"""The dashboard in real headless Chromium (Debian's), served by the real WSGI server.

Phone (390x844) and desktop viewports; screenshots go to test-artifacts/.
"""
from __future__ import annotations

import pytest

from appliance.nights import stored_night
from tests.conftest import ARTIFACTS
from tests.webfixtures import build_db, dashboard

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    store = build_db(d / "k.db", nights=4)
    last = stored_night(store)
    store.close()
    cfgfile = d / "k.toml"
    cfgfile.write_text(f'[web]\nrequests_dir = "{d}/req"\nsecret_file = "{d}/secret"\npin_file = "{d}/pin"\n')
    with dashboard(d / "k.db", cfgfile) as base:
        yield base, last


def open_page(browser, base, path, viewport, requests):
    page = browser.new_page(viewport=viewport)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(base + path)
    return page


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport,label", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_home_page_reads_right(server, browser, viewport, label):
    base, last = server
    requests = []
    page = open_page(browser, base, "/", viewport, requests)
    s = last["summary"]
    assert page.inner_text("#lm-count") == str(s["lm_count"])
    assert page.inner_text("#plm-count") == str(s["plm_count"])
    assert page.inner_text("#plmi") == f"{s['plmi']:.1f}"
    assert page.locator("svg.timeline .tick").count() == len(last["movements"])
    assert page.locator("svg.timeline .tick.periodic").count() == s["plm_count"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"horizontal scroll on the {label}: {width}px"
    assert all(u.startswith(base) for u in requests), [u for u in requests if not u.startswith(base)]
    shot(page, f"home-{label}")
    page.close()


@pytest.mark.parametrize("path,name", [("/nights", "nights"), ("/nights?days=90", "trend-90"),
                                       ("/status", "status")])
@pytest.mark.parametrize("viewport,label", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_other_pages_fit_and_stay_local(server, browser, path, name, viewport, label):
    base, _ = server
    requests = []
    page = open_page(browser, base, path, viewport, requests)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert all(u.startswith(base) for u in requests)
    shot(page, f"{name}-{label}")
    page.close()


def test_a_night_opens_by_its_date_from_the_list(server, browser):
    base, last = server
    page = open_page(browser, base, "/nights", PHONE, [])
    page.click(f"a[href='/night/{last['night']['date']}']")
    assert page.url.endswith(f"/night/{last['night']['date']}")
    assert page.inner_text("#lm-count") == str(last["summary"]["lm_count"])
    page.close()


def test_print_page_for_the_doctor(server, browser):
    base, last = server
    page = open_page(browser, base, f"/night/{last['night']['date']}/print", DESKTOP, [])
    page.emulate_media(media="print")
    assert page.locator("svg.timeline").count() == 1
    assert not page.locator("header nav").is_visible()
    assert "WASM/IRLSSG" in page.inner_text("main")
    shot(page, "print")
    page.close()


def test_works_with_javascript_off(server, browser):
    base, last = server
    ctx = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = ctx.new_page()
    page.goto(base + "/?theme=light")
    assert page.inner_text("#lm-count") == str(last["summary"]["lm_count"])
    shot(page, "home-phone-light-nojs")
    ctx.close()


@pytest.mark.parametrize("path", ["/", "/nights"])
@pytest.mark.parametrize("viewport,label", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_chart_text_is_readable_as_rendered(server, browser, path, viewport, label):
    base, _ = server
    page = open_page(browser, base, path, viewport, [])
    sizes = page.evaluate("""() => [...document.querySelectorAll('svg.chart text')].map(t =>
        [t.textContent, parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a])""")
    assert len(sizes) >= 5
    small = [(text, round(px, 1)) for text, px in sizes if px < 12]
    assert small == [], f"chart text under 12 px on the {label}: {small[:5]}"
    assert max(px for _, px in sizes) < 24, f"chart text blown up on the {label}"
    page.close()


def test_two_sleepers_nights_stand_side_by_side_on_a_phone(browser, tmp_path):
    import datetime as dt

    from appliance.config import load_config
    from appliance.daemon import Daemon
    from appliance.store import Store
    from sensor.replay import ReplaySource
    from tests.test_sleepers import couple

    cfgfile = tmp_path / "k.toml"
    cfgfile.write_text(f'[source]\nchannels = [0, 1]\nsleepers = ["Sam", "Alex"]\n[web]\nrequests_dir = "{tmp_path}/req"\n'
                       f'secret_file = "{tmp_path}/secret"\npin_file = "{tmp_path}/pin"\n')
    store = Store(tmp_path / "k.db")
    rec, _ = couple(1.5, 3, 0.35, 12.0)
    rec.start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time(22, 30)).astimezone()
    Daemon(load_config(cfgfile), ReplaySource(rec, speed="max"), store, source_name="test", finite=True).run()
    store.close()
    with dashboard(tmp_path / "k.db", cfgfile) as base:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{base}/")
        sam, alex = (page.locator(f"#sleeper-{k}").bounding_box() for k in range(2))
        assert abs(sam["y"] - alex["y"]) < 1 and sam["x"] + sam["width"] <= alex["x"]   # side by side
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]    # no sideways scrolling
        assert "Sam" in page.locator("#sleeper-0 h2").inner_text() and "Alex" in page.locator("#sleeper-1 h2").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "two-sleepers-phone.png"), full_page=True)
        page.locator("#sleeper-1 a").click()
        assert "Alex · " in page.locator(".when").inner_text()
        page.close()
