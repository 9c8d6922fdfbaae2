"""Giving the memory that a build's step freed back to the system, before the next step.

CPython hands each object of more than 512 bytes (a long text, a list's items, a large
dictionary's table) to the C library's `malloc`. On Linux, glibc keeps what is freed for later
use, and gives memory back to the system only from the top of its heap, so a step's transients
freed in the middle of the heap stay resident: at 50,000 cards, once the editions were read,
65 MB of the heap was free and resident at every later step's peak (bench/REPORT.md, "a
build of 50,000 cards in 300 MB"). `malloc_trim` gives back every free page. Elsewhere (or
with another C library) nothing is done, and a build holds what it held before.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library that this Python runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def return_freed_memory() -> bool:
    """Give the memory freed so far back to the system where the C library can (glibc), and say
    whether it could. A few milliseconds: a build calls it once a step, never once a question."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
