"""Card-quality lint: warnings built on docs/CARDS.md, run on a validated bank.

Each rule is one function in a module of this package, declared with `@rule` (see
`registry.py`). A question, topic or source silences a rule for itself with
`lint: {ignore: [rule-id], reason: "why this case is fine"}`; the engine here applies that,
once, to whatever every rule finds.
"""

from __future__ import annotations

from collections.abc import Sequence

from deckgen.cache import BuildCache
from deckgen.lint import bank as bank_rules
from deckgen.lint import chinese, clozes, duplicates, questions
from deckgen.lint.duplicates import near_duplicates
from deckgen.lint.registry import Context, Rule, Scope, Silenceable, rules_in
from deckgen.lint.words import word_count
from deckgen.model import Bank, Diagnostic, Severity, Topic
from deckgen.serial import warnings_from_json, warnings_json

__all__ = ["QUESTION_RULES", "REGISTRY", "RULES", "SOURCE_RULES", "TOPIC_RULES", "lint_bank", "near_duplicates", "word_count"]

REGISTRY: tuple[Rule, ...] = rules_in(questions, clozes, duplicates, bank_rules, chinese)
"""Every lint rule, in the order the README lists them."""

RULES = {r.id: r.description for r in REGISTRY}
"""Every lint rule, with what it flags."""
QUESTION_RULES = {r.id: r.description for r in REGISTRY if r.silenced_on is Scope.QUESTION}
"""The rules a question may silence."""
TOPIC_RULES = {r.id: r.description for r in REGISTRY if r.silenced_on is Scope.TOPIC}
"""The rules a topic may silence."""
SOURCE_RULES = {r.id: r.description for r in REGISTRY if r.silenced_on is Scope.SOURCE}
"""The rules a source may silence."""


def lint_bank(bank: Bank, cache: BuildCache | None = None) -> list[Diagnostic]:
    """Every card-quality warning for the bank, by the rules of its language (an edition's bank
    is linted in its own), minus those its authors silenced.

    With a build cache, what the rules on one question found is kept per topic, and the
    near-duplicate join per bank, so that an edit lints its own topic again, not the bank."""
    context = Context(bank, cache)
    rules = [r for r in REGISTRY if r.language == bank.deck.language]
    on_questions = [r for r in rules if r.scope is Scope.QUESTION]
    diagnostics: list[Diagnostic] = []
    for topic in bank.ordered_topics():
        found: list[Diagnostic]
        if cache is None:
            found = _question_warnings(topic, context, on_questions)
        else:
            found = cache.fragment(
                "lint-topic",
                _topic_parts(topic, context, cache),
                (),
                lambda: _question_warnings(topic, context, on_questions),
                warnings_from_json,
                warnings_json,
            )
        diagnostics += found
    subjects: dict[Scope, Sequence[Silenceable | Bank]] = {Scope.TOPIC: bank.topics, Scope.SOURCE: bank.sources, Scope.BANK: (bank,)}
    for rule in (r for r in rules if r.scope is not Scope.QUESTION):
        for subject in subjects[rule.scope]:
            diagnostics += _warnings(rule, subject, context)
    return sorted(diagnostics, key=Diagnostic.sort_key)


def _question_warnings(topic: Topic, context: Context, rules: list[Rule]) -> list[Diagnostic]:
    """What the rules on one question find in each of a topic's questions."""
    return [d for question in topic.questions for rule in rules for d in _warnings(rule, question, context)]


def _warnings(rule: Rule, subject: Silenceable | Bank, context: Context) -> list[Diagnostic]:
    """What one rule finds in one subject, minus what the subject (or, for a rule on the whole
    bank, any entry the finding names) silenced."""
    found = []
    for finding in rule.check(subject, context):
        silencers = finding.subjects if isinstance(subject, Bank) else (subject,)
        if not any(rule.id in s.lint_ignore for s in silencers):
            found.append(Diagnostic(finding.location, Severity.WARNING, finding.message, rule.id))
    return found


def _topic_parts(topic: Topic, context: Context, cache: BuildCache) -> object:
    """Everything the rules on one question read, for each question of a topic: what renders
    it, where each of its fields is written and which rules it silences (its rows too), and the
    deck (an edition's glossary). All but what renders each question and the deck is the
    topic's own, so its hash is kept from one build of a watch to the next (`BuildCache.digest`)."""
    bank = context.bank
    keys = cache.topic_keys(bank, topic)[: len(topic.questions)]
    return cache.digest(
        "lint-topic",
        (topic,),
        (context.deck_part, keys),
        lambda: (
            context.deck_part,
            [(key, q.id, q.location, q.field_locations, sorted(q.lint_ignore), q.rows) for key, q in zip(keys, topic.questions)],
        ),
    )
