"""deckgen's benchmark: whole-process builds against the hand-written floor, side by side.

    python bench/run.py                      # 1k, 10k and 50k cards, 3 rounds each
    python bench/run.py --sizes 1000 --rounds 5 --out report.md

For each size it writes a synthetic bank (bench/generate.py), then runs, in alternating
order within each round: the floor (bench/floor.py), a cold `deckgen build` (fresh build
folder), `deckgen check`, a rebuild after editing one question, and `deckgen --version`
(the cost of starting Python and importing deckgen). It reports medians, ratios against
the floor and the cold build, peak memory, cost per card across sizes, and the .apkg's
size against genanki's for the same notes. Then it runs each deckgen command once more
with `--timings`, and reports where the time and the memory go, step by step, and why
each target that is not met is not. Times are ratios measured in one run on one machine:
compare them, not the seconds, across machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import write_bank  # noqa: E402

TARGETS = {
    "build / floor": 1.0,
    "rebuild / build": 0.2,
    "check / build": 0.3,
}
PEAK_MB_AT_50K = 300


@dataclass
class Sample:
    """One size's measurements, by step: seconds per round, and the peak memory seen."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    apkg_bytes: int = 0
    genanki_bytes: int = 0
    steps: dict[str, dict[str, float]] = field(default_factory=dict)
    """deckgen's own `--timings` for one more run of each command: seconds by step."""
    step_peaks: dict[str, dict[str, float]] = field(default_factory=dict)
    """The same runs' peak memory (MB) after each step."""

    def median(self, step: str) -> float:
        return statistics.median(self.seconds[step])


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return elapsed, usage.ru_maxrss / 1024


def parse_timings(stderr: str) -> tuple[dict[str, float], dict[str, float]]:
    """The seconds and the peak MB after each step, from `deckgen ... --timings`."""
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for line in stderr.splitlines():
        for prefix, into, unit in (("timings: ", seconds, " s"), ("peak memory after: ", peaks, " MB")):
            if line.startswith(prefix):
                for item in line.removeprefix(prefix).split(", "):
                    name, value = item.removesuffix(unit).rsplit(" ", 1)
                    into[name] = float(value)
    return seconds, peaks


def edit_one_question(bank: Path, round_number: int) -> None:
    path = bank / "topic-0.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("saturates", f"saturates (edit {round_number})", 1) if round_number == 0 else text.replace(f"(edit {round_number - 1})", f"(edit {round_number})", 1), encoding="utf-8")


def genanki_size(bank: Path, work: Path) -> int:
    """The size of the same notes written by genanki with its defaults (a stored zip)."""
    import genanki

    sys.path.insert(0, str(HERE.parent / "src"))
    from deckgen.anki.notes import deck_notes
    from deckgen.anki.notetypes import note_models
    from deckgen.load import load_bank

    loaded = load_bank(bank)
    models = note_models(loaded.deck.homepage)
    deck = genanki.Deck(1, "bench")
    for spec in deck_notes(loaded).notes:
        deck.add_note(genanki.Note(model=models[spec.model], fields=list(spec.fields), tags=list(spec.tags), guid=spec.guid))
    path = work / "genanki.apkg"
    genanki.Package(deck).write_to_file(str(path))
    return path.stat().st_size


def measure(cards: int, rounds: int, work: Path) -> Sample:
    bank = work / f"bank-{cards}"
    write_bank(bank, cards)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    python = sys.executable
    steps = {
        "floor": [python, str(HERE / "floor.py"), str(bank), str(work / "floor.apkg")],
        "build": [python, "-m", "deckgen", "build", str(bank), "--out", str(work / "cold")],
        "check": [python, "-m", "deckgen", "check", str(bank)],
        "rebuild": [python, "-m", "deckgen", "build", str(bank), "--out", str(work / "warm")],
        "start-up": [python, "-m", "deckgen", "--version"],
    }
    sample = Sample()
    subprocess.run(steps["rebuild"], check=True, capture_output=True, env=env)  # warm the rebuild's cache
    for round_number in range(rounds):
        order = list(steps) if round_number % 2 == 0 else list(reversed(steps))
        for step in order:
            if step == "build":
                shutil.rmtree(work / "cold", ignore_errors=True)
            if step == "rebuild":
                edit_one_question(bank, round_number)
            seconds, peak = timed(steps[step], env)
            sample.seconds.setdefault(step, []).append(seconds)
            sample.peak_mb[step] = max(sample.peak_mb.get(step, 0.0), peak)
    # One more run of each, untimed by us, for deckgen's own breakdown by step.
    shutil.rmtree(work / "cold", ignore_errors=True)
    edit_one_question(bank, rounds)
    for step in ("build", "rebuild", "check"):
        result = subprocess.run([*steps[step], "--timings"], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise SystemExit(f"failed ({result.returncode}): {' '.join(steps[step])}\n{result.stderr[-2000:]}")
        sample.steps[step], sample.step_peaks[step] = parse_timings(result.stderr)
    sample.apkg_bytes = next((work / "cold").glob("*.apkg")).stat().st_size
    sample.genanki_bytes = genanki_size(bank, work)
    return sample


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "**not met**"


def report(results: dict[int, Sample], rounds: int) -> str:
    lines = [
        "# deckgen benchmark",
        "",
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores; {rounds} rounds per size, steps alternating; medians.",
        "",
        "| cards | floor s | build s | check s | rebuild s | start-up s | build / floor | rebuild / build | check / build | peak MB (build) | .apkg / genanki |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cards, s in sorted(results.items()):
        floor, build, check, rebuild, startup = (s.median(k) for k in ("floor", "build", "check", "rebuild", "start-up"))
        lines.append(
            f"| {cards} | {floor:.2f} | {build:.2f} | {check:.2f} | {rebuild:.2f} | {startup:.2f} | {build / floor:.2f} | "
            f"{rebuild / build:.2f} | {check / build:.2f} | {s.peak_mb['build']:.0f} | {s.apkg_bytes / s.genanki_bytes:.2f} |"
        )
    lines += ["", "## Targets", ""]
    reference = results.get(10_000) or results[max(results)]
    size = 10_000 if 10_000 in results else max(results)
    ratios = {
        "build / floor": reference.median("build") / reference.median("floor"),
        "rebuild / build": reference.median("rebuild") / reference.median("build"),
        "check / build": reference.median("check") / reference.median("build"),
    }
    for name, target in TARGETS.items():
        lines.append(f"- {name} at {size} cards: {ratios[name]:.2f} (target ≤ {target}): {verdict(ratios[name], target)}")
    largest = max(results)
    peak = results[largest].peak_mb["build"]
    why = _why(reference, ratios, results[largest])
    lines.append(f"- peak memory of a build at {largest} cards: {peak:.0f} MB (target ≤ {PEAK_MB_AT_50K} MB at 50k): {verdict(peak, PEAK_MB_AT_50K)}")
    cold_steps = reference.steps["build"]
    if "site" in cold_steps:
        site_share = cold_steps["site"] / cold_steps["total"]
        lines.append(f"- the site's share of a cold build at {size} cards: {site_share:.2f} (target < 0.33): {verdict(site_share, 0.33)}")
    size_ratio = results[largest].apkg_bytes / results[largest].genanki_bytes
    lines.append(f"- .apkg size against genanki's for the same notes: {size_ratio:.2f} (target ≤ 0.35): {verdict(size_ratio, 0.35)}")
    if len(results) > 1:
        smallest = min(results)
        per_card = {c: results[c].median("build") / c * 1000 for c in results}
        growth = per_card[largest] / per_card[smallest]
        lines.append(
            f"- cost per 1,000 cards: {per_card[smallest]:.2f} s at {smallest}, {per_card[largest]:.2f} s at {largest} "
            f"({growth:.2f}x; linear is 1.0, allowing for start-up cost at small sizes)"
        )
    lines += ["", f"## Where the time goes, at {size} cards", ""]
    lines += [
        "deckgen's own `--timings`, from one more run of each command (seconds; `total` leaves out",
        "starting Python and importing deckgen).",
        "",
        "| step | cold build s | rebuild s | check s |",
        "|---|---|---|---|",
    ]
    for step in reference.steps["build"]:
        cells = [f"{reference.steps[run][step]:.2f}" if step in reference.steps[run] else "" for run in ("build", "rebuild", "check")]
        lines.append(f"| {step} | {' | '.join(cells)} |")
    lines += ["", f"## Where the memory goes, at {largest} cards", ""]
    lines += ["Peak memory of a cold build after each step (MB), from the same runs.", "", "| step | peak MB after |", "|---|---|"]
    for step, mb in results[largest].step_peaks["build"].items():
        lines.append(f"| {step} | {mb:.0f} |")
    if why:
        lines += ["", "## Why a target is not met", ""] + why
    return "\n".join(lines) + "\n"


def _why(reference: Sample, ratios: dict[str, float], largest: Sample) -> list[str]:
    """For each target not met, what the breakdown by step shows."""
    why = []
    floor = reference.median("floor")
    cold, warm, peaks = reference.steps["build"], reference.steps["rebuild"], largest.step_peaks["build"]
    if ratios["build / floor"] > TARGETS["build / floor"]:
        extra = sum(cold.get(step, 0.0) for step in ("validate", "lock", "lint", "update lock", "sheets", "cache"))
        why.append(
            f"- **build / floor**: the floor only parses, renders and writes. deckgen's render and write "
            f"take {cold['render'] + cold['write']:.2f} s (each text is also rendered as MathML for the printable "
            f"sheet, and code is highlighted); the steps the floor leaves out (validate, lock, lint, update lock, sheets, cache) "
            f"take {extra:.2f} s, which is {extra / floor:.2f}x the floor on their own; starting Python and importing "
            f"deckgen take {reference.median('start-up'):.2f} s more."
        )
    if ratios["rebuild / build"] > TARGETS["rebuild / build"]:
        full = sum(warm.get(step, 0.0) for step in ("lint", "sheets", "write"))
        why.append(
            f"- **rebuild / build**: validate and render come from the cache ({warm['validate']:.2f} s and "
            f"{warm['render']:.2f} s against {cold['validate']:.2f} s and {cold['render']:.2f} s cold), but lint, "
            f"sheets and write still run in full on every build ({full:.2f} s of {warm['total']:.2f} s): the "
            f"near-duplicate check compares the whole bank, and every output is assembled and written again."
        )
    if ratios["check / build"] > TARGETS["check / build"]:
        checking = reference.steps["check"]
        share = sum(cold.get(step, 0.0) for step in ("validate", "lock", "lint")) / cold["total"]
        why.append(
            f"- **check / build**: check is the build's first steps, validate, lock and lint "
            f"({checking['validate']:.2f} s, {checking['lock']:.2f} s and {checking['lint']:.2f} s), plus starting Python "
            f"({reference.median('start-up'):.2f} s); "
            f"in a cold build the same steps are {share:.0%} of its total, so a faster render makes this ratio worse."
        )
    if largest.peak_mb["build"] > PEAK_MB_AT_50K:
        why.append(
            f"- **memory**: the bank alone holds {peaks['validate']:.0f} MB after validation, linting peaks at "
            f"{peaks['lint']:.0f} MB, and rendering at {peaks['render']:.0f} MB: every note and both printable pages are "
            f"kept in memory until they are written, all at once, so that a failed build writes nothing."
        )
    return why


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="deckgen-bench-") as tmp:
        for cards in args.sizes:
            work = Path(tmp) / str(cards)
            work.mkdir()
            results[cards] = measure(cards, args.rounds, work)
            print(f"measured {cards} cards", file=sys.stderr)
    text = report(results, args.rounds)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
