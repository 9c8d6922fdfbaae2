"""The pipeline as named steps: load and validate, select, render, write atomically.

Nothing is written until every step before writing has succeeded. The outputs are written
into a new folder beside `--out`, which then takes the place of `--out` in one step
(deckgen.outdir), and the lock is written in one replace: however a build ends, `--out`
holds the old outputs or the new ones, and the lock is whole.
"""

from __future__ import annotations

import gc
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from deckgen.anki.notes import deck_notes
from deckgen.anki.package import bank_media, write_apkg
from deckgen.cache import CACHE_FILE, BuildCache
from deckgen.lint import lint_bank
from deckgen.lock import MAX_FUTURE, write_lock
from deckgen.model import Bank, DeckgenError, Diagnostic, Location, Question, Severity
from deckgen.outdir import Output, Staging, held_output
from deckgen.pdf import print_to_pdf
from deckgen.printsheet import print_pages
from deckgen.release import Release, read_release
from deckgen.outline import outline
from deckgen.render import forget_rendered
from deckgen.sheet import MEDIA_FOLDER, questions_sheet_lines, review_sheet_lines
from deckgen.timing import Timings, phase
from deckgen.validate import validate_bank

REVIEW_SHEET = "review-sheet.md"
QUESTIONS_SHEET = "review-questions.md"
REVIEW_HTML = "review-sheet.html"
QUESTIONS_HTML = "review-questions.html"


@dataclass(frozen=True)
class Selection:
    """Which part of the bank to build: a question is kept if it matches every filter given."""

    topics: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.topics or self.sections or self.tags)

    def keeps(self, question: Question) -> bool:
        """True if the question passes every filter."""
        return (
            (not self.topics or question.topic in self.topics)
            and (not self.sections or question.section in self.sections)
            and (not self.tags or any(tag in self.tags for tag in question.tags))
        )


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


def check(
    bank_dir: Path,
    accept_schema_change: bool = False,
    cache: BuildCache | None = None,
    timings: Timings | None = None,
    release: Release | None = None,
) -> tuple[Bank | None, list[Diagnostic]]:
    """Validate the bank, check it against what was released (the lock), then lint it.

    The bank is None when any error was found. A build passes the release it read and its
    cache, so that the lock is read once and files unchanged since the last build are not read again.
    """
    with fewer_collections():
        with phase(timings, "validate"):
            bank, diagnostics = validate_bank(bank_dir, cache)
        if bank is None:
            return None, diagnostics
        with phase(timings, "lock"):
            problems = (release or read_release(bank_dir)).bank_problems(bank, accept_schema_change, time.time())
        if problems:
            return None, sorted(diagnostics + problems, key=Diagnostic.sort_key)
        with phase(timings, "lint"):
            warnings = lint_bank(bank)
        return bank, sorted(diagnostics + warnings, key=Diagnostic.sort_key)


def checked_bank(
    bank_dir: Path,
    release: Release,
    strict: bool = False,
    accept_schema_change: bool = False,
    cache: BuildCache | None = None,
    timings: Timings | None = None,
) -> tuple[Bank, list[Diagnostic]]:
    """The valid bank and its warnings; DeckgenError on any error, or on any warning when strict."""
    bank, diagnostics = check(bank_dir, accept_schema_change, cache, timings, release)
    if bank is None or (strict and diagnostics):
        raise DeckgenError(diagnostics)
    return bank, diagnostics


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


def select(bank: Bank, selection: Selection) -> Bank:
    """The bank narrowed to the selection; unknown filter values are errors, as is an empty result."""
    problems = []
    known = {
        "topic": (selection.topics, {t.id for t in bank.topics}),
        "section": (selection.sections, {s.id for s in bank.deck.sections}),
        "tag": (selection.tags, {tag for q in bank.questions for tag in q.tags}),
    }
    for kind, (wanted, available) in known.items():
        for value in wanted:
            if value not in available:
                problems.append(
                    Diagnostic(Location(bank.root.as_posix()), Severity.ERROR, f"no {kind} '{value}' in this bank", "unknown-filter")
                )
    if problems:
        raise DeckgenError(problems)
    if not selection:
        return bank
    topics = []
    for topic in bank.topics:
        kept = tuple(q for q in topic.questions if selection.keeps(q))
        if kept:
            topics.append(replace(topic, questions=kept))
    if not topics:
        raise DeckgenError(
            [Diagnostic(Location(bank.root.as_posix()), Severity.ERROR, "the filters select no question", "unknown-filter")]
        )
    return replace(bank, topics=tuple(topics))


Writer = Callable[[Path], None]


def _write_error(target: Path, err: OSError) -> DeckgenError:
    reason = err.strerror or str(err)
    return DeckgenError([Diagnostic(Location(target.as_posix()), Severity.ERROR, f"cannot write the output: {reason}", "io")])


def write_outputs(writers: dict[Path, Writer], staging: Staging) -> None:
    """Write every output into the staging folder, where `--out` will take them from all at once.

    Raises DeckgenError, naming the output, when the file system refuses.
    """
    for target, write in writers.items():
        path = staging.path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
            os.chmod(path, 0o644)
        except OSError as err:
            raise _write_error(target, err) from err


def _copy_writer(source: Path) -> Writer:
    def write(path: Path) -> None:
        path.write_bytes(source.read_bytes())

    return write


def _lines_writer(lines: list[str]) -> Writer:
    """Write each line followed by a newline, without joining them in memory first."""

    def write(path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(line)
                out.write("\n")

    return write


def build(
    bank_dir: Path,
    out_dir: Path,
    selection: Selection = Selection(),
    strict: bool = False,
    accept_schema_change: bool = False,
    pdf: bool = False,
    timings: Timings | None = None,
) -> BuildResult:
    """Check, render and write the deck and both sheets, and bring the lock up to date.

    The outputs replace `out_dir` all at once, or not at all. The lock always describes the
    whole bank, so a subset build (any filter) reads it but never writes it.
    """
    with held_output(out_dir) as output:
        try:
            return _build(bank_dir, output, selection, strict, accept_schema_change, pdf, timings, BuildCache(out_dir))
        finally:
            forget_rendered()


def _build(
    bank_dir: Path,
    output: Output,
    selection: Selection,
    strict: bool,
    accept_schema_change: bool,
    pdf: bool,
    timings: Timings | None,
    cache: BuildCache,
) -> BuildResult:
    """Render and write everything with `cache`, into a new folder that then replaces the output folder."""
    out_dir = output.out
    with fewer_collections():
        try:
            release = read_release(bank_dir)
            chosen, writers, lock_text, warnings = _render(release, out_dir, selection, strict, accept_schema_change, cache, timings)
            outputs = list(writers)
            pdfs: list[Path] = []
            problems: list[Diagnostic] = []
            with output.staging() as staging:
                with phase(timings, "write"):
                    write_outputs(writers, staging)
                if pdf:
                    # Everything else is written first: a missing browser costs only the PDFs.
                    for html in (out_dir / REVIEW_HTML, out_dir / QUESTIONS_HTML):
                        target = html.with_suffix(".pdf")
                        try:
                            print_to_pdf(staging.path(html), staging.path(target))
                            pdfs.append(target)
                        except DeckgenError as err:
                            problems += [replace(d, location=d.location._replace(path=target.as_posix())) for d in err.diagnostics]
                with phase(timings, "cache"):
                    cache.save(staging.path(out_dir / CACHE_FILE))
                staging.switch()
            if lock_text is not None:
                try:
                    write_lock(release.path, lock_text)
                except OSError as err:
                    raise _write_error(release.path, err) from err
                outputs.append(release.path)
            outputs += pdfs
        finally:
            cache.close()
    return BuildResult(chosen, tuple(outputs), tuple(warnings), tuple(problems))


def _render(
    release: Release,
    out_dir: Path,
    selection: Selection,
    strict: bool,
    accept_schema_change: bool,
    cache: BuildCache,
    timings: Timings | None,
) -> tuple[Bank, dict[Path, Writer], str | None, list[Diagnostic]]:
    """Check the bank and render every output, to be written all at once, and the lock's new text
    (None when it is unchanged, or for a subset build, which never writes it)."""
    bank, warnings = checked_bank(release.bank_dir, release, strict, accept_schema_change, cache, timings)
    timestamp = int(build_time())
    with phase(timings, "render"):
        all_notes = deck_notes(bank, cache)
        chosen = select(bank, selection)
        shape = outline(chosen)
        notes = deck_notes(chosen, cache) if selection else all_notes
        review_page, questions_page = print_pages(shape, cache)
    with phase(timings, "update lock"):
        lock = release.next_lock(bank, all_notes, timestamp)
    apkg = out_dir / f"{bank.deck.slug}.apkg"
    with phase(timings, "sheets"):
        writers: dict[Path, Writer] = {
            apkg: lambda path: write_apkg(chosen, path, notes, lock),
            out_dir / REVIEW_SHEET: _lines_writer(review_sheet_lines(shape)),
            out_dir / QUESTIONS_SHEET: _lines_writer(questions_sheet_lines(shape)),
            out_dir / REVIEW_HTML: _lines_writer(review_page),
            out_dir / QUESTIONS_HTML: _lines_writer(questions_page),
        }
    for name, source in sorted(bank_media(chosen).items()):
        writers[out_dir / MEDIA_FOLDER / name] = _copy_writer(source)
    lock_text = None if selection else release.changed_text(lock)
    return chosen, writers, lock_text, warnings
