"""Short citation keys for the sources (`[Devlin 2019]`, `[Zhihu 3]`), and each section's
bibliography: the sources its questions cite, numbered in order of first citation.

A key is the first author's family name (the last word of the name, or the part before a
comma for a family name of several words: `Ben Zaken, Elad`), or the source's site when it names no author,
then its year; sources that would share a key are told apart by a letter after the year
(`2021a`, `2021b`), or by a number when they have no year. Keys are made from the whole
bank, in the order of sources.yaml, so a source has the same key in a handout and in the
full sheet.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from string import ascii_lowercase

from deckgen.model import Bank, Question, Source

_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "net", "org", "qq"})
"""Labels that only say what kind of name the one before them is (`spaces.ac.cn`, `mp.weixin.qq.com`)."""


def site_name(source: Source) -> str:
    """The site's own name, capitalised: `Zhihu` for zhuanlan.zhihu.com, `Arxiv` for arxiv.org."""
    labels = [label for label in source.site.split(".") if label]
    if len(labels) > 1:
        labels.pop()
    while len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
        labels.pop()
    name = labels[-1] if labels else "Source"
    return name[:1].upper() + name[1:]


def family_name(author: str) -> str:
    """An author's family name: the part before a comma (`Ben Zaken, Elad`), else the last word
    (`Jacob Devlin`); empty for a name with neither."""
    family, comma, _ = author.partition(",")
    return family.strip() if comma and family.strip() else (author.split() or [""])[-1]


def _stem(source: Source) -> str:
    """A key before it is told apart from others: who wrote it (or where it is), and when."""
    who = (family_name(source.authors[0]) if source.authors else "") or site_name(source)
    return f"{who} {source.year}" if source.year else who


def _letters(index: int) -> str:
    """a, b, ... z, aa, ab, ...: the suffix of the index-th source with the same author and year."""
    suffix = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        suffix = ascii_lowercase[rest] + suffix
    return suffix


_last_keys: list[tuple[tuple[Source, ...], dict[str, str]]] = []
"""The sources last asked about, and their keys: a page asks for the same ones at every
question, and looking them up in `_cite_keys`'s memo hashes every source each time."""


def cite_keys(sources: tuple[Source, ...]) -> dict[str, str]:
    """Every source's key by its id; unique, and the same for the same sources."""
    if _last_keys and _last_keys[0][0] is sources:
        return _last_keys[0][1]
    keys = _cite_keys(sources)
    _last_keys[:] = [(sources, keys)]
    return keys


@lru_cache(maxsize=4)  # a watch builds again and again: the sources of its last few builds
def _cite_keys(sources: tuple[Source, ...]) -> dict[str, str]:
    by_stem: dict[str, list[Source]] = defaultdict(list)
    for source in sources:
        by_stem[_stem(source)].append(source)
    keys: dict[str, str] = {}
    for stem, same in by_stem.items():
        for index, source in enumerate(same):
            if len(same) == 1:
                keys[source.id] = stem
            elif source.year:
                keys[source.id] = stem + _letters(index)
            else:
                keys[source.id] = f"{stem} {index + 1}"
    return keys


def cited(bank: Bank, questions: list[Question]) -> list[Source]:
    """The sources these questions cite, each once, in order of first citation."""
    return [bank.source(source_id) for source_id in dict.fromkeys(s for question in questions for s in question.sources)]
