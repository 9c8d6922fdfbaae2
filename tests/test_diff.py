"""`deckgen diff`: what a release changes, from two packages or two git revisions.

Packages are read by deckgen.anki.read: its refusals are tested here, as `deckgen diff` prints them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deckgen.anki import ids
from deckgen.anki.read import COLLECTION_LIMIT, NOTE_LIMIT, MiB, field_text, read_package
from deckgen.build import build
from deckgen.cli import main
from deckgen.diff import diff, diff_packages, format_diff
from deckgen.model import DeckgenError
from tests.conftest import FIXTURES, GOLDEN, check_golden
from tests.conftest import new_look, release_v2


@pytest.fixture
def two_releases(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    epoch(1_700_000_000)
    v1 = tmp_path / "v1.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v1)
    release_v2(mini_bank)
    new_look(monkeypatch)
    epoch(1_750_000_000)
    v2 = tmp_path / "v2.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v2)
    return v1, v2


def test_diff_of_two_packages_as_text_and_markdown(two_releases: tuple[Path, Path]) -> None:
    v1, v2 = two_releases
    result = diff_packages(read_package(v1), read_package(v2))
    assert result.problems == 0
    check_golden(GOLDEN / "diff.txt", format_diff(result))
    check_golden(GOLDEN / "diff.md", format_diff(result, markdown=True))


def test_diff_through_the_cli(two_releases: tuple[Path, Path]) -> None:
    v1, v2 = two_releases
    result = CliRunner().invoke(main, ["diff", str(v1), str(v2)])
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "diff.txt").read_text(encoding="utf-8")


def test_diff_flags_changed_guids_and_removed_notes(
    mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch(1_700_000_000)
    v1 = tmp_path / "v1.apkg"
    shutil.copy(build(mini_bank, tmp_path / "out").outputs[0], v1)
    (mini_bank / "deck.lock").unlink()
    lora = mini_bank / "extra" / "lora.yml"
    text = lora.read_text(encoding="utf-8")
    lora.write_text(text[: text.index("  - id: lora-code")], encoding="utf-8")
    monkeypatch.setattr(ids, "GUID_NAMESPACE", "not-deckgen")
    v2 = build(mini_bank, tmp_path / "out2").outputs[0]
    result = diff_packages(read_package(v1), read_package(v2))
    assert [note.key for note in result.removed] == ["lora-code"]
    assert [key for key, _, _ in result.guid_changed] == ["formula", "hostile", "lora-adapter/latency", "lora-adapter/where", "why-scale"]
    text = format_diff(result)
    assert text.startswith("deck changes: 0 added, 0 changed, 0 retired, 6 problems\n\nProblems:\n")
    assert "  removed without being retired: lora-code; learners keep it, and it is never updated again\n" in text


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def git_repo(mini_bank: Path, tmp_path: Path) -> Path:
    """A repository whose banks (in questions/) have two commits: v1, then v2 at HEAD."""
    repo = tmp_path / "repo"
    shutil.copytree(mini_bank, repo / "questions")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "v1")
    release_v2(repo / "questions")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qam", "v2")
    return repo


def test_diff_of_two_git_revisions(mini_bank: Path, tmp_path: Path, epoch: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo(mini_bank, tmp_path)
    monkeypatch.chdir(repo)
    epoch(1_700_000_000)
    result = CliRunner().invoke(main, ["diff", "HEAD~1", "HEAD", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## Deck changes: 1 added, 1 changed, 1 retired, 0 problems\n")
    # Without NEW, the working tree; nothing in it may change.
    (repo / "questions" / "attention.yaml").write_text(
        (repo / "questions" / "attention.yaml").read_text(encoding="utf-8").replace("flat region", "plateau"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["diff", "HEAD"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("deck changes: 0 added, 1 changed, 0 retired, 0 problems\n")
    assert not (repo / "questions" / "deck.lock").exists()
    bad = CliRunner().invoke(main, ["diff", "no-such-revision"])
    assert bad.exit_code == 1
    assert bad.stderr == (
        "no-such-revision:1:1: error: revision 'no-such-revision' is not a commit in this repository [diff]\n"
        "diff failed: 1 error, 0 warnings in 1 file\n"
    )
    # From inside the bank folder: git reads pathspecs from the current folder, deckgen from the top.
    monkeypatch.chdir(repo / "questions")
    result = CliRunner().invoke(main, ["diff", "HEAD~1", "HEAD", "--bank", "."])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("deck changes: 1 added, 1 changed, 1 retired, 0 problems\n")


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--", "--output=FILE"], "--output=FILE"),
        (["HEAD", "--", "--output=FILE"], "--output=FILE"),
        (["--", "--list"], "--list"),
        (["--", "-x"], "-x"),
        (["--", "--remote=.."], "--remote=.."),
        (["--", "HEAD\n--output=FILE"], "HEAD\\n--output=FILE"),
        (["--", "HEAD\x1b[2J"], "HEAD\\x1b[2J"),
        (["--", "HEAD\x00--output=FILE"], "HEAD\\x00--output=FILE"),
        (["--", "HEAD^{tree}"], "HEAD^{tree}"),
        (["--", "HEAD:questions/deck.yaml"], "HEAD:questions/deck.yaml"),
        (["--", "^HEAD"], "^HEAD"),
        (["--", "HEAD~1..HEAD"], "HEAD~1..HEAD"),
        (["--", ""], ""),
    ],
)
def test_a_revision_is_only_ever_a_name_to_resolve(
    args: list[str], shown: str, mini_bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(mini_bank, tmp_path)
    (repo / "FILE").write_text("precious\n", encoding="utf-8")
    monkeypatch.chdir(repo)
    before = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts)
    result = CliRunner().invoke(main, ["diff", *args])
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"{shown}:1:1: error: revision '{shown}' is not a commit in this repository [diff]\ndiff failed: 1 error, 0 warnings in 1 file\n"
    )
    assert (repo / "FILE").read_text(encoding="utf-8") == "precious\n"
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts) == before


def test_a_link_out_of_the_bank_at_a_revision_is_refused(mini_bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo(mini_bank, tmp_path)
    (repo / "questions" / "passwd.yaml").symlink_to("/etc/passwd")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "link")
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["diff", "HEAD"])
    assert result.exit_code == 1
    assert result.stderr == (
        "HEAD:1:1: error: cannot read the banks at git revision 'HEAD': 'questions/passwd.yaml' is a link to an absolute path [diff]\n"
        "diff failed: 1 error, 0 warnings in 1 file\n"
    )


def test_an_option_without_the_separator_is_a_usage_error(mini_bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_repo(mini_bank, tmp_path)
    monkeypatch.chdir(repo)
    for option, name in (("--output=FILE", "--output"), ("--list", "--list"), ("-x", "-x")):
        result = CliRunner().invoke(main, ["diff", option])
        assert result.exit_code == 2
        assert result.stderr.endswith(f"\n\nError: No such option '{name}'.\n")
    assert not (repo / "FILE").exists()


def test_revisions_outside_a_repository_and_a_missing_bank(real_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(real_package.resolve().parent.parent))
    result = CliRunner().invoke(main, ["diff", "HEAD"])
    assert result.exit_code == 1
    assert result.stderr.startswith("HEAD:1:1: error: cannot read git revision 'HEAD': not a git repository")
    result = CliRunner().invoke(main, ["diff", "good.apkg", "--bank", "nope"])
    assert result.stderr == "nope:1:1: error: bank folder not found [diff]\ndiff failed: 1 error, 0 warnings in 1 file\n"
    result = CliRunner().invoke(main, ["diff", "no\nsuch.apkg"])
    assert result.stderr == "no\\nsuch.apkg:1:1: error: no such .apkg file [diff]\ndiff failed: 1 error, 0 warnings in 1 file\n"


# Malformed packages: each is made from a real one that deckgen builds, by editing its
# collection or its zip, and each is refused by deckgen.anki.read with one located line,
# which `deckgen diff` prints.


@pytest.fixture
def real_package(mini_bank: Path, in_tmp: Path, epoch: Callable[[int], None]) -> Path:
    """A package deckgen builds from the mini bank, as good.apkg in the current folder."""
    epoch(1_700_000_000)
    return Path(shutil.copy(build(mini_bank, Path("out")).outputs[0], "good.apkg"))


def collection_of(package: Path, folder: Path) -> Path:
    """The package's collection.anki2, extracted into `folder`."""
    target = folder / "collection.anki2"
    with zipfile.ZipFile(package) as archive:
        target.write_bytes(archive.read("collection.anki2"))
    return target


def rezip(package: Path, target: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """`package` with some members replaced or added (and those mapped to b"" dropped)."""
    with zipfile.ZipFile(package) as source:
        kept = {name: source.read(name) for name in source.namelist()}
    kept.update(members)
    with zipfile.ZipFile(target, "w", compression) as archive:
        for name, data in kept.items():
            if data:
                archive.writestr(name, data)
    return target


def tampered(package: Path, edit: Callable[[sqlite3.Connection], object]) -> Path:
    """A copy of `package`, old.apkg, whose collection `edit` has changed."""
    with tempfile.TemporaryDirectory() as tmp:
        db_path = collection_of(package, Path(tmp))
        connection = sqlite3.connect(db_path)
        edit(connection)
        connection.commit()
        connection.close()
        return rezip(package, Path("old.apkg"), {"collection.anki2": db_path.read_bytes()})


def sql(*statements: str) -> Callable[[sqlite3.Connection], object]:
    return lambda connection: connection.executescript(";".join(statements))


def models_edit(change: Callable[[dict[str, dict[str, object]]], object]) -> Callable[[sqlite3.Connection], object]:
    """An edit of the models JSON, which `change` edits in place."""

    def edit(connection: sqlite3.Connection) -> None:
        (raw,) = connection.execute("SELECT models FROM col").fetchone()
        models = json.loads(raw)
        change(models)
        connection.execute("UPDATE col SET models = ?", (json.dumps(models),))

    return edit


def refusal(path: Path) -> str:
    """The one line `deckgen diff` prints for a package it refuses."""
    with pytest.raises(DeckgenError) as caught:
        read_package(path)
    [diagnostic] = caught.value.diagnostics
    result = CliRunner().invoke(main, ["diff", path.as_posix(), "good.apkg"])
    assert result.exit_code == 1
    assert result.stderr == f"{diagnostic}\ndiff failed: 1 error, 0 warnings in 1 file\n"
    return str(diagnostic)


def first_note(package: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        connection = sqlite3.connect(collection_of(package, Path(tmp)))
        (nid,) = connection.execute("SELECT min(id) FROM notes").fetchone()
        connection.close()
    assert isinstance(nid, int)
    return nid


def note_type_ids(package: Path) -> list[int]:
    return sorted(read_package(package).note_types)


def test_a_real_package_reads(real_package: Path) -> None:
    package = read_package(real_package)
    assert len(package.notes) == 6
    assert note_type_ids(real_package) == [1691839207, 1691839208]


def test_a_file_that_is_not_a_zip(real_package: Path) -> None:
    Path("old.apkg").write_bytes(b"PK\x03\x04 but not a zip")
    assert refusal(Path("old.apkg")) == "old.apkg:1:1: error: not a deckgen .apkg (not a readable zip: File is not a zip file) [diff]"


def test_a_zip_without_a_collection(real_package: Path) -> None:
    rezip(real_package, Path("old.apkg"), {"collection.anki2": b""})
    assert refusal(Path("old.apkg")) == "old.apkg:1:1: error: not a deckgen .apkg (it has no collection.anki2) [diff]"


@pytest.mark.parametrize("later", ["collection.anki21", "collection.anki21b"])
def test_a_package_from_a_later_anki(real_package: Path, later: str) -> None:
    # Anki 2.1.28+ keeps a placeholder in collection.anki2: it must not be read as the deck.
    rezip(real_package, Path("old.apkg"), {later: b"the real collection"})
    assert refusal(Path("old.apkg")) == (
        f"old.apkg:1:1: error: not a deckgen .apkg (it holds {later}, from a later Anki; "
        "deckgen diff reads the collection.anki2 that deckgen writes) [diff]"
    )
    rezip(real_package, Path("old.apkg"), {later: b"the real collection", "collection.anki2": b""})
    assert refusal(Path("old.apkg")).startswith(f"old.apkg:1:1: error: not a deckgen .apkg (it holds {later}, ")


def test_a_collection_that_is_not_sqlite(real_package: Path) -> None:
    rezip(real_package, Path("old.apkg"), {"collection.anki2": b"SQLite format 2\x00" + bytes(200)})
    assert refusal(Path("old.apkg")) == (
        "old.apkg:1:1: error: not a deckgen .apkg (its collection.anki2 is not a readable SQLite database: file is not a database) [diff]"
    )


def test_a_collection_compressed_another_way_or_encrypted(real_package: Path) -> None:
    rezip(real_package, Path("old.apkg"), {}, zipfile.ZIP_BZIP2)
    assert refusal(Path("old.apkg")) == (
        "old.apkg:1:1: error: not a deckgen .apkg (its collection.anki2 is compressed with zip method 12, not deflate) [diff]"
    )
    rezip(real_package, Path("old.apkg"), {})
    data = bytearray(Path("old.apkg").read_bytes())
    for signature, flags_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        at = data.index(signature) + flags_at
        data[at] |= 0x1
    Path("old.apkg").write_bytes(bytes(data))
    assert refusal(Path("old.apkg")) == "old.apkg:1:1: error: not a deckgen .apkg (its collection.anki2 is encrypted) [diff]"


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        (["DROP TABLE notes"], "its collection has no notes table"),
        (["DROP TABLE col"], "its collection has no col table"),
        # A view could compute rows without end: only stored tables are read.
        (["ALTER TABLE notes RENAME TO stored", "CREATE VIEW notes AS SELECT * FROM stored"], "its collection has no notes table"),
        (["ALTER TABLE notes DROP COLUMN tags"], "its collection has no notes.tags column"),
        (["ALTER TABLE col DROP COLUMN models"], "its collection has no col.models column"),
        (["ALTER TABLE notes RENAME COLUMN mid TO mid2", "ALTER TABLE notes ADD COLUMN mid INTEGER GENERATED ALWAYS AS (mid2) VIRTUAL"],
         "its collection has no notes.mid column"),
        (["DELETE FROM col"], "its col table has 0 rows, not 1"),
        (["INSERT INTO col SELECT id + 1, crt, mod, scm, ver, dty, usn, ls, conf, models, decks, dconf, tags FROM col"],
         "its col table has 2 rows, not 1"),
        (["UPDATE col SET models = '{\"a\": [1, 2'"], "its note types are not JSON"),
        (["UPDATE col SET models = '[]'"], "its note types are not a JSON object"),
        (["UPDATE col SET models = CAST(models AS BLOB)"], "its note types are a blob, not JSON text"),
        (["UPDATE col SET models = '\"deckgen\"'"], "its note types are not a JSON object"),
        (["UPDATE col SET models = CAST(x'7b22ff223a317d' AS TEXT)"], "its note types are not UTF-8 text"),
        (["UPDATE col SET models = printf('{\"a\": %.*c%.*c}', 100000, '[', 100000, ']')"], "its note types are JSON nested too deeply"),
        (["UPDATE col SET models = '{\"1\": 5}'"], "a note type is not a JSON object"),
        (["UPDATE col SET models = printf('{\"a\": \"%.*c\"}', 16 * 1024 * 1024, 'x')"],
         "its note types take 16777225 bytes, more than the 16 MiB deckgen diff reads"),
    ],
)
def test_a_collection_that_is_not_deckgens(real_package: Path, statements: list[str], reason: str) -> None:
    assert refusal(tampered(real_package, sql(*statements))) == f"old.apkg:1:1: error: not a deckgen .apkg ({reason}) [diff]"


def test_note_types_that_are_not_deckgens(real_package: Path) -> None:
    first, second = note_type_ids(real_package)
    cases: list[tuple[Callable[[dict[str, dict[str, object]]], object], str]] = [
        (lambda m: m[str(first)].pop("id"), "a note type has no numeric id"),
        (lambda m: m[str(first)].update(id="12a"), "a note type has no numeric id"),
        (lambda m: m[str(first)].update(id=True), "a note type has no numeric id"),
        (lambda m: m[str(first)].update(id="9" * 5000), "a note type has no numeric id"),
        (lambda m: m[str(first)].pop("name"), f"note type {first} has no name"),
        (lambda m: m[str(second)].update(name=["Cloze"]), f"note type {second} has no name"),
        (lambda m: m[str(first)].update(flds={"name": "ID"}), f"note type {first}: its fields are not a list of named fields"),
        (lambda m: m[str(first)].update(flds=[{"name": 1}]), f"note type {first}: its fields are not a list of named fields"),
        (lambda m: m[str(first)].update(flds=["ID"]), f"note type {first}: its fields are not a list of named fields"),
        (lambda m: m[str(second)].pop("tmpls"), f"note type {second}: its templates are not a list of named templates"),
        (lambda m: m[str(second)].update(tmpls=[{"name": "Cloze", "qfmt": None, "afmt": ""}]),
         f"note type {second}: its templates are not a list of named templates"),
        (lambda m: m[str(second)].update(css=[]), f"note type {second}: its CSS is not text"),
    ]
    for change, reason in cases:
        assert refusal(tampered(real_package, models_edit(change))) == f"old.apkg:1:1: error: not a deckgen .apkg ({reason}) [diff]"
    # Anki writes the id as a number, genanki as a string: both are read.
    package = read_package(tampered(real_package, models_edit(lambda m: m[str(first)].update(id=first))))
    assert sorted(package.note_types) == [first, second]


@pytest.mark.parametrize(
    ("assignment", "reason"),
    [
        ("mid = 'deckgen'", "its note type id (mid) is text, not an integer"),
        ("mid = 1.5", "its note type id (mid) is a real number, not an integer"),
        ("flds = CAST(flds AS BLOB)", "its fields are a blob, not text"),
        ("flds = CAST(x'6964ff1f41' AS TEXT)", "its fields are not UTF-8 text"),
        ("guid = CAST(guid AS BLOB)", "its GUID is a blob, not text"),
        ("tags = CAST(' x ' AS BLOB)", "its tags are a blob, not text"),
        ("tags = CAST(x'20ff20' AS TEXT)", "its tags are not UTF-8 text"),
    ],
)
def test_notes_that_are_not_deckgens(real_package: Path, assignment: str, reason: str) -> None:
    nid = first_note(real_package)
    old = tampered(real_package, sql(f"UPDATE notes SET {assignment} WHERE id = {nid}"))
    assert refusal(old) == f"old.apkg:1:1: error: not a deckgen .apkg (note {nid}: {reason}) [diff]"


def test_control_characters_in_a_package_never_reach_the_terminal(real_package: Path) -> None:
    nid = first_note(real_package)
    old = tampered(real_package, sql(f"UPDATE notes SET flds = replace(flds, 'scale', 'scale' || char(27) || '[2J' || char(7)) WHERE id = {nid}"))
    result = CliRunner().invoke(main, ["diff", "good.apkg", old.as_posix()])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "scale\\x1b[2J\\x07" in result.stdout


def test_too_many_notes(real_package: Path) -> None:
    old = tampered(
        real_package,
        sql(
            f"INSERT INTO notes WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < {NOTE_LIMIT}) "
            "SELECT x, 'g' || x, 1, 0, 0, '', 'k', 0, 0, 0, '' FROM r"
        ),
    )
    assert refusal(old) == f"old.apkg:1:1: error: not a deckgen .apkg (it holds {NOTE_LIMIT + 6} notes, more than the {NOTE_LIMIT} deckgen diff reads) [diff]"


def zip_bomb(path: Path) -> int:
    """Write a small zip whose collection.anki2 inflates past the limit; return its size."""
    zeros = bytes(MiB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("collection.anki2", "w") as member:
            for _ in range(COLLECTION_LIMIT // len(zeros) + 1):
                member.write(zeros)
    return COLLECTION_LIMIT + len(zeros)


def lie_about_size(path: Path, size: int) -> None:
    """Rewrite the member's declared inflated size, in both of the zip's headers."""
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + size_at
        data[at : at + 4] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def peak_memory(action: Callable[[], object]) -> int:
    """The most memory Python held at once while `action` ran."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_before_it_is_inflated(real_package: Path) -> None:
    inflated = zip_bomb(Path("old.apkg"))
    assert Path("old.apkg").stat().st_size < MiB
    messages: list[str] = []
    # The message names the declared size: the member is refused on its header, unread.
    assert peak_memory(lambda: messages.append(refusal(Path("old.apkg")))) < 8 * MiB
    assert messages == [
        f"old.apkg:1:1: error: not a deckgen .apkg (its collection.anki2 declares {inflated} bytes, "
        "more than the 128 MiB deckgen diff reads) [diff]"
    ]


def test_a_zip_bomb_that_lies_about_its_size_is_read_no_further(real_package: Path) -> None:
    zip_bomb(Path("old.apkg"))
    lie_about_size(Path("old.apkg"), 86016)
    messages: list[str] = []
    assert peak_memory(lambda: messages.append(refusal(Path("old.apkg")))) < 8 * MiB
    assert messages == ["old.apkg:1:1: error: not a deckgen .apkg (not a readable zip: Bad CRC-32 for file 'collection.anki2') [diff]"]


# Any bytes at all: a package mutated at random is read or refused, never a traceback.


@pytest.fixture(scope="module")
def small_package(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a package deckgen builds from the mini bank."""
    folder = tmp_path_factory.mktemp("small")
    shutil.copytree(FIXTURES / "mini", folder / "mini")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        return build(folder / "mini", folder / "out").outputs[0].read_bytes()


def diff_or_refuse(package: bytes, other: bytes) -> None:
    """`deckgen diff a.apkg b.apkg`, through the library function the CLI calls."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a.apkg", Path(tmp) / "b.apkg"
        a.write_bytes(package)
        b.write_bytes(other)
        try:
            format_diff(diff(str(a), str(b), Path(tmp)), markdown=True)
        except DeckgenError as err:
            assert all("\n" not in str(d) for d in err.diagnostics)


MUTATIONS = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1, max_size=12)


def mutate(data: bytes, mutations: list[tuple[int, int]]) -> bytes:
    mutated = bytearray(data)
    for at, value in mutations:
        mutated[at % len(mutated)] = value
    return bytes(mutated)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS)
def test_a_package_with_any_bytes_changed(small_package: bytes, mutations: list[tuple[int, int]]) -> None:
    diff_or_refuse(mutate(small_package, mutations), small_package)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS, st.booleans())
def test_a_collection_with_any_bytes_changed(small_package: bytes, mutations: list[tuple[int, int]], stored: bool) -> None:
    # Most changes to the compressed bytes only break the zip: these reach SQLite and the JSON.
    with tempfile.TemporaryDirectory() as tmp:
        original = Path(tmp) / "original.apkg"
        original.write_bytes(small_package)
        with zipfile.ZipFile(original) as archive:
            collection = archive.read("collection.anki2")
        members = {"collection.anki2": mutate(collection, mutations)}
        changed = rezip(original, Path(tmp) / "changed.apkg", members, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        diff_or_refuse(small_package, changed.read_bytes())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>![]-/?&#;x1 aZ\"'=")) | st.characters(), max_size=60))
def test_field_text_reads_any_markup(html: str) -> None:
    assert isinstance(field_text(html), str)
    assert isinstance(field_text("<![" + html), str)
