"""`deckgen new`: start a topic file, or add a question to one, for its author to fill in.

The entry gets a known section and the section's source ids to pick from. What only its
author can write is a placeholder, which check warns about (so `check --strict`, the
pull-request gate, fails) until it is replaced: the id, `<topic>-todo-<n>` (never one in
use, retired or released), the sources, `TODO-pick-a-source`, and the texts, which say TODO.
A placeholder can never slip into a release, and the file still passes plain `check`, so
that every placeholder is listed at once and `deckgen new` can add to the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from deckgen.editions import TRANSLATE_MARK, overlay_path, text_hash
from deckgen.lint.questions import new_id
from deckgen.load import load_bank, parse_text
from deckgen.lock import read_lock
from deckgen.model import Bank, DeckgenError, Diagnostic, Location, Question, QuestionType, Severity
from deckgen.references import SOURCE_PLACEHOLDER
from deckgen.schema import SCHEMA_DIR, SCHEMA_FILES
from deckgen.spec import KEBAB_RE

PLACEHOLDER = "TODO"


def _error(where: str, message: str) -> DeckgenError:
    return DeckgenError([Diagnostic(Location(where), Severity.ERROR, message, "new")])


def schema_comment(path: Path, kind: str, repo_root: Path) -> str:
    """The first line of a bank file: where editors find its JSON Schema."""
    target = repo_root / SCHEMA_DIR / SCHEMA_FILES[kind]
    relative = Path(os.path.relpath(target, path.parent)).as_posix()
    return f"# yaml-language-server: $schema={relative}"


def repo_root_of(bank_dir: Path) -> Path:
    """The folder that holds `schema/`: the bank folder's parent, where deckgen's repository keeps it."""
    return bank_dir.resolve().parent


def _used_ids(bank: Bank, bank_dir: Path) -> set[str]:
    lock, _ = read_lock(bank_dir)
    used = {q.id for t in bank.topics for q in (*t.questions, *t.retired)}
    used |= {t.id for t in bank.topics}
    if lock is not None:
        used |= {nid.split("/")[0] for nid in lock.notes}
    return used


def _fresh_id(topic_id: str, used: set[str]) -> str:
    """The first id of the form `deckgen new` makes up for the topic that is not used yet."""
    number = 1
    while new_id(topic_id, number) in used:
        number += 1
    return new_id(topic_id, number)


def _question_entry(question_id: str, bank: Bank, section: str) -> str:
    ids = [s.id for s in bank.sources if s.section == section] or [s.id for s in bank.sources]
    return (
        f"  - id: {question_id}\n"
        "    question: >-\n"
        f"      {PLACEHOLDER} Ask one thing and name the model or paper, e.g. \"In XLNet, why ...?\"\n"
        "    answer: >-\n"
        f"      {PLACEHOLDER} A phrase or one sentence (about 25 words at most).\n"
        "    extra: >-\n"
        f"      {PLACEHOLDER} Optional: the reasoning, derivation or caveats; delete if not needed.\n"
        f"    sources: [{SOURCE_PLACEHOLDER}]\n"
        f"    # Cite the reading-list article that covers the card and the original paper. This section's sources:\n"
        + "".join(f"    #   {sid}\n" for sid in ids)
    )


def new_topic(bank_dir: Path, topic_id: str, section: str, title: str | None = None) -> Path:
    """Create `<bank>/<section>/<topic-id>.yaml` with one question to fill in."""
    bank = load_bank(bank_dir)
    if not KEBAB_RE.fullmatch(topic_id):
        raise _error(topic_id, f"topic id '{topic_id}' is not kebab-case: use lowercase letters, digits and single hyphens")
    sections = [s.id for s in bank.deck.sections]
    if section not in sections:
        raise _error(section, f"unknown section '{section}'; sections are: {', '.join(sections)}")
    used = _used_ids(bank, bank_dir)
    if topic_id in used:
        raise _error(topic_id, f"id '{topic_id}' is already used")
    path = bank_dir / section / f"{topic_id}.yaml"
    if path.exists():
        raise _error(path.as_posix(), "file already exists")
    display_title = title or topic_id.replace("-", " ").capitalize()
    text = (
        f"{schema_comment(path, 'topic', repo_root_of(bank_dir))}\n"
        f"topic: {json.dumps(display_title, ensure_ascii=False)}\n"
        f"id: {topic_id}\n"
        f"section: {section}\n"
        "questions:\n" + _question_entry(_fresh_id(topic_id, used), bank, section)
    )
    _parses(text, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def new_question(bank_dir: Path, path: Path) -> str:
    """Append a question to a topic file; return its fresh id."""
    bank = load_bank(bank_dir)
    topic = next((t for t in bank.topics if t.path.resolve() == path.resolve()), None)
    if topic is None:
        raise _error(path.as_posix(), "not a topic file of this bank")
    question_id = _fresh_id(topic.id, _used_ids(bank, bank_dir))
    text = path.read_text(encoding="utf-8")
    keys = re.findall(r"^([A-Za-z_][\w-]*):", text, re.MULTILINE)
    if not keys or keys[-1] != "questions":
        raise _error(path.as_posix(), "'questions:' is not the file's last key; add the question by hand")
    if not text.endswith("\n"):
        text += "\n"
    text += "\n" + _question_entry(question_id, bank, topic.section)
    _parses(text, path)
    path.write_text(text, encoding="utf-8", newline="\n")
    return question_id


def _parses(text: str, path: Path) -> None:
    """Refuse to write a file that would not parse (nothing is written then)."""
    _, problems = parse_text(text, path.as_posix())
    if any(p.severity is Severity.ERROR for p in problems):
        raise _error(path.as_posix(), f"the new entry would not parse: {problems[0].message}; add it by hand")


def _yaml_text(text: str) -> str:
    """`text` as one YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _to_translate(english: str) -> str:
    """A text to translate: the mark, then the English (on lines of its own if it has several,
    so that a code block in it stays one)."""
    return TRANSLATE_MARK + ("\n\n" + english if "\n" in english else english)


def _translation_entry(question: Question) -> list[str]:
    """An overlay entry for `question`: each field to translate, starting as its English, and
    the hashes of what it translates."""
    fields = {"question": question.question}
    if question.answer:
        fields["answer"] = question.answer
    if question.extra:
        fields["extra"] = question.extra
    hashes = ", ".join(f"{key}: {text_hash(value)}" for key, value in fields.items())
    lines = [f"  - id: {question.id}", f"    from: {{{hashes}}}"]
    lines += [f"    {key}: {_yaml_text(_to_translate(value))}" for key, value in fields.items()]
    if question.type is QuestionType.COMPARE:
        lines.append("    rows:")
        for row in question.live_rows:
            row_fields: dict[str, str | tuple[str, ...]] = {"aspect": row.aspect, "values": row.values}
            if row.extra:
                row_fields["extra"] = row.extra
            hashes = ", ".join(f"{key}: {text_hash(value)}" for key, value in row_fields.items())
            lines += [f"      - id: {row.id}", f"        from: {{{hashes}}}", f"        aspect: {_yaml_text(_to_translate(row.aspect))}"]
            lines.append("        values: [" + ", ".join(_yaml_text(_to_translate(v)) for v in row.values) + "]")
            if row.extra:
                lines.append(f"        extra: {_yaml_text(_to_translate(row.extra))}")
    return lines + [""]


def new_translation(bank_dir: Path, path: Path, language: str) -> tuple[Path, list[str]]:
    """Start or extend the `language` overlay of a topic file with an entry for each question it
    does not translate yet; return the overlay and the ids added."""
    bank = load_bank(bank_dir)
    if language == "en" or language not in bank.deck.languages:
        listed = ", ".join(lang for lang in bank.deck.languages if lang != "en") or "none"
        raise _error((bank_dir / "deck.yaml").as_posix(), f"no '{language}' edition to translate into: deck.yaml's languages list {listed}")
    topic = next((t for t in bank.topics if t.path.resolve() == path.resolve()), None)
    if topic is None:
        raise _error(path.as_posix(), "not a topic file of this bank")
    overlay = overlay_path(topic.path, language)
    if overlay.exists():
        text = overlay.read_text(encoding="utf-8")
        root, problems = parse_text(text, overlay.as_posix())
        if any(p.severity is Severity.ERROR for p in problems) or root is None:
            raise _error(overlay.as_posix(), "the translation does not parse; fix it first (deckgen check)")
        keys = re.findall(r"^([A-Za-z_][\w-]*):", text, re.MULTILINE)
        if not keys or keys[-1] != "questions":
            raise _error(overlay.as_posix(), "'questions:' is not the file's last key; add the entries by hand")
        done = set(re.findall(r"^  - id: (\S+)$", text, re.MULTILINE))
        text = text if text.endswith("\n") else text + "\n"
    else:
        done = set()
        text = "\n".join(
            [
                f"# The {language} translation of {topic.path.name} (see \"Translations (editions)\" in the README).",
                f"title: {_yaml_text(_to_translate(topic.title))}",
                "questions:",
                "",
            ]
        )
    added = [q.id for q in topic.questions if q.id not in done]
    for question in topic.questions:
        if question.id in added:
            text += "\n".join(_translation_entry(question)) + "\n"
    _parses(text, overlay)
    overlay.write_text(text, encoding="utf-8", newline="\n")
    return overlay, added
