"""Rules on a topic or a source as a whole: a topic tests understanding, a source is cited."""

from __future__ import annotations

import re
from collections.abc import Iterator

from deckgen.lint.registry import Context, Finding, Scope, rule
from deckgen.model import Source, Topic

_WHY_HOW_RE = re.compile(r"\b(why|how)\b", re.IGNORECASE)


@rule("no-why-card", Scope.TOPIC, "a topic without a single why or how question")
def no_why_card(topic: Topic, context: Context) -> Iterator[Finding]:
    """Recall alone is not understanding: each topic asks at least once why or how."""
    if not any(_WHY_HOW_RE.search(q.question) for q in topic.questions):
        yield Finding(topic.location, f"topic '{topic.id}' has no why or how question: test understanding, not only recall")


@rule("uncited-source", Scope.SOURCE, "a source in `sources.yaml` that no card cites")
def uncited_source(source: Source, context: Context) -> Iterator[Finding]:
    """A source that no card cites is either waiting for its cards or not needed."""
    if source.id not in context.cited:
        yield Finding(source.location, f"source '{source.id}' is cited by no card")
