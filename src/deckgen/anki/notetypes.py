"""deckgen's two note types: their ids, names, fields, templates and CSS, and their state for the lock.

Learners' review history hangs on the ids, the field names and the template names: a
change to any of them makes Anki add the note type as a copy on re-import and stop
updating existing notes. The CSS is `card.css` beside this module, then Pygments' styles.
"""

from __future__ import annotations

import re
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deckgen.anki.ids import content_hash
from deckgen.lock import NoteTypeState
from deckgen.model import Bank
from deckgen.render import code_css

if TYPE_CHECKING:
    import genanki  # type: ignore[import-untyped]

BASIC_MODEL_ID = 1691839207
CLOZE_MODEL_ID = 1691839208
BASIC_MODEL_NAME = "deckgen Basic"
CLOZE_MODEL_NAME = "deckgen Cloze"
BASIC_FIELDS = ("ID", "Question", "Answer", "Extra", "Sources", "Topic")
CLOZE_FIELDS = ("ID", "Text", "Extra", "Sources", "Topic")
BASIC_TEMPLATE = "Recall"
CLOZE_TEMPLATE = "Cloze"

_CONTEXT = '<div class="dg-context">{{Topic}}</div>'
BASIC_QFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{Question}}}}</div>'
CLOZE_QFMT = f'{_CONTEXT}\n<div class="dg-question">{{{{cloze:Text}}}}</div>'
REPORT_FORM = "card-problem.yml"
"""The issue form (.github/ISSUE_TEMPLATE/) that a card's "report a problem" link opens."""


def _on_github(base: str) -> bool:
    return urlsplit(base).hostname in ("github.com", "www.github.com")


def report_url(homepage: str) -> str:
    """Where a learner reports a card: the repository's issue form with the card id filled in.

    `{{ID}}` is filled by Anki when the card is shown. A homepage that is not a GitHub
    repository gets a plain link to itself.
    """
    base = homepage.rstrip("/")
    if not _on_github(base):
        return escape(base)
    return f"{escape(base)}/issues/new?template={REPORT_FORM}&amp;title=Card%3A+{{{{ID}}}}&amp;card={{{{ID}}}}"


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, without punctuation, spaces as
    hyphens (`## 0.2.0` is `#020`)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def changelog_url(homepage: str, version: str) -> str:
    """The changelog's entry for `version` (its heading, `## 0.2.0`) on the repository's default
    branch; the homepage itself elsewhere."""
    base = homepage.rstrip("/")
    if not _on_github(base):
        return escape(base)
    return escape(f"{base}/blob/main/CHANGELOG.md#{heading_anchor(version)}")


def site_url(homepage: str) -> str | None:
    """Where the release workflow publishes the deck's site: the repository's GitHub Pages
    (`https://<owner>.github.io/<repository>/`); None for a homepage not on GitHub."""
    base = homepage.rstrip("/")
    if not _on_github(base):
        return None
    parts = urlsplit(base).path.strip("/").split("/")
    if len(parts) != 2:
        return None
    owner, repository = parts
    return f"https://{owner.lower()}.github.io/{repository}/"


def _back_matter(homepage: str) -> str:
    site = site_url(homepage)
    # The card's own page on the site, by id (never by a line number, which would change the
    # note whenever a question is added above it), in the edition's language.
    web = (
        f'<a class="dg-web dg-en" href="{escape(site)}q/#{{{{ID}}}}">on the web</a>'
        f'<a class="dg-web dg-zh" href="{escape(site)}zh/q/#{{{{ID}}}}">网页版</a> '
        if site
        else ""
    )
    return (
        '{{#Extra}}<div class="dg-extra">{{Extra}}</div>{{/Extra}}\n'
        '<div class="dg-sources">{{Sources}}</div>\n'
        f'<div class="dg-footer"><span class="dg-id">{{{{ID}}}}</span> <span class="dg-links">{web}'
        f'<a class="dg-report" href="{report_url(homepage)}"><span class="dg-en">report a problem</span><span class="dg-zh">报告问题</span></a></span></div>'
    )


def basic_afmt(homepage: str) -> str:
    """The back of a basic card: the front, the answer, then extra, sources, id and report link."""
    return '{{FrontSide}}\n<hr id="answer">\n<div class="dg-answer">{{Answer}}</div>\n' + _back_matter(homepage)


def cloze_afmt(homepage: str) -> str:
    """The back of a cloze card: the text with its deletion shown, then the back matter."""
    return f'{_CONTEXT}\n<div class="dg-question">{{{{cloze:Text}}}}</div>\n<hr id="answer">\n' + _back_matter(homepage)


def card_css() -> str:
    """The note types' CSS: the card styles of `card.css`, then Pygments' light and night styles for code."""
    return files(__package__).joinpath("card.css").read_text(encoding="utf-8") + code_css()


def basic_model(homepage: str) -> genanki.Model:
    """The note type of basic questions and compare rows."""
    # genanki is imported where a Model is made: importing it loads its SQLite and zip
    # writer, which reading the note types' names (for the lock, or for notes) never needs.
    import genanki

    return genanki.Model(
        BASIC_MODEL_ID,
        BASIC_MODEL_NAME,
        fields=[{"name": name} for name in BASIC_FIELDS],
        templates=[{"name": BASIC_TEMPLATE, "qfmt": BASIC_QFMT, "afmt": basic_afmt(homepage)}],
        css=card_css(),
        sort_field_index=BASIC_FIELDS.index("Question"),
    )


def cloze_model(homepage: str) -> genanki.Model:
    """The note type of cloze questions."""
    import genanki  # see basic_model

    return genanki.Model(
        CLOZE_MODEL_ID,
        CLOZE_MODEL_NAME,
        fields=[{"name": name} for name in CLOZE_FIELDS],
        templates=[{"name": CLOZE_TEMPLATE, "qfmt": CLOZE_QFMT, "afmt": cloze_afmt(homepage)}],
        css=card_css(),
        model_type=genanki.Model.CLOZE,
        sort_field_index=CLOZE_FIELDS.index("Text"),
    )


def note_models(homepage: str) -> dict[str, genanki.Model]:
    """Both note types as genanki Models, by the key notes and the lock name them with."""
    return {"basic": basic_model(homepage), "cloze": cloze_model(homepage)}


def note_type_states(bank: Bank) -> dict[str, NoteTypeState]:
    """The two note types as the lock records them (their time is filled in by the lock)."""
    states = {}
    for key, model in note_models(bank.deck.homepage).items():
        look = content_hash(model.css, *(t["name"] + t["qfmt"] + t["afmt"] for t in model.templates))
        states[key] = NoteTypeState(
            key,
            model.model_id,
            model.name,
            tuple(f["name"] for f in model.fields),
            tuple(t["name"] for t in model.templates),
            look,
            0,
        )
    return states
