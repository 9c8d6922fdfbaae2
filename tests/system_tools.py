"""The tools outside Python that some tests run, found in one place for every test.

A test asks for a tool and gets its path. When a system tool (Chromium, poppler, the CJK
fonts) is missing, the test is skipped with a message that names it and the script that
installs it; in CI (`CI=true`, as GitHub Actions sets it), where every test must run, it fails
with that message instead. A tool that the test extras install (zizmor, shellcheck) always
fails the test when it is missing: the README's test command installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deckgen.pdf import find_browser

INSTALL = "bash scripts/install-system-packages.sh"


def in_ci() -> bool:
    """Whether this runs in CI, where a missing tool fails a test rather than skipping it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def required(what: str, found: str | None) -> str:
    """`found`; when it is None, skip the test (in CI, fail it), saying that `what` is missing and how to install it."""
    if found is not None:
        return found
    message = f"{what} is not installed: run {INSTALL}, which installs it or says how"
    if in_ci():
        pytest.fail(f"{message} (CI=true: in CI no test is skipped)", pytrace=False)
    pytest.skip(message)


def chromium() -> str:
    """The browser that deckgen prints with, and that the reviewer tests drive."""
    return required("Chromium (or Google Chrome, or the browser DECKGEN_CHROMIUM names)", find_browser())


def chromedriver() -> str:
    """ChromeDriver, of the same version as the Chromium it drives (Debian: chromium-driver), for
    the tests that drive a browser through Selenium."""
    return required("ChromeDriver", shutil.which("chromedriver"))


def poppler(tool: str) -> str:
    """One of poppler's command-line tools, such as `pdftotext`."""
    return required(f"poppler's {tool}", shutil.which(tool))


def cjk_fonts() -> None:
    """Return if the Noto Sans CJK fonts are installed, which the printed sheets' Chinese titles need.
    Without fontconfig (macOS), the system's own CJK fonts serve, and nothing is checked."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return
    fonts = subprocess.run([fc_list], capture_output=True, text=True, check=False).stdout
    required("the Noto Sans CJK fonts", fc_list if "Noto Sans CJK" in fonts else None)


def math_fonts() -> None:
    """Return if Latin Modern Math is installed, the first math font the print CSS names.
    Without fontconfig (macOS), nothing is checked."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return
    fonts = subprocess.run([fc_list], capture_output=True, text=True, check=False).stdout
    required("the Latin Modern Math font (scripts/install-system-packages.sh)", fc_list if "Latin Modern Math" in fonts else None)


def extra(name: str, package: str) -> str:
    """A command that a test extra in pyproject.toml installs (`package` pins it): next to this
    Python, else on PATH. Its absence fails the test, since `pip install -e '.[test]'` installs it."""
    beside = Path(sys.executable).parent / (f"{name}.exe" if sys.platform == "win32" else name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' (it pins {package})")
    return found


def axe_core() -> Path:
    """axe-core's browser script, which the README's test command installs with `npm ci`."""
    from tests.conftest import ROOT

    script = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    return Path(required("axe-core (npm ci, from package-lock.json)", str(script) if script.is_file() else None))
