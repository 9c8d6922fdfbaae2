"""Where a bank's links and images may point: http(s) URLs, and images deckgen packed itself."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit


MEDIA_NAME_RE = re.compile(r"(?:media/)?deckgen-[0-9a-f]{16}\.(?:png|jpe?g|gif|svg|webp)")
"""An image deckgen packed itself, under its content-hash name."""
_SAFE_SCHEMES = ("http://", "https://")


# What RFC 3986 lets a URL hold as it is, less the characters that would end or change it in
# Markdown, HTML or an Anki template: quotes, parentheses, brackets (Anki's `[sound:…]`) and
# braces (template fields). Everything else is percent-encoded; non-ASCII letters may stand.
_URL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#@!$&*+,;=%")
_HEX = frozenset("0123456789abcdefABCDEF")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a source's or the deck's link, or None if it can."""
    if not is_safe_url(url) or MEDIA_NAME_RE.fullmatch(url.strip()):
        return "is not an http(s) URL"
    try:
        urlsplit(url).port
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    for index, char in enumerate(url):
        if char == "%" and not (len(url) >= index + 3 and set(url[index + 1 : index + 3]) <= _HEX):
            return "has a '%' that does not start a percent-encoded byte such as %20"
        if char in _URL_CHARACTERS or (not char.isascii() and char.isprintable() and not char.isspace()):
            continue
        shown = "a space" if char == " " else char if char.isprintable() else f"U+{ord(char):04X}"
        return f"has characters to percent-encode (spaces, quotes, brackets, braces, parentheses: {shown} is {quote(char, safe='')})"
    return None


def is_safe_url(url: str) -> bool:
    """True for the only links a card may hold: absolute http(s) URLs with a host, or media deckgen packed."""
    if MEDIA_NAME_RE.fullmatch(url.strip()):
        return True
    if not url.strip().lower().startswith(_SAFE_SCHEMES):
        return False
    try:
        return bool(urlsplit(url.strip()).hostname)
    except ValueError:
        return False


def _image_target_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the target of every inline image `![alt](target)` written in `text`.

    One pass: each `![` looks for the first `]` after it, which is the same `]` for every `![`
    before it, so the search for it never goes back.
    """
    spans: list[tuple[int, int]] = []
    length = len(text)
    close = -1
    start = text.find("![")
    while start != -1:
        if close < start + 2:
            close = text.find("]", start + 2)
            if close == -1:
                break
        if not text.startswith("(", close + 1):
            start = text.find("![", start + 1)
            continue
        begin = close + 2
        while begin < length and text[begin].isspace():
            begin += 1
        if begin < length and text[begin] == "<":
            begin += 1
        end = begin
        while end < length and text[end] not in ")>" and not text[end].isspace():
            end += 1
        spans.append((begin, end))
        start = text.find("![", end)
    return spans


def image_targets(text: str) -> list[str]:
    """The targets of the Markdown images `![alt](target)` written in `text`."""
    return [text[begin:end] for begin, end in _image_target_spans(text)]


def with_media(text: str, media: dict[str, str]) -> str:
    """Point each image at its packed name (`media` maps the target as written to the new one)."""
    if "![" not in text:
        return text
    parts: list[str] = []
    last = 0
    for begin, end in _image_target_spans(text):
        target = text[begin:end]
        parts += [text[last:begin], media.get(target, target)]
        last = end
    return "".join(parts) + text[last:]
