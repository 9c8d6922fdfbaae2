"""deckgen: compile YAML question banks into an Anki deck and printable review sheets."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # `__version__` is looked up when asked for: importlib.metadata costs a noticeable part
    # of every command's start-up, and only --version and the build cache need it.
    if name != "__version__":
        raise AttributeError(f"module 'deckgen' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deckgen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"
