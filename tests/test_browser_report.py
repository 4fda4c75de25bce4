"""Many nights in real headless Chromium, served by the real WSGI server: the night beside the ones
before it, the evening diary ticked on a phone, and the doctor's report printed to PDF on A4 and
Letter, its first page read back. Screenshots at 390 and 1280 px go to test-artifacts/."""
from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata

import pytest
from pypdf import PdfReader
from werkzeug.security import generate_password_hash

from appliance.daemon import apply_requests
from appliance.store import Store
from tests.conftest import ARTIFACTS
from tests.test_browser import DESKTOP, PHONE, open_page, shot
from tests.webfixtures import build_nights, dashboard

NIGHTS = 30
SHARES = [0.3 + 0.7 * ((k * 7) % 10) / 10 for k in range(NIGHTS)]


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    d = tmp_path_factory.mktemp("many")
    build_nights(d / "k.db", SHARES).close()
    (d / "pin").write_text(generate_password_hash("2468"))
    cfgfile = d / "k.toml"
    cfgfile.write_text(f'[web]\nrequests_dir = "{d}/req"\nsecret_file = "{d}/secret"\npin_file = "{d}/pin"\n')
    with dashboard(d / "k.db", cfgfile) as base:
        yield base, d


def span(nights: int) -> str:
    today = dt.date.today()
    return f"from={today - dt.timedelta(days=nights)}&to={today - dt.timedelta(days=1)}"


@pytest.mark.parametrize("viewport,label", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_home_page_sets_last_night_beside_the_usual(many, browser, viewport, label):
    base, _ = many
    page = open_page(browser, base, "/", viewport, [])
    usual = page.inner_text("#usual")
    assert re.match(r"(Higher than|Lower than|About) your usual\.", usual)
    assert "median of the 14 nights before this one" in usual
    assert page.locator("svg.strip rect").count() == NIGHTS
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    shot(page, f"home-context-{label}")
    page.close()


@pytest.mark.parametrize("viewport,label", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_diary_is_ticked_on_a_phone_and_stored_by_the_daemon(many, browser, viewport, label):
    base, d = many
    page = open_page(browser, base, "/diary", viewport, [])
    shot(page, f"diary-{label}")
    page.check("input[value=alcohol]")
    page.check("input[value=medicine]")
    page.fill("textarea[name=note]", "cetirizine from today")
    page.fill("input[name=pin]", "2468")
    page.click("button[type=submit]")
    assert "stores it within a minute" in page.inner_text("main")
    page.close()
    store = Store(d / "k.db")
    assert apply_requests(store, str(d / "req")) == 1
    store.flush()
    row = store.diary()[0]
    store.close()
    assert (row["alcohol"], row["medicine"], row["caffeine"], row["note"]) == (1, 1, 0, "cetirizine from today")


def pdf_of(page, paper: str) -> PdfReader:
    page.emulate_media(media="print")
    data = page.pdf(format=paper, print_background=False)
    ARTIFACTS.mkdir(exist_ok=True)
    return PdfReader(io.BytesIO(data))


def text_of(pdf_page) -> str:
    """A PDF page's text, ligatures (the 'ff' of 'effort' is one glyph) made letters again."""
    return unicodedata.normalize("NFKC", pdf_page.extract_text())


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("nights", [7, 30])
def test_the_report_prints_and_its_first_page_says_what_a_doctor_needs(many, browser, paper, nights, capsys):
    base, _ = many
    page = open_page(browser, base, f"/report?{span(nights)}", DESKTOP, [])
    assert page.inner_text("#night-count") == str(nights)
    words_on_page = set(re.findall(r"[A-Za-z]{4,}", page.inner_text("body")))
    pdf = pdf_of(page, paper)
    page.close()
    first = text_of(pdf.pages[0])
    flat = " ".join(first.split())
    assert f"{nights} nights recorded" in flat
    for said in ("PLMI", "Median", "Middle half", "WASM/IRLSSG 2016", "per hour in bed", "not a diagnosis",
                 "not EMG", "Breathing pauses per hour", "Heart rate", "Periodicity index", "Time in bed"):
        assert said in flat, said
    assert "Night by night" not in flat                   # the first page is the summary, whole
    for k, p in enumerate(pdf.pages):                      # no word cut in two at a line's end
        for word in re.findall(r"[A-Za-z]{4,}", text_of(p)):
            assert word in words_on_page or word.lower() in {w.lower() for w in words_on_page}, (k, word)
    with capsys.disabled():
        print(f"\n  the report of {nights} nights on {paper}: {len(pdf.pages)} pages")


def test_a_report_of_fewer_than_five_nights_says_why(many, browser):
    base, _ = many
    page = open_page(browser, base, f"/report?{span(3)}", PHONE, [])
    assert "needs at least 5" in page.inner_text("#too-few") and "only 3" in page.inner_text("#too-few")
    page.close()


@pytest.mark.parametrize("viewport,label", [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_report_reads_on_a_screen_too(many, browser, viewport, label):
    base, _ = many
    page = open_page(browser, base, f"/report?{span(30)}", viewport, [])
    assert page.locator("#per-night tbody tr").count() == 30
    shot(page, f"report-{label}")
    page.close()
