"""`deckgen diff`: what a release does to learners' decks, read from the packages themselves.

Two .apkg files are compared note by note, matched by GUID as Anki matches them. Two git
revisions of the banks are first built into packages, each with its own lock.

Both are untrusted: a package is read by deckgen.anki.read, which checks it at every
layer and refuses it with one located error; a revision reaches git only as a name to
resolve to a commit, whose SHA is all that git archive is given.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deckgen.anki.notes import RETIRED_TAG
from deckgen.anki.read import Package, PackageNote, field_text, read_package
from deckgen.model import DeckgenError, Diagnostic, Location, Severity, one_line


@dataclass
class DeckDiff:
    """Everything a release changes, as learners will see it."""

    added: list[PackageNote] = field(default_factory=list)
    changed: list[tuple[PackageNote, list[tuple[str, str, str]]]] = field(default_factory=list)
    retired: list[PackageNote] = field(default_factory=list)
    removed: list[PackageNote] = field(default_factory=list)
    guid_changed: list[tuple[str, str, str]] = field(default_factory=list)
    note_type_changes: list[str] = field(default_factory=list)
    schema_changes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Changes that cost learners something: lost history, or notes Anki stops updating."""
        return len(self.removed) + len(self.guid_changed) + len(self.schema_changes)


def _fail(where: str, message: str) -> DeckgenError:
    # A location is a path or a revision the user typed: it, too, must print on one line.
    return DeckgenError([Diagnostic(Location(one_line(where)), Severity.ERROR, message, "diff")])


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def diff_packages(old: Package, new: Package) -> DeckDiff:
    """Compare two packages note by note, by GUID, as Anki does on import."""
    result = DeckDiff()
    old_by_key = {n.key: n for n in old.notes.values()}
    for guid, note in sorted(new.notes.items(), key=lambda item: item[1].key):
        before = old.notes.get(guid)
        if before is None:
            moved = old_by_key.get(note.key)
            if moved is not None:
                result.guid_changed.append((note.key, moved.guid, guid))
            else:
                result.added.append(note)
            continue
        if RETIRED_TAG in note.tags and RETIRED_TAG not in before.tags:
            result.retired.append(note)
            continue
        fields = [
            (name, field_text(a), field_text(b))
            for (name, a), (_, b) in zip(before.fields, note.fields)
            if a != b
        ]
        if before.tags != note.tags:
            fields.append(("Tags", " ".join(sorted(before.tags)), " ".join(sorted(note.tags))))
        if fields:
            result.changed.append((note, fields))
    new_keys = {n.key for n in new.notes.values()}
    result.removed = sorted((n for g, n in old.notes.items() if g not in new.notes and n.key not in new_keys), key=lambda n: n.key)
    for model_id, before_type in sorted(old.note_types.items()):
        after = new.note_types.get(model_id)
        if after is None:
            result.schema_changes.append(f"note type '{before_type.name}' is gone")
        elif (before_type.fields, before_type.templates) != (after.fields, after.templates):
            result.schema_changes.append(
                f"note type '{after.name}' changed its fields ({', '.join(before_type.fields)} -> {', '.join(after.fields)}) "
                f"or templates ({', '.join(before_type.templates)} -> {', '.join(after.templates)}): Anki will add a copy "
                "and stop updating existing notes unless learners merge note types"
            )
        elif before_type.look != after.look:
            result.note_type_changes.append(f"note type '{after.name}': CSS or templates changed")
    return result


def _first_line(note: PackageNote) -> str:
    text = field_text(note.fields[1][1]) if len(note.fields) > 1 else ""
    return text if len(text) <= 90 else text[:87] + "..."


def _code(text: str) -> str:
    """`text` as a Markdown code span that no backtick in it can end."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if fence != "`" else f"`{text}`"


def _markdown_text(text: str) -> str:
    """Text from a package as Markdown that shows it as written: no link, image, emphasis or HTML."""
    return "".join("\\" + c if c in "\\`*_[]<>!#|~$&" else c for c in text)


def format_diff(diff: DeckDiff, markdown: bool = False) -> str:
    """The diff as plain text, or as Markdown for a pull request or release notes."""
    counts = (
        f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.retired)} retired, "
        f"{diff.problems} problem{'' if diff.problems == 1 else 's'}"
    )
    lines = [f"## Deck changes: {counts}" if markdown else f"deck changes: {counts}"]

    def section(title: str, items: list[str]) -> None:
        if not items:
            return
        lines.extend(["", f"### {title}", ""] if markdown else ["", f"{title}:"])
        lines.extend(items)

    code = _code if markdown else (lambda s: s)
    text = _markdown_text if markdown else (lambda s: s)
    bullet = "- " if markdown else "  "
    section(
        "Problems",
        [f"{bullet}removed without being retired: {code(n.key)}; learners keep it, and it is never updated again" for n in diff.removed]
        + [f"{bullet}GUID changed for {code(key)} ({old} -> {new}): learners get a duplicate and lose its history" for key, old, new in diff.guid_changed]
        + [f"{bullet}{change}" for change in diff.schema_changes],
    )
    section(f"Added ({len(diff.added)})", [f"{bullet}{code(n.key)}: {text(_first_line(n))}" for n in diff.added])
    changed: list[str] = []
    for note, fields in diff.changed:
        if markdown:
            changed += [f"- {code(note.key)}"]
            for name, before, after in fields:
                changed += [f"  - **{name}**", "    ```diff", f"    - {before}", f"    + {after}", "    ```"]
        else:
            changed += [f"  {note.key}"]
            for name, before, after in fields:
                changed += [f"    {name}:", f"      - {before}", f"      + {after}"]
    section(f"Changed ({len(diff.changed)})", changed)
    section(f"Retired ({len(diff.retired)})", [f"{bullet}{code(n.key)}: {text(_first_line(n))}" for n in diff.retired])
    section("Note types", [f"{bullet}{change}" for change in diff.note_type_changes])
    # Field text, keys and GUIDs come from the package: a control character in them must not
    # reach the terminal (an escape sequence could rewrite what the reader sees).
    return "\n".join(one_line(line) for line in lines) + "\n"


def _git_message(err: subprocess.CalledProcessError) -> str:
    """The first line git wrote to standard error, without its `fatal: `."""
    lines = (err.stderr or b"").decode(errors="replace").strip().splitlines()
    return one_line(lines[0].removeprefix("fatal: ")) if lines else f"git exited with status {err.returncode}"


def resolve_revision(revision: str, top: str) -> str:
    """The full SHA of the commit that `revision` names in the repository at `top`."""
    shown = one_line(revision)
    try:
        # --end-of-options: a revision such as `--output=FILE` is a name to look up, never
        # an option; ^{commit} refuses trees, blobs and ranges.
        found = subprocess.run(
            ["git", "-C", top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
            capture_output=True,
            text=True,
        )
    except ValueError as err:  # a NUL byte, which no revision holds
        raise _fail(shown, f"revision '{shown}' is not a commit in this repository") from err
    except OSError as err:
        raise _fail(shown, f"cannot run git to read revision '{shown}': {err.strerror or err}") from err
    sha = found.stdout.strip()
    # rev-parse can answer 0 with something else than one SHA (`^HEAD` prints `^<sha>`).
    if found.returncode != 0 or not _SHA.fullmatch(sha):
        raise _fail(shown, f"revision '{shown}' is not a commit in this repository")
    return sha


def _export_revision(revision: str, bank_dir: Path, target: Path) -> Path:
    """Extract the bank folder as it is at a git revision into `target`; return the extracted bank."""
    shown = one_line(revision)
    try:
        top = os.fsdecode(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, check=True).stdout).strip()
    except subprocess.CalledProcessError as err:
        raise _fail(shown, f"cannot read git revision '{shown}': {_git_message(err)}") from err
    except OSError as err:
        raise _fail(shown, f"cannot run git to read revision '{shown}': {err.strerror or err}") from err
    try:
        rel = bank_dir.resolve().relative_to(Path(top).resolve()).as_posix()
    except ValueError as err:
        raise _fail(shown, f"cannot read the banks at git revision '{shown}': {one_line(bank_dir.as_posix())} is outside the repository {one_line(top)}") from err
    sha = resolve_revision(revision, top)
    try:
        # Only the SHA reaches git archive, and the path comes after `--`; `-C top`, as a
        # pathspec is read from the current folder.
        archive = subprocess.run(["git", "-C", top, "archive", "--format=tar", sha, "--", rel], capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as err:
        raise _fail(shown, f"cannot read the banks at git revision '{shown}': {_git_message(err)}") from err
    except OSError as err:
        raise _fail(shown, f"cannot run git to read revision '{shown}': {err.strerror or err}") from err
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    except tarfile.TarError as err:  # e.g. a symlink out of the bank, which the data filter refuses
        raise _fail(shown, f"cannot read the banks at git revision '{shown}': {one_line(str(err))}") from err
    return target / rel


def package_for(spec: str | None, bank_dir: Path, work: Path, language: str = "en") -> Path:
    """An .apkg for OLD or NEW: the file itself, a build of the banks at a git revision, or
    (for None) a build of the banks as they are now, in the edition of `language`. Builds
    happen in `work`, never in place."""
    from deckgen.build import build  # diff is a consumer of the pipeline, not a step of it

    if spec is not None and spec.endswith(".apkg"):
        path = Path(spec)
        if not path.is_file():
            raise _fail(spec, "no such .apkg file")
        return path
    if spec is None:
        if not bank_dir.is_dir():
            raise _fail(bank_dir.as_posix(), "bank folder not found")
        bank = work / "tree" / bank_dir.name
        shutil.copytree(bank_dir, bank)
    else:
        bank = _export_revision(spec, bank_dir, work / "tree")
    result = build(bank, work / "out")
    packages = [p for p in result.outputs if p.suffix == ".apkg"]
    # A deck's slug has no dot: `nlp-pretraining.apkg`, and `nlp-pretraining.zh.apkg` for an edition.
    found = next((p for p in packages if p.stem.partition(".")[2] == ("" if language == "en" else language)), None)
    if found is None:
        shown = "the working tree" if spec is None else f"revision '{one_line(spec)}'"
        raise _fail(spec or bank_dir.as_posix(), f"{shown} has no '{language}' edition (deck.yaml's languages)")
    return found


def diff(old: str, new: str | None, bank_dir: Path, language: str = "en") -> DeckDiff:
    """What NEW changes compared with OLD (each an .apkg or a git revision; NEW None is the
    working tree), in the edition of `language`."""
    with tempfile.TemporaryDirectory(prefix="deckgen-diff-") as tmp:
        work = Path(tmp)
        (work / "old").mkdir()
        (work / "new").mkdir()
        before = read_package(package_for(old, bank_dir, work / "old", language))
        after = read_package(package_for(new, bank_dir, work / "new", language))
    return diff_packages(before, after)
