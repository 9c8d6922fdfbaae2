"""The pipeline as named steps: load and validate, select, render, write atomically.

Nothing is written until every step before writing has succeeded. The outputs (the plug-ins
of `deckgen.outputs`) are written into a new folder beside `--out`, which then takes the
place of `--out` in one step (deckgen.outdir), and the lock is written in one replace:
however a build ends, `--out` holds the old outputs or the new ones, and the lock is whole.
"""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass, field, replace
from pathlib import Path

from deckgen import parallel
from deckgen.anki.notes import cached_notes
from deckgen.cache import CACHE_FILE, BuildCache, Resident
from deckgen.editions import Edition, editions
from deckgen.later import Background, Later
from deckgen.lint import lint_bank
from deckgen.lock import MAX_FUTURE, LockLines, lock_lines, write_lock
from deckgen.memory import return_freed_memory
from deckgen.model import Bank, DeckgenError, Diagnostic, Location, LockNotWritten, Question, Severity, Topic, forget_media_names
from deckgen.outdir import Output, Staging, held_output
from deckgen.outline import NumberedQuestion, Outline, outline
from deckgen.outputs import FORMATS, RenderContext, Writer
from deckgen.printsheet import PrintStyle, question_texts
from deckgen.release import Release, read_release
from deckgen.render import forget_rendered
from deckgen.selection import Selection, handout_title, select
from deckgen.sheet import fragments
from deckgen.site import search_texts
from deckgen.timing import Timings, phase
from deckgen.validate import Warm, validate_bank

__all__ = ["BuildOptions", "BuildResult", "Selection", "build", "build_deck", "build_time", "check", "checked_bank", "select", "stale_lock"]


@dataclass(frozen=True)
class BuildOptions:
    """Everything a build is asked to do: which bank, where, which part of it, and how strictly."""

    bank_dir: Path
    out_dir: Path
    selection: Selection = Selection()
    strict: bool = False
    """Fail on any warning, as on an error."""
    accept_schema_change: bool = False
    """Release note types whose fields or templates changed."""
    pdf: bool = False
    timings: Timings | None = None
    """Where to record the seconds each step takes, if anywhere."""
    style: PrintStyle = PrintStyle()
    """The printed sheets' layout and paper."""
    languages: tuple[str, ...] | None = None
    """The editions to write (`--lang`); every edition deck.yaml lists when None."""


@contextmanager
def _step(timings: Timings | None, name: str) -> Iterator[None]:
    """One named step of a build or a check: timed as `name` when timed, and what it freed given
    back to the system at its end (deckgen.memory), so that it is not resident at the next
    step's peak. Counted in the step's time."""
    with phase(timings, name):
        yield
        return_freed_memory()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run Python's cycle collector less often. A build makes millions of small objects that
    live until it ends and form almost no cycles; at the default pace the collector walks
    them all again and again, and a build of 50,000 cards spends a quarter of its time there."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote, the warnings it saw, and a PDF it could not print."""

    bank: Bank
    outputs: tuple[Path, ...]
    warnings: tuple[Diagnostic, ...] = field(default=())
    pdf_problems: tuple[Diagnostic, ...] = field(default=())
    release: Release | None = None
    """The release as the lock file records it after the build, when that is known without
    reading the file again: as the build read it, or, in a process that builds again and again
    (a `Resident` store), as it wrote it. None otherwise."""


def check(
    bank_dir: Path,
    *,
    accept_schema_change: bool = False,
    release: Release | None = None,
    cache: BuildCache | None = None,
    timings: Timings | None = None,
    locked: bool = False,
) -> tuple[Bank | None, list[Diagnostic]]:
    """Validate the bank, check it against what was released (the lock), then lint it and its
    editions; when `locked`, also check that the lock is the one a build would write.

    The bank is None when any error was found. A build passes the release it read and its
    cache, so that the lock is read once and files unchanged since the last build are not read again.
    """
    bank, diagnostics, _ = _check(bank_dir, accept_schema_change, release, cache, timings, locked, None)
    return bank, diagnostics


def _check(
    bank_dir: Path,
    accept_schema_change: bool,
    release: Release | None,
    cache: BuildCache | None,
    timings: Timings | None,
    locked: bool,
    warm: Warm | None,
) -> tuple[Bank | None, list[Diagnostic], list[Edition]]:
    """`check`, and the editions it read (a build renders them without reading them again, and
    passes `warm` to render each topic file into `cache` as soon as it is read)."""
    now = time.time()
    with fewer_collections():
        with _step(timings, "validate"):
            bank, diagnostics = validate_bank(bank_dir, cache, warm)
        if bank is None:
            return None, diagnostics, []
        release = release or read_release(bank_dir)
        with _step(timings, "lock"):
            problems = release.bank_problems(bank, accept_schema_change, now)
        if problems:
            return None, sorted(diagnostics + problems, key=Diagnostic.sort_key), []
        with _step(timings, "lint"):
            diagnostics += lint_bank(bank, cache)
        with _step(timings, "editions"):
            translated, translation_problems = editions(bank, cache=cache, warm=warm)
            return_freed_memory()  # what reading them freed, before their lint's join holds its own
            translation_problems += [d for made in translated[1:] for d in lint_bank(made.bank, cache)]
        diagnostics += translation_problems
        if any(d.severity is Severity.ERROR for d in translation_problems):
            return None, sorted(diagnostics, key=Diagnostic.sort_key), []
        if locked:
            with _step(timings, "locked"):
                stale = stale_lock(bank, release, cache, int(now), translated)
            if stale:
                return None, sorted(diagnostics + stale, key=Diagnostic.sort_key), []
        return bank, sorted(diagnostics, key=Diagnostic.sort_key), translated


def stale_lock(bank: Bank, release: Release, cache: BuildCache | None, now: int, translated: list[Edition] | None = None) -> list[Diagnostic]:
    """Why the bank's lock is not the one a build would write now (see `Release.stale_problems`);
    every note of every edition (`translated`, else read here) is rendered, as a build renders
    it, from `cache` where it can."""
    try:
        found = editions(bank, cache=cache)[0] if translated is None else translated
        return release.stale_problems(bank, now, [e.bank for e in found if e.bank.edition_of is not None], cache)
    finally:
        forget_rendered()


def checked_bank(options: BuildOptions, release: Release, cache: BuildCache | None = None) -> tuple[Bank, list[Diagnostic], list[Edition]]:
    """The valid bank, its warnings and its editions; DeckgenError on any error, or on any warning when strict."""
    warm = partial(_warm_topic, not options.selection, options.languages) if cache is not None else None
    bank, diagnostics, found = _check(options.bank_dir, options.accept_schema_change, release, cache, options.timings, False, warm)
    if bank is None or (options.strict and diagnostics):
        raise DeckgenError(diagnostics)
    return bank, diagnostics, found


def build_time() -> float:
    """The time stamped on notes: `SOURCE_DATE_EPOCH` when set, otherwise now; never later than tomorrow."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    now = time.time()
    if not epoch:
        return now
    if not re.fullmatch(r"[0-9]{1,11}", epoch) or int(epoch) >= 253402300800:
        raise DeckgenError(
            [Diagnostic(Location("SOURCE_DATE_EPOCH"), Severity.ERROR, f"expected whole seconds since 1970, found '{epoch}'", "environment")]
        )
    if int(epoch) > now + MAX_FUTURE:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(epoch)))
        raise DeckgenError(
            [
                Diagnostic(
                    Location("SOURCE_DATE_EPOCH"),
                    Severity.ERROR,
                    f"{epoch} is {when}, later than tomorrow: notes stamped with it would look newer than every later "
                    "release, and Anki would replace learners' own edits on every re-import. Use the time of the "
                    "release's tag or commit",
                    "environment",
                )
            ]
        )
    return float(epoch)


def _write_error(target: Path, err: OSError) -> DeckgenError:
    reason = err.strerror or str(err)
    return DeckgenError([Diagnostic(Location(target.as_posix()), Severity.ERROR, f"cannot write the output: {reason}", "io")])


def write_outputs(writers: dict[Path, Writer], staging: Staging, background: Background) -> None:
    """Write every output into the staging folder, where `--out` will take them from all at once:
    what a writer leaves to a second thread is handed to `background`, which the build waits for
    (`finish_outputs`) before the switch.

    Raises DeckgenError, naming the output, when the file system refuses.
    """
    for target, write in writers.items():
        path = staging.path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            later = write(path)
            if isinstance(later, Later):  # a writer that returns anything else has written its file
                background.run(target, later.followed_by(partial(os.chmod, path, 0o644)))
            else:
                os.chmod(path, 0o644)
        except OSError as err:
            raise _write_error(target, err) from err


def finish_outputs(background: Background, steps: dict[Path, str], timings: Timings | None) -> None:
    """Wait for what `write_outputs` handed to `background`, each timed as the step that wrote
    its file (`steps`). Raises DeckgenError, naming the output, when the file system refused."""
    for target, finish in background.unfinished():
        try:
            with _step(timings, steps[target]):
                finish()
        except OSError as err:
            raise _write_error(target, err) from err


def build(
    bank_dir: Path,
    out_dir: Path,
    *,
    selection: Selection = Selection(),
    strict: bool = False,
    accept_schema_change: bool = False,
    pdf: bool = False,
    timings: Timings | None = None,
    style: PrintStyle = PrintStyle(),
) -> BuildResult:
    """`build_deck` with these options: check, render and write every output, and bring the lock up to date."""
    return build_deck(BuildOptions(bank_dir, out_dir, selection, strict, accept_schema_change, pdf, timings, style))


def build_deck(options: BuildOptions, resident: Resident | None = None, release: Release | None = None) -> BuildResult:
    """Check, render and write every output, and bring the lock up to date.

    The outputs replace `out_dir` all at once, or not at all. The lock always describes the
    whole bank, so a subset build (any filter) reads it but never writes it. A process that
    builds again and again (`deckgen watch`) passes the same `resident` store to each build,
    which then decodes again only what changed since the last (deckgen.cache.Resident), and
    the `release` the last build left in the lock file when the file still holds it
    (`Release.unchanged`), which is then not read again.
    """
    with held_output(options.out_dir) as output, fewer_collections():
        cache = BuildCache(options.out_dir, resident=resident)
        try:
            result = _build(options, output, cache, release)
            if resident is not None:
                resident.sweep(succeeded=True)
                resident.built(cache.wrote_parts())
            return result
        except DeckgenError:
            if resident is not None:
                resident.sweep(succeeded=False)
                # Its staging folder may have linked the last build's files, moving their times.
                resident.settle_again()
            raise
        except Exception:
            # Not the user's fault, and perhaps the cache's: every cached value is checked as it
            # is read, but if one was wrong in a way no check foresaw, the next build must not
            # read it again. The fault itself is reported, not hidden by a retry.
            cache.forget()
            if resident is not None:
                resident.clear()
            raise
        finally:
            cache.close()
            forget_rendered()
            forget_media_names()


def _build(options: BuildOptions, output: Output, cache: BuildCache, release: Release | None) -> BuildResult:
    """Render every output with `cache` and write them into a new folder that then replaces the output folder."""
    timings = options.timings
    contexts, warnings = _render(options, cache, release)
    context = contexts[0]
    late: dict[Path, Writer] = {}
    order: list[Path] = []  # the outputs, edition by edition
    steps: dict[Path, str] = {}
    written_late: list[Path] = []
    problems: list[Diagnostic] = []
    # Leaving the staging folder waits for the second thread first: nothing writes into a folder
    # that is being removed.
    with output.staging() as staging, Background() as background:
        for edition in (c for c in contexts if options.languages is None or c.language in options.languages):
            for kind in FORMATS:
                if kind.late:  # timed as it writes, from the others' files
                    late.update(kind.files(edition))
                    continue
                # Each output is made and written at once, and timed by its name, so that a
                # build holds one output in memory at a time and the benchmark can say what
                # each costs (what its file left to the second thread is timed as the build
                # waits for it).
                with _step(timings, kind.name):
                    files = kind.files(edition)
                    write_outputs(files, staging, background)
                order += files
                steps.update(dict.fromkeys(files, kind.name))
        # Made while a package may still be written on the other core; written once the outputs are in place.
        lock = _lock_to_write(options, context, None if cache.resident is None else cache.resident.own(LockLines))
        finish_outputs(background, steps, timings)
        # Everything else is written first: a missing browser costs only the PDFs.
        for target, write in late.items():
            try:
                with _step(timings, "pdf"):
                    write(staging.path(target))
                written_late.append(target)
            except DeckgenError as err:
                problems += [replace(d, location=d.location._replace(path=target.as_posix())) for d in err.diagnostics]
        with _step(timings, "cache"):
            cache.save(staging.path(options.out_dir / CACHE_FILE))
        try:
            staging.switch()
        except DeckgenError:
            cache.give_back()
            raise
    locked, release = _write_lock(context.release, lock)
    outputs = [*order, *locked, *written_late]
    return BuildResult(context.bank, tuple(outputs), tuple(warnings), tuple(problems), release)


@dataclass(frozen=True)
class _LockToWrite:
    """The lock a build is to write (`_lock_to_write`), made before its outputs are in place."""

    lines: Iterable[str] | None
    """Its lines, or None when the file is to be left as it is."""
    release: Release | None
    """The release as the file records it once written, when the build hands it on."""


def _lock_to_write(options: BuildOptions, context: RenderContext, hand_on: LockLines | None) -> _LockToWrite:
    """What `_write_lock` is to write: the lock, if this build changed it, and never for a subset
    build; and, when the build is to hand on what it leaves (in a watch, which keeps the lock's
    lines from build to build in `hand_on`), the release as the lock file then records it.
    Only then is the lock that is written also made as reading the file would give it, which
    costs half as much again as hashing its text; its text is then made once and held (2 MB at
    10,000 notes), not made again to be written."""
    release = context.release
    if options.selection:
        return _LockToWrite(None, release)
    text = list(lock_lines(context.lock, hand_on)) if hand_on is not None else None
    now, changed = release.written(context.lock, text, hand_on) if text is not None else (None, release.changed(context.lock))
    if not changed:
        return _LockToWrite(None, release)
    return _LockToWrite(lock_lines(context.lock) if text is None else text, now)


def _write_lock(release: Release, lock: _LockToWrite) -> tuple[list[Path], Release | None]:
    """Write `lock`, if it is to be written: the lock written, if any, and the release it hands on."""
    if lock.lines is None:
        return [], lock.release
    try:
        write_lock(release.path, lock.lines)
    except OSError as err:
        # The outputs are in place already: they carry the times of the lock that could not be written.
        reason = err.strerror or str(err)
        message = f"cannot write the lock: {reason}; the outputs were built with the times it holds, so build again once it can be written"
        raise LockNotWritten([Diagnostic(Location(release.path.as_posix()), Severity.ERROR, message, "io")]) from err
    return [release.path], lock.release


def _render(options: BuildOptions, cache: BuildCache, release: Release | None) -> tuple[list[RenderContext], list[Diagnostic]]:
    """Check the bank, render every note of every edition (the lock describes them all), and bring
    the lock up to date: a render context per edition, the source language's first. The lock is
    read unless `release` is given."""
    release = release or read_release(options.bank_dir)
    bank, warnings, found = checked_bank(options, release, cache)
    unknown = [lang for lang in options.languages or () if lang not in bank.deck.languages]
    if unknown:
        where = Location(options.bank_dir.as_posix() + "/deck.yaml")
        listed = ", ".join(bank.deck.languages)
        raise DeckgenError([Diagnostic(where, Severity.ERROR, f"no '{unknown[0]}' edition: deck.yaml lists {listed}", "languages")])
    timestamp = int(build_time())
    shapes = []
    for made in found:
        chosen = select(made.bank, options.selection)
        shapes.append((chosen, outline(chosen, made.bank, handout_title(made.bank, options.selection), cache.derived)))
    with _step(options.timings, "render"):
        _render_ahead([(made, shape if options.languages is None or made.language in options.languages else None) for made, (_, shape) in zip(found, shapes)], cache)
    with _step(options.timings, "update lock"):
        lock = release.next_lock(bank, timestamp, [e.bank for e in found[1:]], cache)
    contexts = []
    for made, (chosen, shape) in zip(found, shapes):
        whole = made.bank
        edition_lock = lock if whole.edition_of is None else lock.edition(made.language)
        contexts.append(RenderContext(options.out_dir, chosen, shape, options.selection, whole, release, edition_lock, cache, options.pdf, options.style, made.language))
    return contexts, warnings


def _warm(bank: Bank, topic: Topic, question: Question, numbered: NumberedQuestion | None, cache: BuildCache) -> None:
    """Render what a build shows of one question: its notes, and (`numbered`, when the sheets
    and the site print it) its printed texts, its lines in the Markdown sheets and its text in
    the site's search index. One after the other, so that each text is parsed once for all of them."""
    cached_notes(bank, topic, question, cache)
    if numbered is not None:
        question_texts(bank, cache)(topic, question)
        for lines in fragments(bank, cache):
            lines(topic, numbered)
        search_texts(bank, cache)(topic, question)


def _warm_topic(whole: bool, languages: tuple[str, ...] | None, bank: Bank, topic: Topic, cache: BuildCache) -> None:
    """Render what a build shows of a topic that it has just read (`bank`: its edition, as far as
    it is known), while the parse of each text that checking it made is at hand: every question's
    notes, and, in a `whole` build of an edition it writes (of one of `languages`, if given),
    what the pages print of each live question; what `cache` holds already (an edit to one
    question leaves the others' there) is not rendered again. `_render_ahead` then finds them all."""
    printed = whole and (languages is None or bank.deck.language in languages)
    wanted = [(q, NumberedQuestion(0, q) if printed else None) for q in topic.questions] + [(q, None) for q in topic.retired]
    for question, numbered in _missing(bank, topic, wanted, cache):
        _warm(bank, topic, question, numbered, cache)


def _missing(bank: Bank, topic: Topic, wanted: list[tuple[Question, NumberedQuestion | None]], cache: BuildCache) -> list[tuple[Question, NumberedQuestion | None]]:
    """Which of the `wanted` questions of a topic (each with its number when the pages print it)
    `_warm` has something to render for: those of which `cache` lacks any value it makes."""
    return _lacking(wanted, [_shown(bank, topic, question, numbered is not None, cache) for question, numbered in wanted], cache)


def _lacking(wanted: list[tuple[Question, NumberedQuestion | None]], keys: list[list[str]], cache: BuildCache) -> list[tuple[Question, NumberedQuestion | None]]:
    """Which of the `wanted` questions `cache` lacks any of the values of, each question's `keys` given."""
    held = cache.present([key for question_keys in keys for key in question_keys])
    return [entry for entry, question_keys in zip(wanted, keys) if not held.issuperset(question_keys)]


def _shown(bank: Bank, topic: Topic, question: Question, printed: bool, cache: BuildCache) -> list[str]:
    """The cache keys of what `_warm` renders of a question: its notes, and its pages when `printed`."""
    key = cache.question_key(bank, topic, question)
    if not printed:
        return ["notes:" + key]
    language = bank.deck.language
    prefixes = ("print:", f"sheet-answers-{language}:", f"sheet-questions-{language}:", f"sheet-key-{language}:", f"search-{language}:")
    return ["notes:" + key, *(prefix + key for prefix in prefixes)]


def _mark(shown: Callable[[], list[list[str]]], cache: BuildCache) -> str:
    """The mark of a topic all of whose values are made, `shown()` being their keys (see `_render_ahead`)."""
    return cache.fragment_key("rendered-topic", shown())


def _render_ahead(found: list[tuple[Edition, Outline | None]], cache: BuildCache) -> None:
    """Render what `cache` does not hold of every edition's notes and (for each edition with the
    outline of what it prints) its pages, question by question: in worker processes when there
    is enough of it, else here. Either way the outputs then read each value from the cache, and
    no text is parsed again for a later output. What the cache holds is asked a topic at a time,
    so that the keys of only one topic are in memory at once.

    A topic whose values were all made is marked so, under its values' keys: when the next build
    finds the mark, it asks for none of that topic's values (one query, where there were one for
    each). A mark names only what was true when it was made; were a value of it gone from the
    cache since, the output that reads it would make it then, as it makes any value it does not find."""
    tasks: list[parallel.Task] = []
    made_whole: list[str] = []  # the mark of each topic whose values are all made once the tasks are done
    for made, shape in found:
        bank = made.bank
        numbers = {n.question.id: n for section in shape.sections for topic in section.topics for n in topic.questions} if shape else {}
        for topic in bank.topics:
            wanted = [(question, numbers.get(question.id)) for question in (*topic.questions, *topic.retired)]

            def shown(topic: Topic = topic, wanted: list[tuple[Question, NumberedQuestion | None]] = wanted, bank: Bank = bank) -> list[list[str]]:
                return [_shown(bank, topic, question, numbered is not None, cache) for question, numbered in wanted]

            # Hashed once while the topic, its questions' keys and which of them are printed are
            # unchanged, in a process that builds again and again (`BuildCache.derived`).
            printed = tuple(numbered is not None for _, numbered in wanted)
            around = (bank.deck.language, cache.topic_keys(bank, topic), printed)
            mark = cache.derived("rendered-topic", (topic,), around, partial(_mark, shown, cache))
            if cache.get(mark) is True:
                continue
            keys = shown()
            tasks += [partial(_warm, bank, topic, question, numbered) for question, numbered in _lacking(wanted, keys, cache)]
            made_whole.append(mark)
    if not parallel.run(cache, tasks, len(tasks) >= parallel.MIN_QUESTIONS):
        for task in tasks:
            task(cache)
    for mark in made_whole:
        cache.put(mark, True)
