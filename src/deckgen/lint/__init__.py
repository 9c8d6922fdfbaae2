"""Card-quality lint: warnings built on docs/CARDS.md, run on a validated bank.

Each rule is one function in a module of this package, declared with `@rule` (see
`registry.py`). A question, topic or source silences a rule for itself with
`lint: {ignore: [rule-id], reason: "why this case is fine"}`; the engine here applies that,
once, to whatever every rule finds.
"""

from __future__ import annotations

from collections.abc import Sequence

from deckgen.lint import bank as bank_rules
from deckgen.lint import chinese, clozes, duplicates, questions
from deckgen.lint.duplicates import near_duplicates
from deckgen.lint.registry import Context, Rule, Scope, Silenceable, rules_in
from deckgen.lint.words import word_count
from deckgen.model import Bank, Diagnostic, Severity

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


def lint_bank(bank: Bank) -> list[Diagnostic]:
    """Every card-quality warning for the bank, by the rules of its language (an edition's bank
    is linted in its own), minus those its authors silenced."""
    context = Context(bank)
    subjects: dict[Scope, Sequence[Silenceable | Bank]] = {
        Scope.QUESTION: context.questions,
        Scope.TOPIC: bank.topics,
        Scope.SOURCE: bank.sources,
        Scope.BANK: (bank,),
    }
    diagnostics: list[Diagnostic] = []
    for rule in (r for r in REGISTRY if r.language == bank.deck.language):
        for subject in subjects[rule.scope]:
            for finding in rule.check(subject, context):
                silencers = finding.subjects if isinstance(subject, Bank) else (subject,)
                if not any(rule.id in s.lint_ignore for s in silencers):
                    diagnostics.append(Diagnostic(finding.location, Severity.WARNING, finding.message, rule.id))
    return sorted(diagnostics, key=Diagnostic.sort_key)
