"""The words deckgen itself prints on the sheets, in each edition's language.

The banks' own text comes translated in overlays (deckgen.editions); these are the labels
around it: "Contents", "Answer key", "Sources", the header's counts. English is the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from deckgen.report import plural


UNTRANSLATED = {"zh": "（尚未翻译）"}
"""What marks a question an edition shows in English, before its text."""


@dataclass(frozen=True)
class Labels:
    """The labels of one language."""

    html_lang: str
    colon: str
    """What follows a label: `: ` in English, `：` in Chinese."""
    review_sheet: str
    questions: str
    contents: str
    answer_key: str
    sources: str
    aspect: str
    sources_cited: str
    version: str
    """`Version {version}`."""
    running_version: str
    """`version {version}`, in the page's running head."""
    from_deck: str
    """`From {deck}, version {version}`: a handout's line about the deck it comes from."""

    def counts(self, questions: int, notes: int, cards: int) -> str:
        """`491 questions: 565 notes and 586 cards in Anki`."""
        if self.html_lang.startswith("zh"):
            return f"{questions} 道题：在 Anki 中为 {notes} 条笔记、{cards} 张卡片"
        return f"{plural(questions, 'question')}: {plural(notes, 'note')} and {plural(cards, 'card')} in Anki"


LABELS = {
    "en": Labels(
        html_lang="en",
        colon=": ",
        review_sheet="review sheet",
        questions="questions",
        contents="Contents",
        answer_key="Answer key",
        sources="Sources",
        aspect="Aspect",
        sources_cited="Sources cited in this section",
        version="Version {version}",
        running_version="version {version}",
        from_deck="From {deck}, version {version}",
    ),
    "zh": Labels(
        html_lang="zh-Hans",
        colon="：",
        review_sheet="复习讲义",
        questions="自测题",
        contents="目录",
        answer_key="参考答案",
        sources="出处",
        aspect="方面",
        sources_cited="本部分引用的文献",
        version="版本 {version}",
        running_version="版本 {version}",
        from_deck="摘自《{deck}》，版本 {version}",
    ),
}


def labels(language: str) -> Labels:
    """The labels of an edition's language."""
    return LABELS[language]
