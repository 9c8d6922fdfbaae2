"""The lint rule registry: each rule is one function, registered with its id, scope and description.

A module of rules declares them with `@rule(...)`; `rules_in(module, ...)` collects them,
in the order they are written, into the tuple the engine runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from types import ModuleType

from deckgen.cache import BuildCache
from deckgen.model import Bank, Location, Question, Source, Topic


class Scope(Enum):
    """What a rule looks at: one question, topic or source at a time, or the bank as a whole."""

    QUESTION = "question"
    TOPIC = "topic"
    SOURCE = "source"
    BANK = "bank"


Silenceable = Question | Topic | Source
"""What a `lint: {ignore: [...]}` entry can be written on."""


@dataclass(frozen=True)
class Finding:
    """One problem a rule found; the engine turns it into a warning unless it was silenced."""

    location: Location
    message: str
    subjects: tuple[Silenceable, ...] = ()
    """For a rule over the whole bank, the entries whose `lint: ignore` may silence this finding
    (any one of them does). A rule over one question, topic or source leaves it empty: the
    entry it looked at is the one."""


@dataclass(frozen=True)
class Context:
    """The bank being linted, with what several rules look up in it computed once."""

    bank: Bank
    cache: BuildCache | None = None
    """The build's cache, where a rule over the whole bank may keep what it found."""

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        """Every question, in deck order (the order in which 'earlier' is meant)."""
        return self.bank.questions

    @cached_property
    def deck_part(self) -> str:
        """The deck as a cached entry's key names it: its glossary, sections and titles."""
        return repr(self.bank.deck)

    @cached_property
    def reading_list(self) -> frozenset[str]:
        """The ids of the sources from the reading list."""
        return frozenset(s.id for s in self.bank.sources if s.kind.from_reading_list)

    @cached_property
    def cited(self) -> frozenset[str]:
        """The ids of the sources some question cites."""
        return frozenset(s for q in self.questions for s in q.sources)


Check = Callable[..., Iterator[Finding]]
"""A rule's function: (question, topic, source or bank, Context) -> findings."""


@dataclass(frozen=True)
class Rule:
    """A lint rule: its id, what it looks at, what it flags, and the function that looks."""

    id: str
    scope: Scope
    description: str
    """What the rule flags, as the README's table of rules says it."""
    check: Check
    silenced_on: Scope
    """Where `lint: {ignore: [id]}` goes: a question, a topic or a source."""
    language: str = "en"
    """The language of the text it reads: an edition's bank is linted by its language's rules."""


def rule(rule_id: str, scope: Scope, description: str, silenced_on: Scope | None = None, language: str = "en") -> Callable[[Check], Rule]:
    """Declare a function as the lint rule `rule_id` on text in `language`; a rule over the whole
    bank says where it is silenced."""
    where = silenced_on or scope
    if where is Scope.BANK:
        raise ValueError(f"lint rule '{rule_id}' looks at the whole bank: say which entries may silence it")

    def register(check: Check) -> Rule:
        return Rule(rule_id, scope, description, check, where, language)

    return register


def rules_in(*modules: ModuleType) -> tuple[Rule, ...]:
    """Every rule the modules declare, module by module in the order written; ids must be unique."""
    found = [value for module in modules for value in vars(module).values() if isinstance(value, Rule)]
    ids = [r.id for r in found]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"lint rules declared twice: {', '.join(repeated)}")
    return tuple(found)
