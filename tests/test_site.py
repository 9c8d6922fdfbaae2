"""The deck's static site: golden pages, nothing live from a bank, and in real Chromium (from
`file://`, with no server): search, permanent card addresses, study mode and dark mode."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest

from deckgen.build import build
from tests.conftest import FIXTURES, GOLDEN, check_golden, release_v2
from tests.hostile import hostile_bank
from tests.inert import assert_inert_site_page
from tests.system_tools import axe_core, chromium


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


@pytest.mark.parametrize("page", ["index.html", "attention/scaled-attention.html", "q/index.html", "assets/pages.js"])
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


def _dom(url: str, *flags: str) -> str:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000", *flags, "--dump-dom", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.slow
def test_search_finds_a_card_by_a_word_of_its_answer_and_opens_it(site: Path) -> None:
    dom = _dom((site / "index.html").as_uri() + "?q=flat")
    results = re.search(r'<ol id="results">(.*?)</ol>', dom)
    assert results is not None
    links = re.findall(r'<a href="([^"]+)">', results[1])
    assert links == ["attention/scaled-attention.html#why-scale"]
    page = _dom((site / links[0].split("#")[0]).as_uri())
    assert 'id="why-scale"' in page


@pytest.mark.slow
def test_a_permanent_address_opens_its_card_and_a_retired_one_says_why(site: Path) -> None:
    opened = _dom((site / "q" / "index.html").as_uri() + "#lora-code")
    assert "<title>LoRA vs Adapter · Mini Deck</title>" in opened and 'id="lora-code"' in opened
    row = _dom((site / "q" / "index.html").as_uri() + "#lora-adapter/where")  # a compare row's card, by its ID in Anki
    assert 'id="lora-adapter"' in row
    retired = _dom((site / "q" / "index.html").as_uri() + "#hostile")
    assert '<p id="where">This card was retired (hostile): Superseded by the safety tests.</p>' in retired


_STUDY_PROBE = """
<script>
document.addEventListener("DOMContentLoaded", () => setTimeout(() => {
  const shown = () => [...document.querySelectorAll(".card")].map(c => c.querySelector(".back").offsetParent !== null);
  const states = [shown()];
  const toggle = document.getElementById("study");
  toggle.click();
  states.push(shown());
  const key = k => document.dispatchEvent(new KeyboardEvent("keydown", {key: k, bubbles: true}));
  key(" ");
  states.push(shown());
  key("ArrowDown");
  key(" ");
  states.push(shown());
  states.push(document.activeElement.id);
  document.body.dataset.states = JSON.stringify(states);
}, 0));
</script>
"""


@pytest.mark.slow
def test_study_mode_hides_the_answers_and_reveals_them_by_keyboard(site: Path) -> None:
    page = site / "attention" / "scaled-attention.html"
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", _STUDY_PROBE + "</body>"), encoding="utf-8")
    dom = _dom(probed.as_uri())
    states = json.loads(unescape(re.search(r'data-states="([^"]*)"', dom)[1]))  # type: ignore[index]
    # Shown at first; hidden in study mode; space reveals the current card, an arrow moves on.
    assert states == [[True, True, True], [False, False, False], [True, False, False], [True, True, False], "formula"]


@pytest.mark.slow
def test_the_site_follows_the_systems_dark_theme(site: Path) -> None:
    page = site / "index.html"
    probed = page.with_name("probed.html")
    probe = '<script>document.addEventListener("DOMContentLoaded",()=>{document.body.dataset.bg=getComputedStyle(document.body).backgroundColor})</script>'
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", probe + "</body>"), encoding="utf-8")
    assert 'data-bg="rgb(255, 255, 255)"' in _dom(probed.as_uri())
    assert 'data-bg="rgb(13, 17, 23)"' in _dom(probed.as_uri(), "--force-dark-mode")


def _axe_violations(page: Path) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on `page`, in Chromium."""
    probe = (
        f'<script src="{axe_core().as_uri()}"></script><script>'
        'document.addEventListener("DOMContentLoaded", () => axe.run(document, {resultTypes: ["violations"]}).then(r => {'
        'document.body.dataset.axe = JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")'
        '.map(v => v.id));}));</script>'
    )
    probed = page.with_name(f"axe-{page.name}")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", probe + "</body>"), encoding="utf-8")
    try:
        found = re.search(r'data-axe="([^"]*)"', _dom(probed.as_uri(), "--virtual-time-budget=10000"))
    finally:
        probed.unlink()
    assert found is not None, "axe-core did not run"
    return list(json.loads(unescape(found[1])))


@pytest.mark.slow
def test_the_site_passes_an_accessibility_check(site: Path) -> None:
    for page in sorted(site.rglob("*.html")):
        assert _axe_violations(page) == [], page
    # The check sees what it should: an unlabelled field and an image without a text.
    control = site / "control.html"
    control.write_text('<!doctype html><html lang="en"><title>c</title><body><main><input type="text"><img src="data:image/png;base64,AA=="></main></body></html>', encoding="utf-8")
    assert sorted(_axe_violations(control)) == ["image-alt", "label"]


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


_RESOURCES_PROBE = (
    # What the page holds once loaded, scripts' additions included: every script, style sheet,
    # frame and image, by the absolute URL the browser resolved (file:// keeps no resource timings).
    '<script>window.addEventListener("load", () => { document.body.dataset.loaded = JSON.stringify(['
    '...[...document.scripts].filter(s => s.src).map(s => s.src), ...[...document.styleSheets].map(s => s.href), '
    '...[...document.images].map(i => i.currentSrc), ...[...document.querySelectorAll("iframe,embed,object,audio,video,source")].map(e => e.src || e.data)]); });</script>'
)


def _console(url: str) -> list[str]:
    """The console messages and uncaught errors of the page at `url`, as Chromium logs them."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000", "--enable-logging=stderr", "--v=0", "--dump-dom", url]
    log = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stderr
    return [line for line in log.splitlines() if ":CONSOLE" in line]


def _loaded(page: Path) -> list[str]:
    """What `page` loaded, by the probe."""
    probed = page.with_name(f"probed-{page.name}")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", _RESOURCES_PROBE + "</body>"), encoding="utf-8")
    try:
        found = re.search(r'data-loaded="([^"]*)"', _dom(probed.as_uri()))
    finally:
        probed.unlink()
    assert found is not None, page
    return list(json.loads(unescape(found[1])))


@pytest.mark.slow
def test_every_page_loads_with_no_console_message_and_nothing_from_outside_its_folder(site: Path) -> None:
    control = site / "control.html"
    control.write_text('<!doctype html><body><img src="https://example.org/x.png" alt="x"></body>', encoding="utf-8")
    assert _loaded(control) == ["https://example.org/x.png"]  # the probe sees a load from elsewhere
    control.unlink()
    noisy = site / "noisy.html"
    noisy.write_text("<!doctype html><body><script>null.x;</script></body>", encoding="utf-8")
    assert len(_console(noisy.as_uri())) == 1  # the log shows an uncaught error
    noisy.unlink()
    for page in sorted(site.rglob("*.html")):
        # As it is: Chromium logs every console message and uncaught error of the page.
        assert _console(page.as_uri() + "?q=attention") == [], page
        # With a probe: every resource the page loaded is a file of the site.
        loaded = _loaded(page)
        assert loaded and all(url.startswith((site.as_uri() + "/", "data:image/")) for url in loaded), (page, loaded)
