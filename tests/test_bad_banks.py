"""One folder per bad input under tests/fixtures/bad: `deckgen check` gives exactly `expected.txt`.

Each case is the good bank of tests/bankfiles.py with the case's files laid over it
(a file named DELETE lists files to remove). `expected.txt` holds the exit status and
the exact diagnostics. After a deliberate change to a message, regenerate with
`DECKGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_bad_banks.py` and read the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from deckgen import parallel
from deckgen.cli import main
from tests.bankfiles import lay_over, write_bank
from tests.conftest import FIXTURES, check_golden

CASES = sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_bank_gives_exactly_the_expected_diagnostics(case: Path, in_tmp: Path) -> None:
    bank = write_bank(Path("questions"))
    lay_over(case, bank)
    result = CliRunner().invoke(main, ["check", "--strict"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    actual = f"exit {result.exit_code}\n{result.stderr}"
    check_golden(case / "expected.txt", actual)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_build_of_a_bad_bank_reports_the_same_problems_and_writes_nothing(case: Path, jobs: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A build renders each topic as soon as it has checked it, in its own process or in a
    # worker that sees that one file: a bad file elsewhere (the sources a topic cites, say)
    # must still end in the check's diagnostics, not in a traceback.
    monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
    monkeypatch.setattr(parallel, "MIN_BANK_BYTES", 1)
    bank = write_bank(Path("questions"))
    lay_over(case, bank)
    lock = (bank / "deck.lock").read_bytes() if (bank / "deck.lock").exists() else None
    result = CliRunner().invoke(main, ["build", "--strict"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    expected = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    diagnostics, summary = expected[1:-1], expected[-1]
    assert result.stderr.splitlines() == [*diagnostics, f"build failed: {summary}; nothing was written"]
    assert result.exit_code == 1
    assert not Path("build").exists()
    assert ((bank / "deck.lock").read_bytes() if (bank / "deck.lock").exists() else None) == lock


def test_every_case_has_a_golden() -> None:
    assert len(CASES) >= 30
    assert all((case / "expected.txt").is_file() for case in CASES)
