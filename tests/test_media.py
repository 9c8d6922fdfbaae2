"""Images: packed under content-hash names into the deck and beside the sheets, and checked."""

from __future__ import annotations

import hashlib
import importlib.util
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from anki.collection import Collection

from deckgen.build import build, check
from tests.bankfiles import TOPIC, write_bank
from tests.conftest import ROOT
from tests.conftest import import_apkg

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


def bank_with_image(root: Path, answer: str = "See ![the curve](img/curve.png).") -> Path:
    topic = TOPIC.replace("answer: To keep the softmax out of saturation.", f"answer: {answer}")
    bank = write_bank(root, {"topics/attention.yaml": topic, "topics/img/curve.png": PNG})
    (bank / "attention.yaml").unlink()
    return bank


def test_the_package_is_laid_out_the_same_on_every_build(in_tmp: Path, epoch: Callable[[int], None]) -> None:
    """The collection, the media map and each image, in that order, with fixed times and modes,
    each deflated at zlib's default level: a package depends on its content alone."""
    epoch(1_700_000_000)
    result = build(bank_with_image(Path("q")), Path("out"))
    with zipfile.ZipFile(result.outputs[0]) as package:
        entries = package.infolist()
        assert [(e.filename, e.date_time, e.external_attr >> 16, e.create_system, e.compress_type) for e in entries] == [
            ("collection.anki2", (1980, 1, 1, 0, 0, 0), 0o644, 3, zipfile.ZIP_DEFLATED),
            ("media", (1980, 1, 1, 0, 0, 0), 0o644, 3, zipfile.ZIP_DEFLATED),
            ("0", (1980, 1, 1, 0, 0, 0), 0o644, 3, zipfile.ZIP_DEFLATED),
        ]
        for entry in entries:
            deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
            expected = deflate.compress(package.read(entry)) + deflate.flush()
            assert _deflated(result.outputs[0], entry) == expected, entry.filename


def _deflated(package: Path, entry: zipfile.ZipInfo) -> bytes:
    """The entry's bytes as they are stored in the package: after its local header."""
    with package.open("rb") as stored:
        stored.seek(entry.header_offset)
        header = stored.read(30)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        stored.seek(entry.header_offset + 30 + name_length + extra_length)
        return stored.read(entry.compress_size)


def test_an_image_is_packed_under_its_content_hash(in_tmp: Path, collection: Collection, epoch: Callable[[int], None]) -> None:
    epoch(1_700_000_000)
    bank = bank_with_image(Path("q"))
    name = f"deckgen-{hashlib.sha256(PNG).hexdigest()[:16]}.png"
    result = build(bank, Path("out"))
    apkg = result.outputs[0]
    with zipfile.ZipFile(apkg) as package:
        assert package.read("media") == f'{{"0": "{name}"}}'.encode()
        assert package.read("0") == PNG
    assert Path("out/media", name).read_bytes() == PNG
    sheet = Path("out/review-sheet.md").read_text(encoding="utf-8")
    assert f"**A.** See ![the curve](media/{name})." in sheet

    import_apkg(collection, apkg, merge_notetypes=False)
    note = collection.get_note(collection.find_notes("ID:why-scale")[0])
    assert note["Answer"] == f'<p>See <img src="{name}" alt="the curve" />.</p>'
    assert Path(collection.media.dir(), name).read_bytes() == PNG


def test_bad_image_references(in_tmp: Path) -> None:
    Path("outside.png").write_bytes(PNG)
    bank = bank_with_image(
        Path("q"),
        "'![a](img/missing.png) ![b](../../outside.png) ![c](/etc/x.png) ![d](img/notes.txt) ![e](img/evil.svg) ![f](img/big.png)'",
    )
    (bank / "topics/img/notes.txt").write_text("x", encoding="utf-8")
    (bank / "topics/img/evil.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', encoding="utf-8")
    (bank / "topics/img/big.png").write_bytes(b"\0" * (1024 * 1024 + 1))
    _, diagnostics = check(bank)
    assert [str(d) for d in diagnostics] == [
        "q/topics/attention.yaml:7:13: error: image '../../outside.png' is outside the bank folder [image]",
        "q/topics/attention.yaml:7:13: error: image '/etc/x.png' is an absolute path; write it relative to the YAML file [image]",
        "q/topics/attention.yaml:7:13: error: image 'img/big.png' is 1025 KiB; at most 1024 KiB, so it stays quick on phones [image]",
        "q/topics/attention.yaml:7:13: error: image 'img/evil.svg': attribute 'onload' on <svg> at line 1 is not allowed "
        "in an SVG; deckgen packs plain drawings only [image]",
        "q/topics/attention.yaml:7:13: error: image 'img/missing.png' not found [image]",
        "q/topics/attention.yaml:7:13: error: image 'img/notes.txt' is not a png, jpg, jpeg, gif, svg, webp file [image]",
    ]


def test_the_committed_attention_mask_diagram_is_what_the_script_draws() -> None:
    spec = importlib.util.spec_from_file_location("attention_masks", ROOT / "scripts" / "attention_masks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "questions" / "images" / "attention-masks.svg").read_text(encoding="utf-8") == module.svg()
