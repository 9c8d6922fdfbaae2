"""PDFs of the printable sheets, printed by headless Chromium (which renders MathML natively)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from deckgen.model import DeckgenError, Diagnostic, Location, Severity

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = (
    "install Chromium and CJK fonts (Debian/Ubuntu: sudo apt-get install chromium fonts-noto-cjk; "
    "macOS: brew install --cask chromium), or set DECKGEN_CHROMIUM to the browser's path"
)
TIMEOUT_SECONDS = 180


def _error(where: str, message: str) -> DeckgenError:
    return DeckgenError([Diagnostic(Location(where), Severity.ERROR, message, "pdf")])


def find_browser() -> str | None:
    """The Chromium to print with: $DECKGEN_CHROMIUM, else the first on PATH."""
    import os

    configured = os.environ.get("DECKGEN_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_to_pdf(html: Path, pdf: Path) -> None:
    """Print `html` to `pdf` with a fresh browser profile and no network chatter; atomic."""
    browser = find_browser()
    if browser is None:
        raise _error(pdf.as_posix(), f"no Chromium found to print the PDF: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="deckgen-chromium-") as profile:
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            html.resolve().as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=True)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise _error(pdf.as_posix(), "Chromium wrote no PDF")
            tmp.replace(pdf)
        except subprocess.TimeoutExpired as err:
            raise _error(pdf.as_posix(), f"Chromium did not finish within {TIMEOUT_SECONDS} s") from err
        except (OSError, subprocess.CalledProcessError) as err:
            detail = getattr(err, "stderr", b"") or b""
            text = detail.decode(errors="replace").strip().splitlines()[-1:] if isinstance(detail, bytes) else []
            raise _error(pdf.as_posix(), f"Chromium failed to print: {text[0] if text else err}") from err
        finally:
            tmp.unlink(missing_ok=True)
