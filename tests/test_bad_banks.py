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


def test_every_case_has_a_golden() -> None:
    assert len(CASES) >= 30
    assert all((case / "expected.txt").is_file() for case in CASES)
