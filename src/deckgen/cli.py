"""The command line: parse options, call the library, turn DeckgenError into exit codes."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

import deckgen
from deckgen.build import BuildOptions, BuildResult, Selection, build_deck, check
from deckgen.cache import BuildCache
from deckgen.diff import diff, format_diff
from deckgen.lock import lock_path, repair_lock
from deckgen.release import record_release
from deckgen.model import DeckgenError, Diagnostic, LockNotWritten, one_line
from deckgen.printsheet import LAYOUTS, PAPERS, PrintStyle
from deckgen.references import DEFAULT_BANK_DIR
from deckgen.report import FORMATS, as_json, github_annotation, plural, summary
from deckgen.outdir import OutputBusy
from deckgen.outputs.site import SITE_FOLDER
from deckgen.scaffold import new_question, new_topic, new_translation
from deckgen.schema import REFERENCE_FILE, SCHEMA_DIR, SCHEMA_FILES, reference_text, schema_text
from deckgen.stats import bank_stats, deck_counts, format_stats
from deckgen.timing import Timings, phase
from deckgen.load import load_bank
from deckgen.watch import Outcome, Watcher

BANK_DIR = click.argument("bank_dir", default=DEFAULT_BANK_DIR, type=click.Path(path_type=Path))
STRICT = click.option("--strict", is_flag=True, help="Treat warnings as errors.")
TIMINGS = click.option("--timings", is_flag=True, help="Also print the seconds each step took (to standard error).")


def _report(diagnostics: Sequence[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        click.echo(str(diagnostic), err=True)


@contextmanager
def _failing(summary_line: str | None = "{}") -> Iterator[None]:
    """Turn a DeckgenError into its diagnostics, then `summary_line` (its `{}` the summary; None
    for none), on standard error, and exit status 1. A build that wrote its outputs but not its
    lock says so instead (`_failed_line`)."""
    try:
        yield
    except DeckgenError as err:
        _report(err.diagnostics)
        if isinstance(err, LockNotWritten):
            click.echo(_failed_line(err), err=True)
        elif summary_line is not None:
            click.echo(summary_line.format(summary(err.diagnostics)), err=True)
        raise SystemExit(1) from None


def _failed_line(err: DeckgenError, unchanged: str = "nothing was written") -> str:
    """The last line of a build that failed: what it left written."""
    left = "the outputs were written, the lock was not" if isinstance(err, LockNotWritten) else unchanged
    return f"build failed: {summary(err.diagnostics)}; {left}"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"deckgen {deckgen.__version__}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help="Show the version and exit.")
def main() -> None:
    """Compile YAML question banks into an Anki deck and printable review sheets."""


def _build_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of what a build writes, shared by build and watch."""
    options = [
        BANK_DIR,
        click.option("--out", "out_dir", default="build", show_default=True, type=click.Path(path_type=Path), help="Folder for the deck and sheets."),
        click.option("--topic", "topics", multiple=True, metavar="ID", help="Build only this topic (repeatable)."),
        click.option("--section", "sections", multiple=True, metavar="ID", help="Build only this section (repeatable)."),
        click.option("--tag", "tags", multiple=True, metavar="TAG", help="Build only questions with this tag (repeatable)."),
        STRICT,
        click.option(
            "--accept-schema-change",
            is_flag=True,
            help="Release note types whose fields or templates changed (learners must then merge note types).",
        ),
        click.option("--pdf", is_flag=True, help="Also print both HTML sheets to PDF with headless Chromium."),
        click.option(
            "--layout",
            type=click.Choice(LAYOUTS),
            default="full",
            show_default=True,
            help="The printed sheets' layout: full (one column, 11 pt) or compact (two columns, 9.5 pt).",
        ),
        click.option("--paper", type=click.Choice(tuple(PAPERS)), default="letter", show_default=True, help="The printed sheets' paper size."),
        click.option("--lang", "languages", multiple=True, metavar="LANG", help="Write only this edition (repeatable): en, or a language deck.yaml lists."),
        TIMINGS,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _options(
    bank_dir: Path,
    out_dir: Path,
    topics: tuple[str, ...],
    sections: tuple[str, ...],
    tags: tuple[str, ...],
    strict: bool,
    accept_schema_change: bool,
    pdf: bool,
    layout: str,
    paper: str,
    languages: tuple[str, ...],
    timings: bool,
) -> BuildOptions:
    """The build that `_build_options` ask for."""
    selection = Selection(topics, sections, tags)
    clock = Timings() if timings else None
    return BuildOptions(bank_dir, out_dir, selection, strict, accept_schema_change, pdf, clock, PrintStyle(layout, paper), languages or None)


def _built(result: BuildResult, out_dir: Path) -> bool:
    """Say what a build wrote (the warnings first); False if a PDF could not be printed."""
    _report(result.warnings)
    click.echo(f"built {deck_counts(result.bank).phrase()} from {plural(len(result.bank.topics), 'topic')}:")
    site = out_dir / SITE_FOLDER
    pages = [path for path in result.outputs if path.is_relative_to(site)]
    for path in dict.fromkeys(result.outputs):  # a file both editions show (an image) once
        if path not in pages:
            click.echo(f"  {one_line(path.as_posix())}")
    if pages:  # the site is many small files: one line for all of them
        click.echo(f"  {one_line(site.as_posix())}/ ({plural(len(pages), 'file')}; open index.html)")
    if result.pdf_problems:
        _report(result.pdf_problems)
        click.echo(f"PDF failed: {summary(result.pdf_problems)}; everything else was written", err=True)
        return False
    return True


@main.command("build")
@_build_options
def build_command(**chosen: Any) -> None:
    """Build the .apkg deck and the review sheets from BANK_DIR (default: questions), and update its deck.lock."""
    options = _options(**chosen)
    clock = options.timings
    with _failing("build failed: {}; nothing was written"), phase(clock, "total"):
        result = build_deck(options)
    if clock is not None:
        click.echo(clock.format(), err=True)
    if not _built(result, options.out_dir):
        raise SystemExit(1)


@main.command("watch")
@_build_options
@click.option(
    "--interval", type=click.FloatRange(0.05, 60.0), default=0.5, show_default=True, help="Seconds between looks at the bank's files."
)
def watch_command(interval: float, **chosen: Any) -> None:
    """Build as 'deckgen build' does, then again each time a file of BANK_DIR changes, until Ctrl-C.

    Each build writes all its outputs or none, as 'deckgen build' does, and updates deck.lock;
    one that fails says why and leaves the outputs as they were, and the next change is built.
    """
    options = _options(**chosen)
    watcher = Watcher(options)
    try:
        shown = _watched(watcher, [], options.out_dir, None)
        click.echo(one_line(f"watching {options.bank_dir.as_posix()} for changes; press Ctrl-C to stop"))
        while True:
            changed = watcher.wait(interval)
            named = ", ".join(changed[:3]) + (f" and {plural(len(changed) - 3, 'other file')}" if len(changed) > 3 else "")
            if shown is None or not isinstance(shown.error, OutputBusy):
                click.echo(one_line(f"changed: {named}; building again"))
            shown = _watched(watcher, changed, options.out_dir, shown)
    except KeyboardInterrupt:
        click.echo("stopped watching")


def _watched(watcher: Watcher, changed: list[str], out_dir: Path, last: Outcome | None) -> Outcome | None:
    """Build for a watch, and say what the build wrote or why it failed; the outcome (None after a
    fault of deckgen's own). Another build holding the output folder is said once, not at each look."""
    try:
        outcome = watcher.build(changed)
    except Exception:  # a fault of deckgen's own: its cache is gone (`build_deck`), the watch goes on
        click.echo(traceback.format_exc(), err=True, nl=False)
        click.echo("build failed: a fault of deckgen's own, not of the bank (above); please report it", err=True)
        return None
    if outcome.timings is not None:
        click.echo(outcome.timings.format(), err=True)
    if isinstance(outcome.error, OutputBusy):
        if last is None or not isinstance(last.error, OutputBusy):
            _report(outcome.error.diagnostics)
            click.echo("waiting for it: the change is built when it has finished", err=True)
    elif outcome.error is not None:
        _report(outcome.error.diagnostics)
        click.echo(_failed_line(outcome.error, "the outputs are as they were"), err=True)
    elif outcome.result is not None:
        _built(outcome.result, out_dir)
    return outcome


@main.command("check")
@BANK_DIR
@STRICT
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people; github for workflow annotations; json for other tools (both on standard output).",
)
@click.option("--locked", is_flag=True, help="Also fail if deck.lock is not what 'deckgen build' would write.")
@click.option(
    "--out",
    "out_dir",
    default="build",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The build folder, whose cache (if any) spares check the files unchanged since that build; check writes nothing there.",
)
@TIMINGS
def check_command(bank_dir: Path, strict: bool, output_format: str, locked: bool, out_dir: Path, timings: bool) -> None:
    """Validate and lint BANK_DIR and report every problem; writes nothing."""
    clock = Timings() if timings else None
    cache = BuildCache(out_dir, writable=False, keep_made=False)
    try:
        with phase(clock, "total"):
            bank, diagnostics = check(bank_dir, timings=clock, locked=locked, cache=cache)
    finally:
        cache.close()
    if clock is not None:
        click.echo(clock.format(), err=True)
    failed = bank is None or (strict and bool(diagnostics))
    if output_format == "github":
        for diagnostic in diagnostics:
            click.echo(github_annotation(diagnostic))
        click.echo(summary(diagnostics), err=True)
        raise SystemExit(1 if failed else 0)
    if output_format == "json":
        click.echo(as_json(diagnostics))
        raise SystemExit(1 if failed else 0)
    _report(diagnostics)
    if bank is None or failed:
        click.echo(summary(diagnostics), err=True)
        raise SystemExit(1)
    click.echo(f"{summary(diagnostics)}; {deck_counts(bank).phrase()} in {plural(len(bank.topics), 'topic')}")


@main.command("stats")
@BANK_DIR
def stats_command(bank_dir: Path) -> None:
    """Count cards per section and topic, and list the sources no card cites."""
    with _failing():
        bank = load_bank(bank_dir)
    click.echo(format_stats(bank, bank_stats(bank)), nl=False)


@main.command("diff")
@click.argument("old")
@click.argument("new", required=False)
@click.option("--bank", "bank_dir", default=DEFAULT_BANK_DIR, show_default=True, type=click.Path(path_type=Path), help="The bank folder, for git revisions.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
@click.option("--lang", "language", default="en", show_default=True, metavar="LANG", help="The edition to compare, for git revisions: en, or a language deck.yaml lists.")
def diff_command(old: str, new: str | None, bank_dir: Path, output_format: str, language: str) -> None:
    """Show what a release changes for learners.

    OLD and NEW are .apkg files or git revisions of the banks; without NEW, the banks as
    they are now. Lists notes added, changed (field by field) and retired, and anything
    that would cost learners their history. With --lang, the edition in that language:
    what its learners get, translations included.
    """
    with _failing("diff failed: {}"):
        result = diff(old, new, bank_dir, language)
    click.echo(format_diff(result, markdown=output_format == "markdown"), nl=False)


@main.command("repair-lock")
@BANK_DIR
@click.option(
    "--released",
    "package",
    metavar="PACKAGE",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Record PACKAGE, the .apkg of the deck's current version as learners have it, as what the last release shipped.",
)
def repair_lock_command(bank_dir: Path, package: Path | None) -> None:
    """Set every time in deck.lock that lies in the future back to now.

    A build run with a wrong clock or SOURCE_DATE_EPOCH stamps notes with a future time;
    check refuses such a lock, since every later release would overwrite learners' edits.

    With --released, record instead what the current version shipped, from its package: the
    next version then tags exactly the notes whose text differs from it. A lock written before
    deckgen recorded releases needs this once if the banks changed since that release.
    """
    if package is not None:
        with _failing(None):
            found = record_release(bank_dir, package)
        click.echo(
            one_line(
                f"recorded {package.as_posix()} as version {found.version} in {lock_path(bank_dir).as_posix()}: "
                f"{plural(found.kept, 'note')} as it shipped them, {found.changed} changed since, {found.added} new; commit the lock"
            )
        )
        return
    now = int(time.time())
    with _failing(None):
        count = repair_lock(bank_dir, now)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    if count == 0:
        click.echo(one_line(f"{lock_path(bank_dir).as_posix()} holds no time later than now: nothing to repair"))
    else:
        click.echo(one_line(f"set {plural(count, 'time')} in {lock_path(bank_dir).as_posix()} back to {when}; commit the lock"))


_FILL_IN = "rename the question's id, pick its sources and replace its TODOs, then run 'deckgen check --strict'"


@main.command("new")
@click.argument("topic_id", required=False)
@click.option("--section", metavar="ID", help="The section of a new topic (a section id from deck.yaml).")
@click.option("--title", help="The new topic's display title.")
@click.option("--question", "question_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="Add a question to this topic file instead.")
@click.option(
    "--translate", "translate_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Start or extend this topic file's translation (--lang), with an entry for each question it lacks.",
)
@click.option("--lang", "language", default="zh", show_default=True, metavar="LANG", help="The edition --translate writes.")
@click.option("--bank", "bank_dir", default=DEFAULT_BANK_DIR, show_default=True, type=click.Path(path_type=Path))
def new_command(
    topic_id: str | None, section: str | None, title: str | None, question_file: Path | None, translate_file: Path | None, language: str, bank_dir: Path
) -> None:
    """Start a topic file (TOPIC_ID --section ID), add a question to one (--question FILE), or
    start its translation (--translate FILE --lang LANG).

    The entry has an id to rename, the section's sources to pick from and texts that say
    TODO; check reports each until it is replaced. A translation's entries hold the English,
    after "TODO translate:", and the hashes of what they translate.
    """
    with _failing(None):
        if translate_file is not None:
            if topic_id is not None or question_file is not None:
                raise click.UsageError("give --translate FILE alone")
            overlay, added = new_translation(bank_dir, translate_file, language)
            what = f"added {len(added)} entries to translate" if added else "every question already has an entry"
            click.echo(one_line(f"{overlay.as_posix()}: {what}: replace each 'TODO translate:' text, then run 'deckgen check --strict'"))
            return
        if question_file is not None:
            if topic_id is not None:
                raise click.UsageError("give either TOPIC_ID or --question, not both")
            question_id = new_question(bank_dir, question_file)
            click.echo(one_line(f"added question '{question_id}' to {question_file.as_posix()}: {_FILL_IN}"))
            return
        if topic_id is None or section is None:
            raise click.UsageError("a new topic needs TOPIC_ID and --section (or use --question FILE)")
        path = new_topic(bank_dir, topic_id, section, title)
        click.echo(one_line(f"created {path.as_posix()}: {_FILL_IN}"))


@main.command("schema")
@click.option("--out", "out_dir", default=SCHEMA_DIR, show_default=True, type=click.Path(path_type=Path), help="Folder for the schema files.")
def schema_command(out_dir: Path) -> None:
    """Write the JSON Schemas that editors use for completion and inline errors, and the keys' reference."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind, name in SCHEMA_FILES.items():
        (out_dir / name).write_text(schema_text(kind), encoding="utf-8", newline="\n")
        click.echo(one_line(f"  {(out_dir / name).as_posix()}"))
    (out_dir / REFERENCE_FILE).write_text(reference_text(), encoding="utf-8", newline="\n")
    click.echo(one_line(f"  {(out_dir / REFERENCE_FILE).as_posix()}"))
