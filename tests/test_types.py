"""deckgen's own code type-checks under `mypy --strict` (settings in pyproject.toml)."""

from __future__ import annotations

import os

from mypy import api

from tests.conftest import ROOT


def test_mypy_strict_passes() -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        stdout, stderr, status = api.run(["--no-incremental"])
    finally:
        os.chdir(cwd)
    assert status == 0, stdout + stderr
    assert stdout.startswith("Success: no issues found")
