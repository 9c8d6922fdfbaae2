"""deckgen's benchmark: whole-process builds against the hand-written floor, side by side.

    python bench/run.py                      # 1k, 10k and 50k cards, 3 rounds each
    python bench/run.py --sizes 1000 --rounds 5 --out report.md
    python bench/run.py --sizes 10000 --baseline main   # this tree against main, side by side

For each size it writes a synthetic bank with a Chinese edition (bench/generate.py), then
runs, in alternating order within each round: the floor (bench/floor.py); a cold `deckgen
build` (fresh build folder), and the same in one process (DECKGEN_JOBS=1); a rebuild after
editing one answer; `deckgen check` with no build cache, and after editing one file with
the build's cache; the least that any check must do (bench/least_check.py); and `deckgen
--version` (the cost of starting Python and importing deckgen). It reports medians, each target as a ratio against the floor, peak memory, cost
per card across sizes, and the .apkg's size against genanki's for the same notes. Then it
runs each deckgen command once more with `--timings`, and reports where the time and the
memory go, step by step (each output by its name); profiles the floor and a build in one
process at 10,000 cards (or the largest size) to say which library the time goes to
(bench/profile_libraries.py); and says why each target that is not met is not, and what
would meet it. Times are ratios measured in one run on one machine: compare them, not the
seconds, across machines. With `--baseline COMMIT`, every deckgen step also runs the deckgen
of that commit, in the same rounds, and the report compares the two step by step: the way
to measure a change on a shared machine, whose speed drifts between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from profile_libraries import PARSE, RENDER  # noqa: E402

TARGETS = {
    # name: (target ratio, the sizes it is held to)
    "build / floor": (0.8, (10_000, 50_000)),
    "rebuild / floor": (0.12, (10_000, 50_000)),
    "check / floor": (0.3, (10_000,)),
}
PEAK_MB = {10_000: 110, 50_000: 300}
"""The most memory a cold build may hold, by size."""
OUTPUTS = ("apkg", "markdown", "html", "site")
"""deckgen's outputs, as `--timings` names the step that makes and writes each."""
CHECKING = ("validate", "lock", "lint", "editions")
"""The steps of a build that `deckgen check` runs too."""


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
    step_growth: dict[str, dict[str, float]] = field(default_factory=dict)
    """The same runs' growth of the peak memory (MB) during each step."""
    profile: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each part's share of the floor's time and of a build's in one process (bench/profile_libraries.py),
    when this size was profiled."""
    one_topic_mb: float = 0.0
    """What a cold build of one topic file alone (and its translation) grows by from the start of
    validation to its end: one topic's work in every output, and the output code's own imports."""

    def median(self, step: str) -> float:
        return statistics.median(self.seconds[step])

    def ratio(self, step: str) -> float:
        """The step's median against the floor's."""
        return self.median(step) / self.median("floor")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one process and its children (a build's workers)."""
    own = own_mb()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, preexec_fn=_forked)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return elapsed, measurable(_rusage_mb(usage.ru_maxrss), own, command)


def _rusage_mb(maxrss: int) -> float:
    """A peak as getrusage gives it, in MB: bytes on macOS, KiB elsewhere."""
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def _forked() -> None:
    """Nothing, run in a new process before it starts the command: given it, Python forks the new
    process instead of sharing the benchmark's memory with it until it starts the command (vfork).
    A process's peak memory starts at the memory it starts the command from: with vfork, the
    benchmark's own peak, which may be a larger process's that started the benchmark; forked,
    what the benchmark holds at that moment, less than any process it measures (see `measurable`)."""


_LARGEST_MB = [0.0]
"""The most memory the benchmark held when it started a process."""


def own_mb() -> float:
    """The memory the benchmark's process holds now (MB; its peak where Linux's /proc is not)."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except OSError:
        resident = _rusage_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    _LARGEST_MB[0] = max(_LARGEST_MB[0], resident)
    return resident


def measurable(peak: float, own: float, command: list[str]) -> float:
    """`peak`, the peak memory of a process the benchmark started when it held `own` MB; the
    benchmark stops if the peak may be no more than where the process started from (see `_forked`)."""
    if peak <= own + 1:
        raise SystemExit(
            f"{' '.join(command)}: its peak memory ({peak:.0f} MB) is no more than what the benchmark held when it "
            f"started it ({own:.0f} MB), which its peak starts from: its own cannot be measured"
        )
    return peak


def parse_timings(stderr: str) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """The seconds, the peak MB after each step and what the peak grew by in each, from `deckgen ... --timings`."""
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    growth: dict[str, float] = {}
    for line in stderr.splitlines():
        for prefix, into, unit in (("timings: ", seconds, " s"), ("peak memory after: ", peaks, " MB"), ("peak memory grew: ", growth, " MB")):
            if line.startswith(prefix):
                for item in line.removeprefix(prefix).split(", "):
                    name, value = item.removesuffix(unit).rsplit(" ", 1)
                    into[name] = float(value)
    return seconds, peaks, growth


def edit_one_question(bank: Path, round_number: int) -> None:
    """Edit one answer of the first topic file: each round a different text."""
    path = bank / "topic-0.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("saturates", f"saturates (edit {round_number})", 1) if round_number == 0 else text.replace(f"(edit {round_number - 1})", f"(edit {round_number})", 1), encoding="utf-8")


def genanki_size(bank: Path, work: Path) -> int:
    """The size of the same notes written by genanki with its defaults (a stored zip), written
    by bench/genanki_size.py in a process of its own."""
    path = work / "genanki.apkg"
    _ran([sys.executable, str(HERE / "genanki_size.py"), str(bank), str(path)], importing(HERE.parent / "src", dict(os.environ)))
    return path.stat().st_size


def generate(bank: Path, cards: int) -> None:
    """Write a synthetic bank of `cards` cards with a Chinese edition (bench/generate.py), in a
    process of its own."""
    _ran([sys.executable, str(HERE / "generate.py"), "--languages", str(bank), str(cards)], importing(HERE.parent / "src", dict(os.environ)))


DECKGEN_STEPS = ("build", "build, one process", "rebuild", "check", "check after an edit", "start-up")
"""The steps that run deckgen: with `--baseline`, each is timed for the baseline too."""
BASELINE = " (baseline)"
"""What a step's name ends with when it runs the baseline's deckgen."""


WATCH = "rebuild in watch"
"""The build `deckgen watch` runs after an edit (bench/watch_rebuild.py): timed inside its process,
which stays running between edits, so it pays no start-up; this tree's deckgen only."""


class Watched:
    """bench/watch_rebuild.py, running on its own copy of a bank for as long as a size is measured:
    the builds of one `deckgen watch`, each after an edit of the copy."""

    def __init__(self, bank: Path, work: Path, env: dict[str, str]) -> None:
        self.bank = work / f"{bank.name}-watch"
        shutil.copytree(bank, self.bank)
        self.errors = work / "watch-errors.txt"
        self.edits = 0
        command = [sys.executable, str(HERE / "watch_rebuild.py"), str(self.bank), str(work / "watch")]
        with self.errors.open("w", encoding="utf-8") as errors:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=env, preexec_fn=_forked)
        self._expect("ready")

    def _expect(self, what: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line or (what and line != what + "\n"):
            self.process.kill()
            raise SystemExit(f"bench/watch_rebuild.py failed:\n{self.errors.read_text(encoding='utf-8')[-2000:]}")
        return line

    def rebuild(self) -> dict[str, Any]:
        """Edit the bank's copy as the other rebuilds' banks are edited, and time the build the watch runs for it."""
        edit_one_question(self.bank, self.edits)
        self.edits += 1
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        rebuilt: dict[str, Any] = json.loads(self._expect(""))
        return rebuilt

    def __enter__(self) -> Watched:
        return self

    def __exit__(self, failed: type[BaseException] | None, *_: object) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if failed is not None:  # the benchmark's own error says why
            self.process.kill()
            self.process.wait()
        elif self.process.wait() != 0:
            raise SystemExit(f"bench/watch_rebuild.py failed:\n{self.errors.read_text(encoding='utf-8')[-2000:]}")


def baseline_tree(revision: str, into: Path) -> Path:
    """deckgen's source as of `revision` (anything git names a commit by), written into `into`;
    the folder its package is imported from."""
    root = HERE.parent
    found = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(f"--baseline {revision}: not a commit of {root}")
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", found.stdout.strip(), "src"], capture_output=True, check=True)
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def importing(source: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` for a process that imports deckgen from the tree `source` (its `src`), whatever is installed."""
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH", "")]))}


def measure(cards: int, rounds: int, work: Path, baseline: Path | None = None, profile: bool = False) -> Sample:
    bank = work / f"bank-{cards}"
    generate(bank, cards)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    python = sys.executable
    steps: dict[str, tuple[list[str], dict[str, str]]] = {
        "floor": ([python, str(HERE / "floor.py"), str(bank), str(work / "floor.apkg")], env),
        "least check": ([python, str(HERE / "least_check.py"), str(bank)], env),
    }
    outs: dict[str, Path] = {}  # the build folder of each step that builds (a cold build's is emptied first)
    versions = {"": HERE.parent / "src", **({BASELINE: baseline} if baseline is not None else {})}
    # The baseline builds a copy of the bank, so that neither side meets the lock the other wrote.
    banks = {suffix: bank if not suffix else work / f"bank-{cards}-baseline" for suffix in versions}
    if baseline is not None:
        shutil.copytree(bank, banks[BASELINE])
    side: dict[str, Path] = {}  # the bank each step reads
    for suffix, source in versions.items():
        own = importing(source, env)
        deckgen = [python, "-m", "deckgen"]
        folder = {"build": "cold", "build, one process": "cold-1", "rebuild": "warm", "check": "no-build", "check after an edit": "warm"}
        for step in DECKGEN_STEPS:
            if step == "start-up":
                command = [*deckgen, "--version"]
            else:
                outs[step + suffix] = work / (folder[step] + ("-baseline" if suffix else ""))
                command = [*deckgen, "build" if step.startswith(("build", "rebuild")) else "check", str(banks[suffix]), "--out", str(outs[step + suffix])]
            steps[step + suffix] = (command, {**own, "DECKGEN_JOBS": "1"} if "one process" in step else own)
            side[step + suffix] = banks[suffix]
    sample = Sample()
    for suffix in versions:  # warm each rebuild's cache
        subprocess.run(steps["rebuild" + suffix][0], check=True, capture_output=True, env=steps["rebuild" + suffix][1])
    edits = dict.fromkeys(banks.values(), 0)  # how many times each bank was edited
    with Watched(bank, work, importing(versions[""], env)) as watched:
        for round_number in range(rounds):
            names = [*steps, WATCH]
            order = names if round_number % 2 == 0 else names[::-1]
            for step in order:
                if step == WATCH:
                    rebuilt = watched.rebuild()
                    seconds, peak = rebuilt["seconds"], rebuilt["peak_mb"]
                else:
                    if step.startswith("build"):
                        shutil.rmtree(outs[step], ignore_errors=True)
                    if step.removesuffix(BASELINE) in ("rebuild", "check after an edit"):
                        # An edit the warm build folder has not seen: the rebuild, or check with its cache, meets it.
                        edit_one_question(side[step], edits[side[step]])
                        edits[side[step]] += 1
                    seconds, peak = timed(*steps[step])
                sample.seconds.setdefault(step, []).append(seconds)
                sample.peak_mb[step] = max(sample.peak_mb.get(step, 0.0), peak)
        sample.steps[WATCH] = watched.rebuild()["steps"]  # one more, as for the other commands below
    # One more run of each, untimed by us, for deckgen's own breakdown by step.
    shutil.rmtree(work / "cold", ignore_errors=True)
    for step in ("build", "rebuild", "check"):
        if step == "rebuild":
            edit_one_question(bank, edits[bank])
            edits[bank] += 1
        sample.steps[step], sample.step_peaks[step], sample.step_growth[step] = timings(*steps[step])
    sample.one_topic_mb = one_topic_mb(work, steps["build"][1])
    if profile:
        result = _ran([python, str(HERE / "profile_libraries.py"), str(bank), str(work / "profile")], importing(versions[""], env))
        sample.profile = json.loads(result.stdout)
    sample.apkg_bytes = (work / "cold" / "bench-deck.apkg").stat().st_size
    sample.genanki_bytes = genanki_size(bank, work)
    return sample


ONE_TOPIC_CARDS = 110
"""The cards of one topic file of the synthetic bank: 100 questions, five of them compares of three rows."""


def one_topic_mb(work: Path, env: dict[str, str]) -> float:
    """What a cold build of a bank of one topic file and its translation grows by (MB), from what
    it held before validating to its peak: about what a build that held one topic at a time would
    hold for the topic it is at, every output's part of it included."""
    bank = work / "bank-one-topic"
    generate(bank, ONE_TOPIC_CARDS)
    _, peaks, growth = timings([sys.executable, "-m", "deckgen", "build", str(bank), "--out", str(work / "one-topic")], env)
    return peaks["total"] - (peaks["validate"] - growth["validate"])


def timings(command: list[str], env: dict[str, str]) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """A deckgen command's own `--timings` (see `parse_timings`), run once more; the benchmark
    stops if the peak it held before its first step is no more than what the benchmark held (see
    `measurable`): deckgen reads its own peak on Linux, but a deckgen before 75389ef (a baseline)
    read one that starts at what the process that started it held."""
    own = own_mb()
    result = _ran([*command, "--timings"], env)
    seconds, peaks, growth = parse_timings(result.stderr)
    first = next(iter(peaks))
    measurable(peaks[first] - growth[first], own, command)
    return seconds, peaks, growth


def _ran(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`command`, run to its end with its output captured; the benchmark stops, saying why, if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, env=env, preexec_fn=_forked)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-2000:]}")
    return result


def reference_size(sizes: list[int] | dict[int, Sample]) -> int:
    """The size whose steps the report breaks down, and which is profiled: 10,000 cards, else the largest."""
    return 10_000 if 10_000 in sizes else max(sizes)


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "**not met**"


def report(results: dict[int, Sample], rounds: int, baseline: str | None = None) -> str:
    lines = [
        "# deckgen benchmark",
        "",
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores; {rounds} rounds per size, steps alternating; medians. Each bank has a "
        "Chinese edition, so every build writes both editions' outputs. Each peak is the measured process's "
        f"own: more than what the benchmark held when it started that process (at most {_LARGEST_MB[0]:.0f} MB), "
        "which a process's peak starts from.",
        "",
        "| cards | floor s | build s | build, one process s | rebuild s | rebuild in watch s | check s | check after an edit s | least check s | start-up s | peak MB (build) | peak MB (watch) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cards, s in sorted(results.items()):
        cells = [f"{s.median(k):.2f}" for k in ("floor", "build", "build, one process", "rebuild", WATCH, "check", "check after an edit", "least check", "start-up")]
        lines.append(f"| {cards} | {' | '.join(cells)} | {s.peak_mb['build']:.0f} | {s.peak_mb[WATCH]:.0f} |")
    lines += [
        "",
        "A rebuild in watch is the build that `deckgen watch` runs after the same edit, timed inside its process,",
        "which stays running between edits: it starts no Python, and leaves out the watch's wait for the bank to",
        "be still (one interval, half a second by default, after the look that sees the change). Its peak is the",
        "watch process's during that build, what it holds between builds included; every other step is a whole",
        "process, timed from start to end.",
    ]
    lines += [
        "",
        "Against the floor:",
        "",
        "| cards | build / floor | build, one process / floor | rebuild / floor | rebuild in watch / floor | check / floor | check after an edit / floor | least check / floor | .apkg / genanki |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cards, s in sorted(results.items()):
        ratios = [f"{s.ratio(k):.2f}" for k in ("build", "build, one process", "rebuild", WATCH, "check", "check after an edit", "least check")]
        lines.append(f"| {cards} | {' | '.join(ratios)} | {s.apkg_bytes / s.genanki_bytes:.2f} |")
    if baseline is not None:
        lines += _against_baseline(results, baseline)
    lines += ["", "## Targets", ""]
    unmet: set[str] = set()
    for name, (target, sizes) in TARGETS.items():
        step = name.removesuffix(" / floor")
        held = [size for size in sizes if size in results] or [max(results)]
        for size in held:
            value = results[size].ratio(step)
            bound = f"; the least any check does: {results[size].ratio('least check'):.2f}" if step == "check" else ""
            lines.append(f"- {name} at {size} cards: {value:.2f} (target ≤ {target}{bound}): {verdict(value, target)}")
            unmet |= {name} if value > target else set()
            if step == "rebuild":
                watched = results[size].ratio(WATCH)
                lines.append(
                    f"- the same rebuild in `deckgen watch` at {size} cards (which stays running between edits; "
                    f"the build alone, not the watch's wait for the bank to be still): {watched:.2f} (against the same target ≤ {target}): {verdict(watched, target)}"
                )
    for size in sorted(results):
        limit = PEAK_MB.get(size)
        if limit is not None or size == max(results):
            peak = results[size].peak_mb["build"]
            limit = limit or PEAK_MB[50_000]
            lines.append(f"- peak memory of a build at {size} cards: {peak:.0f} MB (target ≤ {limit} MB): {verdict(peak, limit)}")
            unmet |= {"memory"} if peak > limit else set()
    largest, reference_cards = max(results), reference_size(results)
    reference = results[reference_cards]
    checking = sum(reference.steps["rebuild"].get(step, 0.0) for step in CHECKING)
    startup = reference.median("start-up")
    lines.append(
        f"- check after a one-file edit at {reference_cards} cards: {reference.median('check after an edit'):.2f} s, against "
        f"{checking + startup:.2f} s for a rebuild's own checking steps and start-up "
        f"({reference.median('check after an edit') / (checking + startup):.2f}x)"
    )
    cold = reference.steps["build"]
    for output in OUTPUTS:
        if output in cold:
            lines.append(f"- {output}'s share of a cold build at {reference_cards} cards: {cold[output] / cold['total']:.2f}")
    if "site" in cold:
        lines.append(f"- the site's share of a cold build: {cold['site'] / cold['total']:.2f} (target < 0.33): {verdict(cold['site'] / cold['total'], 0.33)}")
    size_ratio = results[largest].apkg_bytes / results[largest].genanki_bytes
    lines.append(f"- .apkg size against genanki's for the same notes: {size_ratio:.2f} (target ≤ 0.35): {verdict(size_ratio, 0.35)}")
    if len(results) > 1:
        lines.append(_linear(results))
    lines += ["", f"## Where the time goes, at {reference_cards} cards", ""]
    lines += [
        "deckgen's own `--timings`, from one more run of each command (seconds; `total` leaves out",
        "starting Python and importing deckgen; each output is the step that makes and writes it), and",
        "of one more rebuild in `deckgen watch`.",
        "",
        "| step | cold build s | rebuild s | rebuild in watch s | check s |",
        "|---|---|---|---|---|",
    ]
    for step in reference.steps["build"]:
        cells = [f"{reference.steps[run][step]:.2f}" if step in reference.steps[run] else "" for run in ("build", "rebuild", WATCH, "check")]
        lines.append(f"| {step} | {' | '.join(cells)} |")
    lines += ["", f"## Where the memory goes, at {largest} cards", ""]
    lines += [
        "The peak memory of a cold build after each step, and what it grew by during each (an output is made",
        "once per edition: its growth is summed), from the same runs.",
        "",
        "| step | peak MB after | grew MB during |",
        "|---|---|---|",
    ]
    growth = results[largest].step_growth["build"]
    for step, mb in results[largest].step_peaks["build"].items():
        lines.append(f"| {step} | {mb:.0f} | {growth.get(step, 0.0):.0f} |")
    lines += [
        "",
        f"A build of one topic file alone ({ONE_TOPIC_CARDS} cards, and its translation) grows by "
        f"{results[largest].one_topic_mb:.0f} MB from the start of validation to its last output.",
    ]
    lines += _by_library(reference, reference_cards)
    why = _why(reference, results[largest], largest, unmet)
    if why:
        lines += ["", "## Why a target is not met", ""] + why
    return "\n".join(lines) + "\n"


PROFILE_ROWS = 12
"""The parts the profile lists by name, largest first; the rest are summed."""


def _by_library(reference: Sample, cards: int) -> list[str]:
    """The profile of the floor and of a build in one process: each part's share, and its time against the floor's."""
    if not reference.profile:
        return []
    floor, build = reference.profile["floor"], reference.profile["build, one process"]
    one_process = reference.ratio("build, one process")
    named = sorted(set(floor) | set(build), key=lambda part: -max(floor.get(part, 0.0), build.get(part, 0.0) * one_process))[:PROFILE_ROWS]
    lines = [
        "",
        f"## Where a build's time goes, by library, at {cards} cards",
        "",
        "A sampling profile (bench/profile_libraries.py) of the floor and of a cold build in one process. A",
        "library's part is the time its own code ran (markdown-it-py's split into parsing and rendering);",
        "`deckgen/…` is the time of that module's own code, its render rules that markdown-it-py calls",
        "included; Python's own modules count for whoever called them. Each share is multiplied by the",
        "time measured without the profiler, to give it against the floor.",
        "",
        "| part | floor share | build, one process share | build, one process / floor |",
        "|---|---|---|---|",
    ]
    for part in named:
        lines.append(f"| {part} | {floor.get(part, 0.0):.2f} | {build.get(part, 0.0):.2f} | {build.get(part, 0.0) * one_process:.2f} |")
    rest_floor = 1 - sum(floor.get(part, 0.0) for part in named)
    rest_build = 1 - sum(build.get(part, 0.0) for part in named)
    lines.append(f"| everything else | {rest_floor:.2f} | {rest_build:.2f} | {rest_build * one_process:.2f} |")
    return lines


def _against_baseline(results: dict[int, Sample], baseline: str) -> list[str]:
    """Each deckgen step of this tree against the same step of the baseline's, run side by side."""
    lines = [
        "",
        f"## Against the baseline ({baseline})",
        "",
        f"This tree's deckgen and the deckgen of `{baseline}`, each step of both run in the same rounds, alternating:",
        "medians, and the peak memory of each step's largest process. Below 1.00, this tree is faster or smaller.",
        "",
        "| cards | step | s | baseline s | / baseline | peak MB | baseline peak MB | / baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cards, s in sorted(results.items()):
        for step in DECKGEN_STEPS:
            ours, theirs = s.median(step), s.median(step + BASELINE)
            peak, base_peak = s.peak_mb[step], s.peak_mb[step + BASELINE]
            lines.append(f"| {cards} | {step} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} | {peak:.0f} | {base_peak:.0f} | {peak / base_peak:.2f} |")
    return lines


def _linear(results: dict[int, Sample]) -> str:
    """Whether a card costs as much time and memory at the largest size as at the smallest."""
    smallest, largest = min(results), max(results)
    per_card = {c: results[c].median("build") / c * 1000 for c in (smallest, largest)}
    memory = {c: results[c].peak_mb["build"] / c * 1000 for c in (smallest, largest)}
    return (
        f"- cost per 1,000 cards: {per_card[smallest]:.2f} s and {memory[smallest]:.1f} MB at {smallest}, "
        f"{per_card[largest]:.2f} s and {memory[largest]:.1f} MB at {largest} "
        f"({per_card[largest] / per_card[smallest]:.2f}x and {memory[largest] / memory[smallest]:.2f}x; "
        "linear is 1.0 or less, allowing for start-up cost at small sizes)"
    )


def cores() -> int:
    """The cores this process may run on, as deckgen counts them for its workers."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1




def _would_meet_build(reference: Sample) -> str:
    """How much less work a build must do to meet its target, from the profile."""
    if not reference.profile:
        return ""
    target, n = TARGETS["build / floor"][0], cores()
    one_process = reference.ratio("build, one process")
    build, floor = reference.profile["build, one process"], reference.profile["floor"]
    parse, render = build.get(PARSE, 0.0) * one_process, build.get(RENDER, 0.0) * one_process
    libraries = sum(share for part, share in build.items() if not part.startswith("deckgen/") and part not in (PARSE, RENDER, "other")) * one_process
    own = one_process - parse - render - libraries
    allowed = target * n
    left = allowed - parse - render - libraries
    need = (
        f"deckgen's own code would have to fall from {own:.2f}x to {left:.2f}x the floor"
        if left > 0
        else "no deckgen code would fit, and only a faster Markdown parser than markdown-it-py would"
    )
    return (
        f"What would meet it: even with every step split evenly across {n} cores, a build may do at most "
        f"{allowed:.2f}x the floor's work in one process. In one process it does {one_process:.2f}x: markdown-it-py "
        f"parsing {parse:.2f}x and rendering {render:.2f}x (the floor's own: {floor.get(PARSE, 0.0):.2f}x and "
        f"{floor.get(RENDER, 0.0):.2f}x), the other libraries {libraries:.2f}x, deckgen's own code and the Python it "
        f"calls {own:.2f}x. A text is parsed once, to be checked and to be rendered, unless it can hold a link: so "
        f"{need}, with every step, the outputs' included, on every core."
    )


def _would_meet_memory(largest: Sample, cards: int) -> str:
    """The least a build that holds one topic at a time would still hold, from the memory by step."""
    peaks, growth = largest.step_peaks["build"], largest.step_growth["build"]
    before = peaks.get("validate", 0.0) - growth.get("validate", 0.0)
    across = growth.get("lint", 0.0) + growth.get("update lock", 0.0)
    limit = PEAK_MB.get(cards, PEAK_MB[50_000])
    held = before + across + largest.one_topic_mb
    return (
        f"What would meet it: a pipeline that holds one topic at a time, from reading its file to writing its "
        f"part of every output, and keeps across topics only what the lint and the lock need. Such a build "
        f"would still hold what this one holds before validating ({before:.0f} MB: Python, deckgen, the lock and "
        f"the cache it read) and about what the lint and the lock's update add ({across:.0f} MB), and a build of "
        f"one topic file alone grows by {largest.one_topic_mb:.0f} MB from validating to its last output: about "
        f"{held:.0f} MB in all, "
        + (
            f"within the target's {limit} MB if the print page's answer key, the one output that still gathers "
            "across topics in memory, goes to disk as each topic is done."
            if held <= limit
            else f"above the target's {limit} MB."
        )
    )


def _would_meet_check(reference: Sample) -> str:
    """What would bring `check` with no build cache within its target, given what reading every file costs."""
    least, target = reference.ratio("least check"), TARGETS["check / floor"][0]
    if least >= target:
        return "What would meet it: no check that reads every file with PyYAML's C loader and markdown-it-py: only a check that reads less, or a faster Markdown parser."
    return (
        f"What would meet it: a check whose rules, lint and translations' checks cost at most {target - least:.2f}x the "
        f"floor on top of reading every file (deckgen's cost {reference.ratio('check') - least:.2f}x), or one that reads "
        "less, or a faster Markdown parser."
    )


def _why(reference: Sample, largest: Sample, largest_cards: int, unmet: set[str]) -> list[str]:
    """For each target not met, what the breakdown by step shows."""
    why = []
    floor = reference.median("floor")
    cold, warm = reference.steps["build"], reference.steps["rebuild"]
    if "build / floor" in unmet:
        checking = sum(cold.get(step, 0.0) for step in CHECKING)
        outputs = sum(cold.get(step, 0.0) for step in OUTPUTS)
        why.append(
            f"- **build / floor**: the floor parses each text once and writes one package. Checking the bank "
            f"({', '.join(CHECKING)}), each topic's notes, printed texts and sheet lines rendered as soon as it is "
            f"checked, takes {checking:.2f} s ({checking / floor:.2f}x the floor), rendering what is left "
            f"{cold.get('render', 0.0):.2f} s ({cold.get('render', 0.0) / floor:.2f}x), bringing the lock up to date from "
            f"every note of both editions {cold.get('update lock', 0.0):.2f} s ({cold.get('update lock', 0.0) / floor:.2f}x), "
            f"and assembling and writing the outputs {outputs:.2f} s ({outputs / floor:.2f}x); starting Python and importing "
            f"deckgen take {reference.median('start-up'):.2f} s more. In one process the build costs "
            f"{reference.ratio('build, one process'):.2f}x the floor. {_would_meet_build(reference)}"
        )
    if "rebuild / floor" in unmet:
        steps = sorted(((seconds, step) for step, seconds in warm.items() if step != "total"), reverse=True)[:4]
        named = ", ".join(f"{step} {seconds:.2f} s" for seconds, step in steps)
        fixed = reference.median("start-up") + warm.get("apkg", 0.0)
        watch = reference.steps[WATCH]
        watch_steps = sorted(((seconds, step) for step, seconds in watch.items() if step != "total"), reverse=True)[:4]
        watch_named = ", ".join(f"{step} {seconds:.2f} s" for seconds, step in watch_steps)
        rest = watch.get("total", 0.0) - watch.get("apkg", 0.0)
        why.append(
            f"- **rebuild / floor**: what changed is read and rendered again, and each unchanged topic's part of the "
            f"sheets and its site page are read back from the last build's files; but the packages are written whole "
            f"(a SQLite database and its zip), the whole bank is linted again, and every cached topic is read back into "
            f"the bank's model; the rebuild's largest steps: {named}. Starting Python and the package step (which writes "
            f"the package whose notes changed) alone take {fixed:.2f} s, {fixed / floor:.2f}x the floor, of the target's "
            f"{TARGETS['rebuild / floor'][0]}x. `deckgen watch` stays running between edits: it pays no start-up, "
            f"decodes again only the topic files that changed, and copies the unchanged parts of the files it checked "
            f"while it waited without reading them; the same rebuild there costs {reference.median(WATCH):.2f} s, "
            f"{reference.ratio(WATCH):.2f}x the floor, and its largest steps are {watch_named}. What would meet it: each "
            f"step of the watch's rebuild made to cost what the edit costs (its own topic's lint, sheets and pages, and the "
            f"package rows it changed). Each still works on the whole bank: together they take {rest:.2f} s without the "
            f"package, {rest / floor:.2f}x the floor on their own. And the package step, which writes the changed "
            f"package's database whole and deflates it, takes {watch.get('apkg', 0.0) / floor:.2f}x by itself, of the "
            f"target's {TARGETS['rebuild / floor'][0]}x."
        )
    if "check / floor" in unmet:
        check_steps = reference.steps["check"]
        least = reference.ratio("least check")
        target = TARGETS["check / floor"][0]
        why.append(
            f"- **check / floor**: check with no build cache reads every file: validate {check_steps.get('validate', 0.0):.2f} s "
            f"(each text parsed as CommonMark and its math checked), lint {check_steps.get('lint', 0.0):.2f} s and the editions "
            f"{check_steps.get('editions', 0.0):.2f} s, plus starting Python ({reference.median('start-up'):.2f} s). "
            f"Only reading every file (bench/least_check.py: each file composed by PyYAML's C loader, each text that may "
            f"hold a link, an image or math parsed once, on every core, and nothing checked) costs {least:.2f}x the floor, "
            f"which leaves {max(target - least, 0.0):.2f}x of the target for every rule, the lint and the translations' "
            f"checks; deckgen's check costs {reference.ratio('check') / least:.1f}x that bound. {_would_meet_check(reference)} "
            "What a contributor who has built once runs instead is `check` with the "
            f"build's cache, which reads only the files changed since: after a one-file edit it costs "
            f"{reference.ratio('check after an edit'):.2f}x the floor."
        )
    if "memory" in unmet:
        peaks, growth = largest.step_peaks["build"], largest.step_growth["build"]
        grown = sorted(((mb, step) for step, mb in growth.items() if step != "total"), reverse=True)[:3]
        named = ", ".join(f"{step} +{mb:.0f} MB" for mb, step in grown)
        why.append(
            f"- **memory**: after validation the build holds {peaks.get('validate', 0.0):.0f} MB, "
            f"{growth.get('validate', 0.0):.0f} MB of it grown while validating (the model of the bank), and the steps "
            f"that add most are {named}: the model of both editions stays in memory until the last output is "
            f"written (the notes are read from the cache a topic at a time, for the lock and for each package). "
            f"{_would_meet_memory(largest, largest_cards)}"
        )
    return why


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--baseline", metavar="COMMIT", help="also time the deckgen of this commit, side by side, and compare")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="deckgen-bench-") as tmp:
        baseline = baseline_tree(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        for cards in args.sizes:
            work = Path(tmp) / str(cards)
            work.mkdir()
            results[cards] = measure(cards, args.rounds, work, baseline, profile=cards == reference_size(args.sizes))
            print(f"measured {cards} cards", file=sys.stderr)
    text = report(results, args.rounds, args.baseline)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
