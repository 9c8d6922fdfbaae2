"""Every lint test writes its bank to q/ in an empty folder, so messages name q/... paths."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def root(in_tmp: Path) -> Path:
    """Where the test's bank goes."""
    return Path("q")
