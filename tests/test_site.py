"""The deck's static site: golden pages, nothing live from a bank, and in real Chromium (Debian's,
driven by its ChromeDriver through Selenium, from `file://` with no server): search, permanent
card addresses, study mode by keyboard, dark mode, a phone's width, accessibility, the console,
and every request a page makes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver import ActionChains, Chrome, ChromeOptions, ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from deckgen.build import build
from tests.conftest import FIXTURES, GOLDEN, check_golden, release_v2
from tests.hostile import hostile_bank
from tests.inert import assert_inert_site_page
from tests.system_tools import axe_core, chromedriver, chromium


@pytest.fixture
def site(tmp_path: Path, epoch: Callable[[int], None]) -> Path:
    """The mini bank's site, at its second release (one question retired)."""
    bank = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", bank)
    release_v2(bank)
    epoch(1_700_000_000)
    build(bank, tmp_path / "out")
    return tmp_path / "out" / "site"


def test_the_site_has_a_page_per_topic_a_permanent_address_and_its_assets(site: Path) -> None:
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == [
        "assets/minisearch.js",
        "assets/pages.js",
        "assets/search-index.js",
        "assets/site.css",
        "assets/site.js",
        "attention/scaled-attention.html",
        "index.html",
        "peft/lora-vs-adapter.html",
        "q/index.html",
    ]


@pytest.mark.parametrize("page", ["index.html", "attention/scaled-attention.html", "q/index.html", "assets/pages.js", "assets/search-index.js"])
def test_the_site_matches_golden(site: Path, page: str) -> None:
    check_golden(GOLDEN / ("site-" + page.replace("/", "-")), (site / page).read_text(encoding="utf-8"))


def test_nothing_from_a_bank_becomes_live_in_the_site_and_nothing_loads_from_elsewhere(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    bank = hostile_bank(Path("q"), {})
    build(bank, Path("out"))
    pages = sorted(Path("out/site").rglob("*.html"))
    assert len(pages) == 3
    for page in pages:
        assert_inert_site_page(page.read_text(encoding="utf-8"))
    index = Path("out/site/assets/search-index.js").read_text(encoding="utf-8")
    assert "<" not in index  # JSON with `<` escaped: no text of it can end a script


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Debian's Chromium, driven by its ChromeDriver through Selenium: headless, offline, and
    logging the console and every request the page makes."""
    options = ChromeOptions()
    options.binary_location = chromium()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = Chrome(options=options, service=ChromeService(executable_path=chromedriver()))
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: WebDriver, url: str) -> None:
    """Open `url` afresh (a new document, even when only its fragment differs), forgetting the
    logs of what came before, and wait until its scripts have run."""
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _requests(driver: WebDriver) -> list[str]:
    """Every URL the page has requested since it was opened, as DevTools saw it."""
    events = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]


def _console(driver: WebDriver) -> list[str]:
    """The console messages and uncaught errors of the page since it was opened."""
    return [entry["message"] for entry in driver.get_log("browser")]


def _in_view(driver: WebDriver, element_id: str) -> bool:
    """Whether the element's top is on screen, scrolled to (the page does not start there)."""
    script = "const r = document.getElementById(arguments[0]).getBoundingClientRect(); return [r.top, window.innerHeight, window.scrollY];"
    top, height, scrolled = driver.execute_script(script, element_id)
    return bool(0 <= top < height and scrolled > 0)


@pytest.mark.slow
def test_search_finds_a_card_by_a_word_of_its_answer_and_opens_it(site: Path, browser: WebDriver) -> None:
    browser.set_window_size(800, 300)  # short, so that opening a card must scroll to it
    _open(browser, (site / "index.html").as_uri())
    browser.find_element(By.ID, "q").send_keys("flat")  # a word of why-scale's answer only
    results = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results a"))
    assert [a.get_attribute("href") for a in results] == [(site / "attention" / "scaled-attention.html").as_uri() + "#why-scale"]
    results[0].click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("scaled-attention.html#why-scale"))
    assert _in_view(browser, "why-scale")


@pytest.mark.slow
def test_a_permanent_address_opens_its_card_and_a_retired_one_says_why(site: Path, browser: WebDriver) -> None:
    browser.set_window_size(800, 300)
    short = (site / "q" / "index.html").as_uri()
    _open(browser, short + "#lora-code")
    WebDriverWait(browser, 10).until(lambda d: d.current_url == (site / "peft" / "lora-vs-adapter.html").as_uri() + "#lora-code")
    assert browser.title == "LoRA vs Adapter · Mini Deck" and _in_view(browser, "lora-code")
    _open(browser, short + "#lora-adapter/where")  # a compare row's card, by its ID in Anki
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("lora-vs-adapter.html#lora-adapter"))
    _open(browser, short + "#hostile")
    assert browser.current_url == short + "#hostile"
    assert browser.find_element(By.ID, "where").text == "This card was retired (hostile): Superseded by the safety tests."


@pytest.mark.slow
def test_study_mode_hides_the_answers_and_reveals_them_by_keyboard(site: Path, browser: WebDriver) -> None:
    browser.set_window_size(1000, 800)
    _open(browser, (site / "attention" / "scaled-attention.html").as_uri())
    backs = browser.find_elements(By.CSS_SELECTOR, ".card .back")

    def shown() -> list[bool]:
        return [back.is_displayed() for back in backs]

    assert shown() == [True, True, True]  # a page to read, at first
    browser.find_element(By.CSS_SELECTOR, "label[for=study], #study").click()
    assert shown() == [False, False, False]
    keys = ActionChains(browser)
    keys.send_keys(Keys.SPACE).perform()  # space reveals the current card
    assert shown() == [True, False, False]
    keys.send_keys(Keys.ARROW_DOWN).send_keys(Keys.SPACE).perform()  # an arrow moves on
    assert shown() == [True, True, False]
    assert browser.switch_to.active_element.get_attribute("id") == "formula"
    keys.send_keys(Keys.ARROW_UP).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "why-scale"


def _background(driver: WebDriver) -> str:
    return str(driver.execute_script("return getComputedStyle(document.body).backgroundColor"))


@pytest.mark.slow
def test_the_site_follows_the_systems_dark_theme(site: Path, browser: WebDriver) -> None:
    page = (site / "index.html").as_uri()
    try:
        for scheme, background in (("light", "rgb(255, 255, 255)"), ("dark", "rgb(13, 17, 23)")):
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
            _open(browser, page)
            assert _background(browser) == background, scheme
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def _axe_violations(driver: WebDriver, page: Path) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on `page`."""
    _open(driver, page.as_uri())
    driver.execute_script(axe_core().read_text(encoding="utf-8"))
    script = (
        "const done = arguments[arguments.length - 1];"
        'axe.run(document, {resultTypes: ["violations"]}).then(r => done(r.violations'
        '.filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id)));'
    )
    driver.set_script_timeout(60)
    return list(driver.execute_async_script(script))


@pytest.mark.slow
def test_the_site_passes_an_accessibility_check(site: Path, browser: WebDriver) -> None:
    for width in (1280, 360):  # a desktop, and a phone
        browser.set_window_size(width, 800)
        for page in sorted(site.rglob("*.html")):
            assert _axe_violations(browser, page) == [], (page, width)
    # The check sees what it should: an unlabelled field and an image without a text.
    control = site / "control.html"
    control.write_text('<!doctype html><html lang="en"><title>c</title><body><main><input type="text"><img src="data:image/png;base64,AA=="></main></body></html>', encoding="utf-8")
    assert sorted(_axe_violations(browser, control)) == ["image-alt", "label"]


@pytest.mark.slow
def test_every_page_fits_a_phone_screen(site: Path, browser: WebDriver) -> None:
    """At 360 CSS pixels no page scrolls sideways as a whole (a wide formula or table scrolls in its own box)."""
    metrics = {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True}
    overflow = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    try:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        control = site / "control.html"
        control.write_text('<!doctype html><meta name="viewport" content="width=device-width"><body><div style="width:500px">x</div></body>', encoding="utf-8")
        _open(browser, control.as_uri())
        assert browser.execute_script(overflow) > 0  # the measure sees a page too wide
        control.unlink()
        for page in sorted(site.rglob("*.html")):
            _open(browser, page.as_uri())
            assert browser.execute_script("return window.innerWidth") == 360
            assert browser.execute_script(overflow) == 0, page
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.slow
def test_every_page_loads_with_no_console_message_and_nothing_from_outside_its_folder(site: Path, browser: WebDriver) -> None:
    # The controls: the logs see a load from elsewhere, and an uncaught error.
    control = site / "control.html"
    control.write_text('<!doctype html><body><img src="https://example.org/x.png" alt="x"><script>null.x;</script></body>', encoding="utf-8")
    _open(browser, control.as_uri())
    assert "https://example.org/x.png" in _requests(browser)
    assert any("Uncaught TypeError" in message for message in _console(browser))
    control.unlink()
    requested = {}
    for page in sorted(site.rglob("*.html")):
        _open(browser, page.as_uri() + "?q=attention")  # with a search, so that its index loads too
        requested[page.relative_to(site).as_posix()] = _requests(browser)
        assert _console(browser) == [], page
    for page, urls in requested.items():
        assert all(url.startswith((site.as_uri() + "/", "data:image/")) for url in urls), (page, urls)
    assert sorted(url.removeprefix(site.as_uri()) for url in requested["index.html"]) == [
        "/assets/minisearch.js",
        "/assets/search-index.js",
        "/assets/site.css",
        "/assets/site.js",
        "/index.html?q=attention",
    ]


def test_a_subset_build_writes_the_site_of_its_subset(tmp_path: Path, epoch: Callable[[int], None]) -> None:
    from deckgen.selection import Selection

    bank = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", bank)
    epoch(1_700_000_000)
    build(bank, tmp_path / "out", selection=Selection(topics=("lora-vs-adapter",)))
    site = tmp_path / "out" / "site"
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")) == ["index.html", "peft/lora-vs-adapter.html", "q/index.html"]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<li>Fine-Tuning <span class="count">(3 cards)</span><ol><li><a href="peft/lora-vs-adapter.html">LoRA vs Adapter</a></li></ol></li>' in index
    assert "Attention" not in index


def test_the_search_index_is_the_same_made_from_the_cache_or_without_one(site: Path) -> None:
    """The index is written a topic at a time; made without a build's cache, it is the same text."""
    from deckgen.load import load_bank
    from deckgen.outline import outline
    from deckgen.selection import Selection, handout_title, select
    from deckgen.site import search_script

    bank = load_bank(site.parent.parent / "mini")
    chosen = select(bank, Selection())
    made = "".join(search_script(chosen, bank, outline(chosen, bank, handout_title(bank, Selection())), None))
    assert made == (site / "assets/search-index.js").read_text(encoding="utf-8")
    assert made == (GOLDEN / "site-assets-search-index.js").read_text(encoding="utf-8")
    # A rebuild reads every topic's documents back from the cache: the same text again.
    (site / "assets/search-index.js").unlink()
    build(bank.root, site.parent)
    assert (site / "assets/search-index.js").read_text(encoding="utf-8") == made


def test_pages_js_and_the_card_counts_are_the_same_made_a_topic_at_a_time_in_a_watch(site: Path, tmp_path: Path) -> None:
    """A watch keeps each topic's entries of `assets/pages.js` and its card count from build to
    build: the same text as made whole, build after build, and made whole again should two
    topics name one card (which a bank that passed its checks never does)."""
    from dataclasses import replace

    from deckgen.cache import BuildCache, Resident
    from deckgen.load import load_bank
    from deckgen.outline import outline
    from deckgen.selection import Selection, handout_title
    from deckgen.site import index_page, pages_script

    bank = load_bank(site.parent.parent / "mini")
    golden = (GOLDEN / "site-assets-pages.js").read_text(encoding="utf-8")
    shown = outline(bank, bank, handout_title(bank, Selection()))
    index = index_page(bank, shown, "", [], [])
    assert pages_script(bank, bank) == golden
    resident = Resident()
    for _ in range(2):
        cache = BuildCache(tmp_path, resident=resident)
        assert pages_script(bank, bank, cache) == golden
        assert index_page(bank, shown, "", [], [], cache) == index
        resident.sweep(True)
    assert resident.derived_count == len(bank.topics) + sum(bool(t.questions) for t in bank.topics)
    # The first topic again, after the others: each of its cards named twice.
    twice = replace(bank, topics=(*bank.topics, bank.topics[0]))
    whole = pages_script(twice, twice)
    assert whole == golden
    assert pages_script(twice, twice, BuildCache(tmp_path, resident=resident)) == whole
