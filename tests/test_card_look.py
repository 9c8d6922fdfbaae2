"""How the shipped deck's cards look in Anki's real desktop reviewer, at a phone's width, in light and night mode.

Every card is read once in light mode (the session's `shipped` fixture, tests/shipped_deck.py); the cloze
and image cards and a few others are shown again in night mode here. The probe reads computed styles and
layout; the diagram is judged on screenshots, pixel by pixel.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deckgen.anki.notetypes import CLOZE_MODEL_NAME
from tests.anki_reviewer import Picture, read_png, render_cards
from tests.conftest import ROOT
from tests.shipped_deck import LOOK_PROBE, PHONE, Shipped

pytestmark = pytest.mark.slow

MIN_TARGET = 44
"""The smallest touch target, in CSS pixels: Apple's guideline and WCAG 2.5.5."""
MIN_GAP = 12
"""How far below the rest of the card the report link's hit box starts, in CSS pixels."""
SCROLL_BOXES = {"display math", "table", "code"}
"""What scrolls sideways in its own box when it is wider than a phone."""
FIELDS = {"dg-question", "dg-answer", "dg-extra"}
"""The fields, which scroll sideways only for an inline formula too long for a line."""
NIGHT_FILTER = "invert(0.9) hue-rotate(180deg)"


@dataclass(frozen=True)
class Side:
    """One side of one card as the look probe read it."""

    label: str
    cloze: bool
    answer: bool
    night: bool
    probe: dict[str, Any]


@dataclass(frozen=True)
class Night:
    """Some of the shipped cards shown again in night mode: their indices in `shipped`, views and screenshots."""

    indices: list[int]
    probes: list[tuple[dict[str, Any], dict[str, Any]]]
    shots: dict[int, Path]


@pytest.fixture(scope="module")
def night(shipped: Shipped, tmp_path_factory: pytest.TempPathFactory) -> Night:
    """Every cloze card, every card with an image and the first ten others, in night mode at a phone's width."""
    others = [i for i, kind in enumerate(shipped.note_types) if kind != CLOZE_MODEL_NAME][:10]
    clozes = [i for i, kind in enumerate(shipped.note_types) if kind == CLOZE_MODEL_NAME]
    indices = sorted(set(others + clozes + list(shipped.shots)))
    folder = tmp_path_factory.mktemp("night")
    shots = {indices.index(i): folder / f"card-{i}" for i in shipped.shots}
    cards = [shipped.inputs[i] for i in indices]
    views = render_cards(
        [(card.question, card.answer) for card in cards],
        night=True,
        ords=[card.ord for card in cards],
        media_dir=shipped.media_dir,
        viewport=PHONE,
        probe=LOOK_PROBE,
        screenshots=shots,
    )
    return Night(
        indices,
        [(view.question.probe, view.answer.probe) for view in views],
        {indices[position]: prefix for position, prefix in shots.items()},
    )


def light_sides(shipped: Shipped) -> Iterator[Side]:
    """Both sides of every shipped card, in light mode."""
    for index, label in enumerate(shipped.labels):
        question, answer = shipped.probes(index)
        cloze = shipped.note_types[index] == CLOZE_MODEL_NAME
        yield Side(f"{label} question", cloze, False, False, question)
        yield Side(f"{label} answer", cloze, True, False, answer)


def night_sides(shipped: Shipped, night: Night) -> Iterator[Side]:
    """Both sides of the cards shown in night mode."""
    for index, (question, answer) in zip(night.indices, night.probes, strict=True):
        cloze = shipped.note_types[index] == CLOZE_MODEL_NAME
        yield Side(f"{shipped.labels[index]} question (night)", cloze, False, True, question)
        yield Side(f"{shipped.labels[index]} answer (night)", cloze, True, True, answer)


def both_modes(shipped: Shipped, night: Night) -> Iterator[Side]:
    """Every side read in light mode, then those read in night mode."""
    yield from light_sides(shipped)
    yield from night_sides(shipped, night)


def colour(text: str) -> tuple[float, ...]:
    """A computed CSS colour, `rgb(r, g, b)` or `rgba(r, g, b, a)`, as (r, g, b, alpha)."""
    match = re.fullmatch(r"rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)", text)
    assert match, text
    return (*(float(part) for part in match.groups()[:3]), float(match.group(4) or 1))


def contrast(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    """The WCAG contrast ratio of two opaque colours (the first three channels, 0 to 255)."""

    def luminance(rgb: tuple[float, ...]) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_no_card_scrolls_sideways_on_a_phone(shipped: Shipped) -> None:
    wide, outside, cut = [], [], []
    for side in light_sides(shipped):
        scroll_width, client_width = side.probe["width"]
        if scroll_width > client_width:
            wide.append(f"{side.label}: {scroll_width} px wide in {client_width} px")
        outside += [f"{side.label}: {element}" for element in side.probe["outside"]]
        cut += [f"{side.label}: {box}" for box in side.probe["vertical"]]
    assert wide == []
    assert outside == []
    assert cut == [], "a box that scrolls sideways must not cut or scroll its content vertically"


def test_what_cannot_wrap_scrolls_in_its_own_box(shipped: Shipped) -> None:
    boxes: Counter[str] = Counter()
    problems = []
    for side in light_sides(shipped):
        for box in side.probe["scrolling"]:
            boxes[box["box"]] += 1
            if box["box"] in FIELDS:
                if box["cause"] != "inline math":
                    problems.append(f"{side.label}: {box['box']} scrolls for a {box['cause']}")
            elif box["box"] not in SCROLL_BOXES:
                problems.append(f"{side.label}: {box['box']} scrolls sideways")
    assert problems == []
    # The deck has display formulas and inline formulas wider than a phone: each scrolls in its own box.
    assert boxes["display math"] > 0 and sum(boxes[field] for field in FIELDS) > 0, boxes


def test_the_report_link_looks_like_a_link_and_is_easy_to_tap(shipped: Shipped, night: Night) -> None:
    problems = []
    answers = 0
    for side in both_modes(shipped, night):
        report = side.probe["report"]
        if not side.answer:
            if report is not None:
                problems.append(f"{side.label}: a report link on the front")
            continue
        answers += 1
        link, background = colour(report["color"]), colour(side.probe["background"])
        left, top, right, bottom = report["box"]
        if "underline" not in report["underline"]:
            problems.append(f"{side.label}: the link is not underlined ({report['underline']})")
        if any(link[:3] == colour(around)[:3] for around in report["around"]):
            problems.append(f"{side.label}: the link is {report['color']}, as the text around it {report['around']}")
        if contrast(link, background) < 4.5:
            problems.append(f"{side.label}: the link's contrast is {contrast(link, background):.1f}")
        if bottom - top < MIN_TARGET or right - left < MIN_TARGET:
            problems.append(f"{side.label}: the link's hit box is {right - left:.0f} x {bottom - top:.0f} px")
        if top - report["above"] < MIN_GAP:
            problems.append(f"{side.label}: the link's hit box starts {top - report['above']:.0f} px below the card's text")
    assert problems == []
    assert answers == len(shipped.labels) + len(night.indices)


def test_a_deletion_stands_out_on_both_sides_in_text_and_in_math(shipped: Shipped, night: Night) -> None:
    problems = []
    in_math: Counter[str] = Counter()
    for side in both_modes(shipped, night):
        marks = side.probe["marks"]
        if not side.cloze:
            continue
        active = [mark for mark in marks if mark["active"]]
        if not active:
            problems.append(f"{side.label}: no highlighted deletion")
        background = colour(side.probe["background"])
        for mark in marks:
            shown, tint, around = colour(mark["color"]), colour(mark["background"]), colour(mark["around"])
            if not mark["active"]:
                if shown[:3] != around[:3] or tint[3] != 0:
                    problems.append(f"{side.label}: deletion {mark['ordinal']}, not asked on this card, is highlighted")
                continue
            if shown[:3] == around[:3] or tint[3] == 0 or tint[:3] == background[:3]:
                problems.append(f"{side.label}: deletion {mark['text']!r} is {mark['color']} on {mark['background']}, as around it")
            if contrast(shown, tint) < 4.5:
                problems.append(f"{side.label}: deletion {mark['text']!r} has contrast {contrast(shown, tint):.1f}")
            if mark["math"]:
                in_math[("answer" if side.answer else "question") + (" (night)" if side.night else "")] += 1
                if mark["glyph"] != mark["color"]:
                    problems.append(f"{side.label}: the typeset glyphs of {mark['text']!r} are {mark['glyph']}, not {mark['color']}")
            blank = re.fullmatch(r"\[.*\]", mark["text"].strip()) is not None
            if blank == side.answer:
                problems.append(f"{side.label}: the highlighted deletion reads {mark['text']!r}")
    assert problems == []
    # The deck has deletions inside formulas: each is highlighted, blank and revealed, in both modes.
    assert min(in_math[key] for key in ("question", "answer", "question (night)", "answer (night)")) >= 3, in_math


def svg_script() -> ModuleType:
    """scripts/attention_masks.py, which draws the deck's diagram: its geometry says where each cell is."""
    spec = importlib.util.spec_from_file_location("attention_masks", ROOT / "scripts" / "attention_masks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def diagram_colours(picture: Picture, image: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """The colours on screen of a visible and a masked cell, of the space between panels, and of the title's
    most contrasting pixel, in the attention-mask diagram shown at `image["box"]`."""
    draw = svg_script()
    size = draw.CELL * len(draw.TOKENS)
    left, top, right, _ = image["box"]
    width = draw.LEFT + len(draw.PANELS) * (size + draw.GAP)
    scale = (right - left) / width

    def at(x: float, y: float) -> tuple[int, int, int]:
        return picture.pixel(left + x * scale, top + y * scale)

    def cell(panel: int, row: int, column: int) -> tuple[int, int, int]:
        x = draw.LEFT + panel * (size + draw.GAP) + column * draw.CELL + (draw.CELL - 2) / 2
        return at(x, draw.TOP + row * draw.CELL + (draw.CELL - 2) / 2)

    gpt = [title for title, _ in draw.PANELS].index("GPT (left-to-right)")
    last = len(draw.TOKENS) - 1
    assert draw.gpt(last, 0) and not draw.gpt(0, last)
    space = at(draw.LEFT + size + draw.GAP / 2, draw.TOP + size / 2)
    title = [at(x, y) for x in range(draw.LEFT, draw.LEFT + size) for y in range(5, 21)]
    return {
        "visible": cell(gpt, last, 0),
        "masked": cell(gpt, 0, last),
        "space": space,
        "title": max(title, key=lambda pixel: contrast(pixel, space)),
    }


def test_the_diagram_reads_in_both_modes(shipped: Shipped, night: Night) -> None:
    assert shipped.shots, "the deck has a diagram"
    checked = 0
    for index, light_prefix in shipped.shots.items():
        for mode, prefix, (_, answer) in (
            ("light", light_prefix, shipped.probes(index)),
            ("night", night.shots[index], night.probes[night.indices.index(index)]),
        ):
            (image,) = answer["images"]
            assert image["loaded"] and image["src"].endswith(".svg"), image
            assert image["filter"] == (NIGHT_FILTER if mode == "night" else "none"), (mode, image)
            pixels = diagram_colours(read_png(prefix.with_name(prefix.name + "-answer.png")), image)
            background = colour(answer["background"])
            label = f"{shipped.labels[index]} ({mode}): {pixels} on {answer['background']}"
            # No box of its own: between the panels, the card shows through.
            assert contrast(pixels["space"], background) < 1.05, label
            # Blue still means "may attend", against the card and against a masked cell; a masked cell is
            # still a cell; the title is text to read.
            red, green, blue = pixels["visible"]
            assert blue > red + 60 and blue > green, label
            assert contrast(pixels["visible"], pixels["space"]) >= 3, label
            assert contrast(pixels["visible"], pixels["masked"]) >= 3, label
            assert contrast(pixels["masked"], pixels["space"]) >= 1.3, label
            assert contrast(pixels["title"], pixels["space"]) >= 7, label
            checked += 1
    assert checked == 2 * len(shipped.shots)
